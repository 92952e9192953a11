// GraphiQL for lifegraph's developers: one tab per operation of the client contract (from
// /graphiql/operations.json), a sign-in bar that puts "Authorization: Bearer …" on every
// request and renews the session with RefreshSession before the access token expires,
// and subscriptions over graphql-transport-ws. The session is the dashboard's (session.js),
// so one sign-in serves both pages in a browser tab.
"use strict";

(() => {
  const TABS_PREFIX = "lifegraph.graphiql:";
  const { SessionEnded, SESSION_ENDED } = LifegraphSession;

  const byId = (id) => document.getElementById(id);

  let documents = {}; // the contract's documents, by operation name
  const session = LifegraphSession.create({
    refreshSession: (refreshToken) => graphql("RefreshSession", { refreshToken }),
    renewDue: () => session.refresh().then(showSession, renewFailed),
  });

  // ---- GraphQL over HTTP, for the sign-in bar --------------------------------------

  async function graphql(operationName, variables) {
    const response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ query: documents[operationName], operationName, variables }),
      credentials: "omit",
      cache: "no-store",
    });
    const type = response.headers.get("Content-Type") || "";
    if (!type.includes("json")) throw new Error(`The server answered ${response.status}.`);
    return response.json();
  }

  // Register or Login; the payload's field is the operation's name in lower case.
  async function authenticate(operationName, input) {
    const button = byId(operationName === "Login" ? "sign-in-button" : "register-button");
    button.disabled = true;
    setError("");
    try {
      const result = await graphql(operationName, { input });
      const payload = result.data && result.data[operationName.toLowerCase()];
      if (!payload) {
        throw new Error((result.errors && result.errors[0].message) || "No answer.");
      }
      if (payload.userErrors.length > 0) {
        setError(payload.userErrors.map((error) => error.message).join(" "));
        return;
      }
      session.begin(payload.session);
      showSession();
      byId("sign-in-form").reset();
    } catch (error) {
      setError(`Could not sign in: ${error.message}`);
    } finally {
      button.disabled = false;
    }
  }

  function credentials() {
    return { email: byId("email").value.trim(), password: byId("password").value };
  }

  function signIn(event) {
    event.preventDefault();
    authenticate("Login", credentials());
  }

  function register() {
    const form = byId("sign-in-form");
    if (!form.reportValidity()) return;
    const input = credentials();
    authenticate("Register", { ...input, displayName: input.email.split("@")[0] });
  }

  function signOut(message) {
    session.end();
    showSession();
    setError(message);
  }

  function signOutByHand() {
    const refreshToken = session.refreshToken;
    signOut("");
    if (refreshToken) graphql("Logout", { refreshToken }).catch(() => {});
  }

  // ---- Session renewal -------------------------------------------------------------

  function renewFailed(error) {
    if (error instanceof SessionEnded) signOut(SESSION_ENDED);
    else setError(`Could not renew the session: ${error.message}`);
  }

  // The token for the next request: renewed first if it is due. Null when signed out.
  async function accessToken() {
    if (session.due) await session.refresh().then(showSession, renewFailed);
    return session.current && session.current.accessToken;
  }

  // ---- GraphiQL --------------------------------------------------------------------

  // Every request from GraphiQL, introspection included, carries the session's token,
  // unless the tab's own Headers set an Authorization of their own.
  async function authorisedFetch(input, init = {}) {
    const headers = new Headers(init.headers);
    if (!headers.has("Authorization")) {
      const token = await accessToken();
      if (token) headers.set("Authorization", `Bearer ${token}`);
    }
    return fetch(input, { ...init, headers, credentials: "omit" });
  }

  function webSocketClient() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return graphqlWs.createClient({
      url: `${scheme}//${location.host}/graphql`,
      lazy: true,
      // Asked on every (re)connection, so a renewed token is the one sent.
      connectionParams: async () => {
        const token = await accessToken();
        return token ? { Authorization: `Bearer ${token}` } : {};
      },
    });
  }

  // GraphiQL keeps its tabs for this browser tab only: a new one opens on the contract's.
  const tabStorage = {
    getItem: (key) => sessionStorage.getItem(TABS_PREFIX + key),
    setItem: (key, value) => sessionStorage.setItem(TABS_PREFIX + key, value),
    removeItem: (key) => sessionStorage.removeItem(TABS_PREFIX + key),
    clear: () => {
      for (const key of Object.keys(sessionStorage)) {
        if (key.startsWith(TABS_PREFIX)) sessionStorage.removeItem(key);
      }
    },
    get length() {
      return Object.keys(sessionStorage).filter((key) => key.startsWith(TABS_PREFIX)).length;
    },
  };

  function render(tabs) {
    const fetcher = GraphiQL.createFetcher({
      url: "/graphql",
      fetch: authorisedFetch,
      wsClient: webSocketClient(),
    });
    const defaultTabs = tabs.map((tab) => ({
      query: tab.query,
      variables: Object.keys(tab.variables).length ? JSON.stringify(tab.variables, null, 2) : "",
    }));
    const container = byId("graphiql");
    container.textContent = "";
    ReactDOM.createRoot(container).render(
      React.createElement(GraphiQL, {
        fetcher,
        defaultTabs,
        storage: tabStorage,
        shouldPersistHeaders: false,
        defaultEditorToolsVisibility: "variables",
      }),
    );
    container.dataset.state = "ready";
  }

  // ---- The sign-in bar -------------------------------------------------------------

  function showSession() {
    const signedIn = session.current;
    byId("sign-in-form").hidden = Boolean(signedIn);
    byId("account").hidden = !signedIn;
    byId("account-name").textContent = signedIn ? signedIn.user.email : "";
    document.body.dataset.session = signedIn ? "signed-in" : "signed-out";
  }

  function setError(message) {
    byId("sign-in-error").textContent = message;
  }

  async function start() {
    byId("sign-in-form").addEventListener("submit", signIn);
    byId("register-button").addEventListener("click", register);
    byId("sign-out").addEventListener("click", signOutByHand);
    const response = await fetch("/graphiql/operations.json", { credentials: "omit" });
    const { tabs } = await response.json();
    documents = Object.fromEntries(tabs.map((tab) => [tab.name, tab.query]));
    render(tabs);
    showSession();
    if (!documents.Login) {
      // The contract's documents come from a checkout of the repository.
      byId("sign-in-form").hidden = true;
      setError("Sign-in needs the client contract (contract/operations/), which this server lacks.");
      return;
    }
    if (session.refreshToken) {
      // A reload resumes the session; the server being away leaves the token for later.
      session.refresh().then(showSession, renewFailed);
    }
  }

  start().catch((error) => {
    byId("graphiql").textContent = `GraphiQL could not start: ${error.message}`;
    byId("graphiql").dataset.state = "failed";
  });
})();
