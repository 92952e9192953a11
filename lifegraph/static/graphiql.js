// GraphiQL for lifegraph's developers: one tab per operation of the client contract (from
// /graphiql/operations.json), a sign-in bar that puts "Authorization: Bearer …" on every
// request and renews the session with RefreshSession before the access token expires,
// and subscriptions over graphql-transport-ws. The session is handled as the dashboard
// does (dashboard.js): the access token in memory only, the refresh token in the tab's
// sessionStorage, and never more than one refresh in flight.
"use strict";

(() => {
  const REFRESH_KEY = "lifegraph.refreshToken"; // the dashboard's, so one sign-in serves both
  const TABS_PREFIX = "lifegraph.graphiql:";
  // Renew this long before the access token expires, or a third of its lifetime if shorter.
  const RENEW_MARGIN_MS = 60000;
  const SESSION_ENDED = "Your session has ended. Please sign in again.";

  const byId = (id) => document.getElementById(id);

  let documents = {}; // the contract's documents, by operation name
  let session = null; // { accessToken, user, renewAt }
  let refreshing = null;
  let renewTimer = null;

  class SessionEnded extends Error {}

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
      begin(payload.session);
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
    session = null;
    sessionStorage.removeItem(REFRESH_KEY);
    clearTimeout(renewTimer);
    showSession();
    setError(message);
  }

  function signOutByHand() {
    const refreshToken = sessionStorage.getItem(REFRESH_KEY);
    signOut("");
    if (refreshToken) graphql("Logout", { refreshToken }).catch(() => {});
  }

  // ---- Session renewal -------------------------------------------------------------

  function begin(signedIn) {
    // Stored at once: the refresh token just presented is spent, this one is the only one.
    sessionStorage.setItem(REFRESH_KEY, signedIn.refreshToken);
    // The lifetime (exp - iat) counts from now, so a browser clock that is off does no harm.
    const base64 = signedIn.accessToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(base64));
    const lifetime = (claims.exp - claims.iat) * 1000;
    const renewIn = lifetime - Math.min(RENEW_MARGIN_MS, lifetime / 3);
    session = { accessToken: signedIn.accessToken, user: signedIn.user, renewAt: Date.now() + renewIn };
    clearTimeout(renewTimer);
    renewTimer = setTimeout(() => refresh().catch(renewFailed), renewIn);
    showSession();
  }

  // A refresh token works once, and presenting it again ends the whole session: so there
  // is never more than one refresh in flight, and everyone who needs one shares it.
  function refresh() {
    refreshing ||= renew().finally(() => {
      refreshing = null;
    });
    return refreshing;
  }

  async function renew() {
    const refreshToken = sessionStorage.getItem(REFRESH_KEY);
    if (!refreshToken) throw new SessionEnded(SESSION_ENDED);
    const result = await graphql("RefreshSession", { refreshToken });
    const payload = result.data && result.data.refreshSession;
    if (!payload) {
      throw new Error((result.errors && result.errors[0].message) || "No answer to the refresh.");
    }
    if (sessionStorage.getItem(REFRESH_KEY) !== refreshToken) return; // signed out meanwhile
    if (payload.userErrors.length > 0) throw new SessionEnded(payload.userErrors[0].message);
    begin(payload.session);
  }

  function renewFailed(error) {
    if (error instanceof SessionEnded) signOut(SESSION_ENDED);
    else setError(`Could not renew the session: ${error.message}`);
  }

  // The token for the next request: renewed first if it is due. Null when signed out.
  async function accessToken() {
    if (session && Date.now() >= session.renewAt) await refresh().catch(renewFailed);
    return session && session.accessToken;
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
    byId("sign-in-form").hidden = Boolean(session);
    byId("account").hidden = !session;
    byId("account-name").textContent = session ? session.user.email : "";
    document.body.dataset.session = session ? "signed-in" : "signed-out";
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
    if (sessionStorage.getItem(REFRESH_KEY)) {
      // A reload resumes the session; the server being away leaves the token for later.
      refresh().catch(renewFailed);
    }
  }

  start().catch((error) => {
    byId("graphiql").textContent = `GraphiQL could not start: ${error.message}`;
    byId("graphiql").dataset.state = "failed";
  });
})();
