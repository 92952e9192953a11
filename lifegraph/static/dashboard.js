// The live dashboard: signs in with the contract's Login mutation, then follows
// DashboardUpdates over graphql-transport-ws, renewing the session with RefreshSession
// before the access token expires (session.js). No framework and no build step. Data only
// ever reaches the page through textContent and attributes, never as HTML.
"use strict";

(() => {
  // The documents below are copied from contract/operations/ (auth.graphql,
  // dashboard.graphql, money.graphql and planning.graphql); tests/test_dashboard_page.py
  // checks that they still match.
  const LOGIN = `
mutation Login($input: LoginInput!) {
  login(input: $input) { session { ...SessionFields } userErrors { field message code } }
}

fragment SessionFields on AuthSession {
  accessToken
  refreshToken
  accessTokenExpiresAt
  user { id email displayName roles { name } }
}`;

  const REFRESH_SESSION = `
mutation RefreshSession($refreshToken: String!) {
  refreshSession(refreshToken: $refreshToken) { session { ...SessionFields } userErrors { field message code } }
}

fragment SessionFields on AuthSession {
  accessToken
  refreshToken
  accessTokenExpiresAt
  user { id email displayName roles { name } }
}`;

  const LOGOUT = `
mutation Logout($refreshToken: String!) {
  logout(refreshToken: $refreshToken) { ok }
}`;

  const DASHBOARD_UPDATES = `
subscription DashboardUpdates {
  dashboardUpdated { ...DashboardFields }
}

fragment DashboardFields on Dashboard {
  spendingThisMonth { total currency count }
  openTasks
  overdueTasks
  dueToday
  habitsDoneToday
  habitsActive
  notesCount
  receiptsPending
  recentPurchases(limit: 5) { id merchant amount currency purchasedAt }
}`;

  const DASHBOARD_BUDGETS = `
query DashboardBudgets {
  dashboard {
    spendingThisMonth { total currency count }
    spendingByCurrency { currency total count }
    budgets { category amount spent remaining currency }
  }
}`;

  const PROJECTS = `
query Projects($includeArchived: Boolean) {
  projects(includeArchived: $includeArchived) { ...ProjectFields }
}

fragment ProjectFields on Project { id name color archived position openTasks createdAt updatedAt version }`;

  const PROTOCOL = "graphql-transport-ws";
  const SUBSCRIPTION_ID = "dashboard";
  const UNAUTHORIZED = 4401;
  const ACK_TIMEOUT_MS = 10000;
  const FIRST_RETRY_MS = 500;
  const LONGEST_RETRY_MS = 30000;
  const { SessionEnded, SESSION_ENDED } = LifegraphSession;
  const COUNTS = [
    "openTasks",
    "overdueTasks",
    "dueToday",
    "habitsDoneToday",
    "habitsActive",
    "notesCount",
    "receiptsPending",
  ];
  const LISTS = ["recentPurchases", "spendingByCurrency", "budgets", "projects"];
  const DATE = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
  const TIME = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });

  const byId = (id) => document.getElementById(id);
  const figure = (name) => document.querySelector(`[data-figure="${name}"]`);

  // A renewal that falls due opens a new socket, signed in with the new token.
  const session = LifegraphSession.create({
    refreshSession: (refreshToken) => graphql(REFRESH_SESSION, "RefreshSession", { refreshToken }),
    renewDue: () => connect(true),
  });
  let refreshedForAuth = false;
  let socket = null;
  let failures = 0;
  let retryTimer = null;
  let ackTimer = null;
  let listsAsked = 0;

  // ---- GraphQL over HTTP ----------------------------------------------------------

  async function graphql(query, operationName, variables, accessToken) {
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
    const response = await fetch("/graphql", {
      method: "POST",
      headers,
      body: JSON.stringify({ query, operationName, variables }),
      credentials: "omit",
      cache: "no-store",
    });
    const type = response.headers.get("Content-Type") || "";
    if (!type.includes("json")) {
      throw new Error(`The server answered ${response.status}.`);
    }
    return response.json();
  }

  async function signIn(event) {
    event.preventDefault();
    const button = byId("sign-in-button");
    button.disabled = true;
    setSignInError("");
    try {
      const result = await graphql(LOGIN, "Login", {
        input: { email: byId("email").value.trim(), password: byId("password").value },
      });
      const payload = result.data && result.data.login;
      if (!payload) {
        throw new Error((result.errors && result.errors[0].message) || "Sign-in failed.");
      }
      if (payload.userErrors.length > 0) {
        setSignInError(payload.userErrors.map((error) => error.message).join(" "));
        return;
      }
      session.begin(payload.session);
      byId("sign-in-form").reset();
      showDashboard();
      connect();
    } catch (error) {
      setSignInError(`Could not sign in: ${error.message}`);
    } finally {
      button.disabled = false;
    }
  }

  function signOut(message) {
    session.end();
    clearTimeout(retryTimer);
    clearTimeout(ackTimer);
    drop("Signed out");
    resetFigures();
    showSignIn(message);
  }

  function signOutByHand() {
    const refreshToken = session.refreshToken;
    signOut("");
    if (refreshToken) {
      // Ends the session on the server too; the page is signed out either way.
      graphql(LOGOUT, "Logout", { refreshToken }).catch(() => {});
    }
  }

  // ---- Session renewal -------------------------------------------------------------

  // The server refused the token (4401, or UNAUTHENTICATED): one refresh may fix it; if the
  // new token is refused too before any data came, the session is over.
  function unauthorized() {
    if (refreshedForAuth) {
      signOut(SESSION_ENDED);
      return;
    }
    refreshedForAuth = true;
    connect(true);
  }

  function resume() {
    setConnection("connecting", "Resuming the session…");
    session.refresh().then(
      () => {
        if (!session.current) return;
        showDashboard();
        connect();
      },
      (error) => {
        if (error instanceof SessionEnded) signOut(SESSION_ENDED);
        // The server could not be reached: the refresh token stays for the next reload.
        else showSignIn(`Could not resume the session: ${error.message}`);
      },
    );
  }

  // ---- graphql-transport-ws --------------------------------------------------------

  // Opens a new socket, after renewing the session first if it is due (or `renew`).
  async function connect(renew = session.due) {
    clearTimeout(retryTimer);
    if (renew) {
      setConnection("connecting", "Renewing the session…");
      try {
        await session.refresh();
      } catch (error) {
        if (error instanceof SessionEnded) signOut(SESSION_ENDED);
        else if (session.current) retryLater("Could not renew the session");
        return;
      }
      if (!session.current) return;
      clearTimeout(retryTimer);
    }
    drop("Reconnecting");
    clearTimeout(ackTimer);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/graphql`, PROTOCOL);
    socket = ws;
    setConnection("connecting", "Connecting…");
    ackTimer = setTimeout(() => ws.close(4408, "No connection_ack"), ACK_TIMEOUT_MS);
    ws.addEventListener("open", () => {
      if (ws !== socket) return;
      send(ws, {
        type: "connection_init",
        payload: { Authorization: `Bearer ${session.current.accessToken}` },
      });
    });
    ws.addEventListener("message", (event) => {
      if (ws === socket) receive(ws, event.data);
    });
    ws.addEventListener("close", (event) => {
      if (ws === socket) closed(event);
    });
  }

  function drop(reason) {
    if (!socket) return;
    const closing = socket;
    socket = null;
    closing.close(1000, reason);
  }

  function send(ws, message) {
    ws.send(JSON.stringify(message));
  }

  function receive(ws, data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      ws.close(4400, "Invalid message");
      return;
    }
    switch (message.type) {
      case "connection_ack":
        clearTimeout(ackTimer);
        setConnection("live", "Live");
        send(ws, {
          id: SUBSCRIPTION_ID,
          type: "subscribe",
          payload: { query: DASHBOARD_UPDATES, operationName: "DashboardUpdates", variables: {} },
        });
        break;
      case "ping":
        send(ws, { type: "pong" });
        break;
      case "next": {
        const { data: result, errors } = message.payload || {};
        if (errors && errors.length > 0) {
          failed(ws, errors);
        } else if (result && result.dashboardUpdated) {
          failures = 0;
          refreshedForAuth = false;
          render(result.dashboardUpdated);
          loadLists();
        }
        break;
      }
      case "error":
        failed(ws, message.payload || []);
        break;
      case "complete":
        // The server ended the subscription: start again on a fresh connection.
        ws.close(1000, "Subscription completed");
        break;
      default:
        break;
    }
  }

  function failed(ws, errors) {
    const codes = errors.map((error) => error.extensions && error.extensions.code);
    if (codes.includes("UNAUTHENTICATED")) {
      unauthorized();
    } else {
      ws.close(4500, "Subscription failed");
    }
  }

  function closed(event) {
    clearTimeout(ackTimer);
    socket = null;
    if (!session.current) return;
    if (event.code === UNAUTHORIZED) {
      unauthorized();
      return;
    }
    retryLater(`Closed (code ${event.code})`);
  }

  function retryLater(why) {
    // Exponential backoff with jitter, so that many pages do not return all at once.
    const ceiling = Math.min(LONGEST_RETRY_MS, FIRST_RETRY_MS * 2 ** failures);
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    failures += 1;
    const seconds = Math.max(1, Math.round(delay / 1000));
    setConnection("closed", `${why}, reconnecting in ${seconds} s`);
    retryTimer = setTimeout(connect, delay);
  }

  // ---- Rendering -------------------------------------------------------------------

  function setConnection(state, text) {
    byId("connection").dataset.state = state;
    byId("connection-text").textContent = text;
  }

  function setFigure(name, value) {
    figure(name).textContent = String(value);
  }

  function render(board) {
    const spending = board.spendingThisMonth;
    setFigure("spendingTotal", spending.total);
    setFigure("spendingCurrency", spending.currency);
    setFigure("spendingCount", spending.count);
    byId("spending-count-unit").textContent = spending.count === 1 ? "purchase" : "purchases";
    for (const name of COUNTS) setFigure(name, board[name]);
    byId("overdue").classList.toggle("alert", board.overdueTasks > 0);
    const progress = byId("habits-progress");
    progress.max = Math.max(1, board.habitsActive);
    progress.value = board.habitsDoneToday;
    renderPurchases(board.recentPurchases);
    const now = new Date();
    const updated = byId("updated-at");
    updated.dateTime = now.toISOString();
    updated.textContent = TIME.format(now);
    byId("cards").setAttribute("aria-busy", "false");
  }

  // Spending in every currency, the budgets and the projects (with their open tasks), read
  // over HTTP after each update of the live figures; an answer older than one already
  // asked for is dropped.
  async function loadLists() {
    if (!session.current) return;
    listsAsked += 1;
    const asked = listsAsked;
    const { accessToken } = session.current;
    let results;
    try {
      results = await Promise.all([
        graphql(DASHBOARD_BUDGETS, "DashboardBudgets", {}, accessToken),
        graphql(PROJECTS, "Projects", { includeArchived: false }, accessToken),
      ]);
    } catch {
      return; // The next update asks again.
    }
    if (asked !== listsAsked || !session.current) return;
    const [money, planning] = results;
    const board = money.data && money.data.dashboard;
    if (board) renderMoney(board);
    const projects = planning.data && planning.data.projects;
    if (projects) renderProjects(projects);
  }

  function renderMoney(board) {
    const currencies = board.spendingByCurrency.map((spent) => {
      const item = document.createElement("li");
      item.dataset.currency = spent.currency;
      const count = `${spent.count} ${spent.count === 1 ? "purchase" : "purchases"}`;
      item.textContent = `${spent.total} ${spent.currency} · ${count}`;
      return item;
    });
    figure("spendingByCurrency").replaceChildren(...currencies);
    byId("no-currencies").hidden = currencies.length > 0;
    const rows = board.budgets.map((budget) => {
      const row = document.createElement("tr");
      row.dataset.category = budget.category;
      row.dataset.currency = budget.currency;
      const remaining = cell("remaining", `${budget.remaining} ${budget.currency}`);
      remaining.classList.toggle("over", budget.remaining.startsWith("-"));
      row.append(
        cell("category", budget.category),
        cell("spent", `${budget.spent} ${budget.currency}`),
        cell("amount", `${budget.amount} ${budget.currency}`),
        remaining,
      );
      return row;
    });
    figure("budgets").replaceChildren(...rows);
    byId("budgets-table").hidden = rows.length === 0;
    byId("no-budgets").hidden = rows.length > 0;
  }

  function renderProjects(projects) {
    const items = projects.map((project) => {
      const item = document.createElement("li");
      item.dataset.id = project.id;
      const name = document.createElement("span");
      name.dataset.field = "name";
      name.textContent = project.name;
      const open = document.createElement("span");
      open.dataset.field = "openTasks";
      open.className = "count";
      open.textContent = `${project.openTasks} open ${project.openTasks === 1 ? "task" : "tasks"}`;
      item.append(name, open);
      return item;
    });
    figure("projects").replaceChildren(...items);
    byId("no-projects").hidden = items.length > 0;
  }

  function renderPurchases(purchases) {
    const rows = purchases.map((purchase) => {
      const row = document.createElement("tr");
      row.dataset.id = purchase.id;
      const when = document.createElement("time");
      when.dateTime = purchase.purchasedAt;
      when.textContent = DATE.format(new Date(purchase.purchasedAt));
      row.append(
        cell("merchant", purchase.merchant),
        cell("amount", `${purchase.amount} ${purchase.currency}`),
        cell("purchasedAt", when),
      );
      return row;
    });
    figure("recentPurchases").replaceChildren(...rows);
    byId("purchases-table").hidden = rows.length === 0;
    byId("no-purchases").hidden = rows.length > 0;
  }

  function cell(field, content) {
    const td = document.createElement("td");
    td.dataset.field = field;
    if (["amount", "spent", "remaining"].includes(field)) td.className = "amount";
    if (typeof content === "string") td.textContent = content;
    else td.append(content);
    return td;
  }

  function resetFigures() {
    for (const element of document.querySelectorAll("[data-figure]")) {
      if (!LISTS.includes(element.dataset.figure)) element.textContent = "–";
    }
    for (const name of LISTS) figure(name).replaceChildren();
    listsAsked += 1;
    byId("updated-at").textContent = "not yet";
    byId("cards").setAttribute("aria-busy", "true");
  }

  function showDashboard() {
    byId("sign-in").hidden = true;
    byId("dashboard").hidden = false;
    byId("account").hidden = false;
    const { user } = session.current;
    byId("account-name").textContent = user.displayName || user.email;
  }

  function showSignIn(message) {
    setConnection("signed-out", "Signed out");
    byId("dashboard").hidden = true;
    byId("account").hidden = true;
    byId("sign-in").hidden = false;
    setSignInError(message);
    byId("email").focus();
  }

  function setSignInError(message) {
    byId("sign-in-error").textContent = message;
  }

  byId("sign-in-form").addEventListener("submit", signIn);
  byId("sign-out").addEventListener("click", signOutByHand);
  window.addEventListener("online", () => {
    if (session.current && !socket) connect();
  });
  if (session.refreshToken) resume();
  else showSignIn("");
})();
