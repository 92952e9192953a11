"""The live dashboard page at /dashboard: served with a strict policy, and live in a real
headless Chromium against a real server on loopback."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import httpx
import jwt
import pytest
from client_contract import Contract
from conftest import MEMBER_PASSWORD, Api
from devtools import Page, chromium, find_chromium
from graphql import parse, print_ast

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium binary found: apt-get install chromium (or set CHROMIUM to one)",
)
SCRIPT = "/dashboard/static/dashboard.js"
SESSION_SCRIPT = "/dashboard/static/session.js"  # shared with GraphiQL
STYLESHEET = "/dashboard/static/dashboard.css"
# Rendered as text, this must come back exactly and never become markup.
PLACEHOLDER = "\N{EN DASH}"  # what a figure shows before any data
MERCHANT = "<img src=x onerror=\"document.title='owned'\"> Café & Co"
REFRESH_TOKEN = "sessionStorage.getItem('lifegraph.refreshToken')"


class Markup(HTMLParser):
    """What a page loads, and anything inline that a strict policy would block."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.stylesheets: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.inline += [f"{tag} {name}" for name in values if name.startswith("on")]
        if "style" in values or tag == "style":
            self.inline.append(f"{tag} style")
        if tag == "script":
            self.scripts.append(values.get("src") or "")
        if tag == "link" and values.get("rel") == "stylesheet":
            self.stylesheets.append(values.get("href") or "")


def definitions(document: str) -> list[str]:
    return sorted(print_ast(definition) for definition in parse(document).definitions)


async def test_the_page_and_its_files_are_served_with_a_strict_policy(
    api: Api, contract: Contract
) -> None:
    page = await api.client.get("/dashboard")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "connect-src 'self' ws: wss:" in policy
    assert "unsafe" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"

    markup = Markup()
    markup.feed(page.text)
    assert markup.scripts == [SESSION_SCRIPT, SCRIPT]
    assert markup.stylesheets == [STYLESHEET]
    assert markup.inline == []
    assert "<script>" not in page.text

    assets = ((SESSION_SCRIPT, "text/javascript"), (SCRIPT, "text/javascript"))
    for path, media_type in (*assets, (STYLESHEET, "text/css")):
        asset = await api.client.get(path)
        assert asset.status_code == 200, path
        assert asset.headers["content-type"] == f"{media_type}; charset=utf-8"
        assert asset.headers["x-content-type-options"] == "nosniff"
        assert asset.text.strip()

    for path in (SESSION_SCRIPT, SCRIPT):
        code = (await api.client.get(path)).text
        assert "innerHTML" not in code, path
        assert "localStorage" not in code, path
    script = (await api.client.get(SCRIPT)).text
    # The page's documents are the contract's own.
    for name, constant in (
        ("Login", "LOGIN"),
        ("RefreshSession", "REFRESH_SESSION"),
        ("Logout", "LOGOUT"),
        ("DashboardUpdates", "DASHBOARD_UPDATES"),
        ("DashboardBudgets", "DASHBOARD_BUDGETS"),
        ("Projects", "PROJECTS"),
    ):
        found = re.search(rf"const {constant} = `([^`]*)`", script)
        assert found, constant
        assert definitions(found.group(1)) == definitions(contract.document_of(name)), name

    for path in ("/dashboard/static/dashboard.html", "/dashboard/static/..%2Fapp.py"):
        assert (await api.client.get(path)).status_code == 404, path


@pytest.fixture
async def http(server: str, contract: Contract) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=f"http://{server}", trust_env=False) as client:
        yield Api(client, contract)


def figure(name: str) -> str:
    """A JavaScript expression: the text of the page's figure ``name``."""
    return f"document.querySelector('[data-figure=\"{name}\"]').textContent"


async def sign_in(page: Page, email: str, password: str) -> None:
    await page.evaluate(
        f"""(() => {{
            document.getElementById("email").value = {json.dumps(email)};
            document.getElementById("password").value = {json.dumps(password)};
            document.getElementById("sign-in-form").requestSubmit();
        }})()"""
    )


@needs_chromium
async def test_the_dashboard_signs_in_and_follows_changes_live(
    server: str, http: Api, tmp_path: Path
) -> None:
    assert CHROMIUM is not None
    email = "dashboard-page@example.com"
    token = (await http.register(email, name="Dana"))["accessToken"]
    bought = {"merchant": MERCHANT, "amount": "12.50", "purchasedAt": datetime.now(UTC).isoformat()}
    created = await http.op("CreatePurchase", {"input": bought}, token)
    assert created["data"]["createPurchase"]["userErrors"] == [], created

    async with chromium(CHROMIUM) as page:
        await page.navigate(f"http://{server}/dashboard")
        assert await page.evaluate("document.getElementById('sign-in').hidden") is False

        await sign_in(page, email, "not-the-password")
        assert await page.wait_for("document.getElementById('sign-in-error').textContent")
        assert await page.evaluate("document.getElementById('dashboard').hidden") is True

        await sign_in(page, email, MEMBER_PASSWORD)
        await page.wait_for("document.getElementById('connection').dataset.state === 'live'")
        await page.wait_for(f"{figure('openTasks')} === '0'")
        assert await page.evaluate(figure("spendingTotal")) == "12.50"
        assert await page.evaluate(figure("spendingCount")) == "1"
        assert await page.evaluate(figure("notesCount")) == "0"
        assert await page.evaluate("document.getElementById('account-name').textContent") == "Dana"
        merchant = "[data-figure=recentPurchases] td[data-field=merchant]"
        assert await page.evaluate(f"document.querySelector('{merchant}').textContent") == MERCHANT
        assert await page.evaluate("document.querySelectorAll('main img').length") == 0

        created = await http.op("CreateTask", {"input": {"title": "water the plants"}}, token)
        assert created["data"]["createTask"]["userErrors"] == [], created
        await page.wait_for(f"{figure('openTasks')} === '1'", within=5)

        # A purchase in another currency is shown on its own, and a budget as it is set.
        abroad = {
            **bought,
            "merchant": "Abroad",
            "amount": "3",
            "currency": "EUR",
            "category": "travel",
        }
        created = await http.op("CreatePurchase", {"input": abroad}, token)
        assert created["data"]["createPurchase"]["userErrors"] == [], created
        currencies = "[data-figure=spendingByCurrency] li"
        await page.wait_for(f"document.querySelectorAll('{currencies}').length === 2", within=5)
        listed = await page.evaluate(
            f"[...document.querySelectorAll('{currencies}')].map((item) => item.textContent)"
        )
        assert listed == ["3.00 EUR · 1 purchase", "12.50 USD · 1 purchase"]
        budget = {"category": "travel", "amount": "2", "currency": "EUR"}
        set_budget = await http.op("SetBudget", {"input": budget}, token)
        assert set_budget["data"]["setBudget"]["userErrors"] == [], set_budget
        remaining = "[data-figure=budgets] td[data-field=remaining]"
        await page.wait_for(f"document.querySelector('{remaining}') !== null", within=5)
        assert await page.evaluate(f"document.querySelector('{remaining}').textContent") == (
            "-1.00 EUR"
        )

        # The projects not archived, in their order, with their open tasks.
        assert await page.evaluate("document.getElementById('no-projects').hidden") is False
        made = []
        for name in (MERCHANT, "Garden", "Attic"):
            created = await http.op("CreateProject", {"input": {"name": name}}, token)
            assert created["data"]["createProject"]["userErrors"] == [], created
            made.append(created["data"]["createProject"]["project"]["id"])
        for title in ("dig", "sow"):
            planned = {"title": title, "projectId": made[1]}
            created = await http.op("CreatePlannedTask", {"input": planned}, token)
            assert created["data"]["createTask"]["userErrors"] == [], created
        archived = await http.op(
            "UpdateProject", {"id": made[2], "input": {"archived": True}}, token
        )
        assert archived["data"]["updateProject"]["userErrors"] == [], archived
        projects = "[data-figure=projects] li"
        shown = (
            f"[...document.querySelectorAll('{projects}')]"
            ".map((item) => [...item.children].map((part) => part.textContent))"
        )
        garden = f"document.querySelector('{projects}:nth-child(2) [data-field=openTasks]')"
        await page.wait_for(
            f"document.querySelectorAll('{projects}').length === 2"
            f" && {garden}?.textContent === '2 open tasks'",
            within=5,
        )
        listed = await page.evaluate(shown)
        assert listed == [[MERCHANT, "0 open tasks"], ["Garden", "2 open tasks"]]
        assert await page.evaluate("document.getElementById('no-projects').hidden") is True
        assert await page.evaluate(figure("openTasks")) == "3"
        assert await page.evaluate("document.querySelectorAll('main img').length") == 0

        screenshot = Path(os.environ.get("DASHBOARD_SCREENSHOT", tmp_path / "dashboard.png"))
        assert (await page.screenshot(screenshot)).startswith(b"\x89PNG")

        await page.evaluate("document.getElementById('sign-out').click()")
        await page.wait_for("!document.getElementById('sign-in').hidden")
        assert await page.evaluate(figure("openTasks")) == PLACEHOLDER
        assert await page.evaluate("sessionStorage.length") == 0
        assert await page.evaluate("document.title") != "owned"
        assert page.errors == []


# Runs before the page's own script: keeps its sockets reachable and records their close
# codes, the access tokens they sign in with, and every text of the connection line, so a
# test can drop a socket and follow. With spy.spoil set, the next socket signs in with a
# bad token.
SPY = """
window.spy = { sockets: [], closes: [], inits: [], states: [], spoil: false };
window.WebSocket = class extends WebSocket {
  constructor(...args) {
    super(...args);
    window.spy.sockets.push(this);
    this.addEventListener("close", (event) => window.spy.closes.push(event.code));
  }
  send(data) {
    const message = JSON.parse(data);
    if (message.type === "connection_init") {
      const token = message.payload.Authorization.replace("Bearer ", "");
      window.spy.inits.push({ token, at: Date.now() });
      if (window.spy.spoil) {
        window.spy.spoil = false;
        message.payload.Authorization = "Bearer spoiled";
        data = JSON.stringify(message);
      }
    }
    super.send(data);
  }
};
document.addEventListener("DOMContentLoaded", () => {
  const line = document.getElementById("connection");
  new MutationObserver(() => window.spy.states.push(line.textContent.trim())).observe(
    line, { subtree: true, childList: true, characterData: true, attributes: true });
});
"""
LIVE = "document.getElementById('connection').dataset.state === 'live'"
SIGN_IN_SHOWN = "!document.getElementById('sign-in').hidden"
RELOADED = (
    "performance.getEntriesByType('navigation')[0].type === 'reload'"
    " && document.readyState === 'complete'"
)


async def open_dashboard(page: Page, server: str, email: str) -> None:
    """Opens the page with the spy in it, signs in, and waits for the first figures."""
    await page.send("Page.addScriptToEvaluateOnNewDocument", {"source": SPY})
    await page.navigate(f"http://{server}/dashboard")
    await sign_in(page, email, MEMBER_PASSWORD)
    await page.wait_for(f"{LIVE} && {figure('notesCount')} === '0'")


async def stored_tokens(page: Page) -> dict[str, str]:
    """Everything the page keeps in the browser's storage."""
    stored: dict[str, str] = await page.evaluate(
        "Object.fromEntries([...Object.entries(sessionStorage), ...Object.entries(localStorage)])"
    )
    return stored


@needs_chromium
async def test_the_dashboard_reconnects_and_asks_to_sign_in_again_on_4401(
    server: str, http: Api
) -> None:
    assert CHROMIUM is not None
    email = "reconnect@example.com"
    token = (await http.register(email))["accessToken"]
    async with chromium(CHROMIUM) as page:
        await open_dashboard(page, server, email)

        # A dropped connection comes back on its own, and the figures follow again.
        await page.evaluate("spy.sockets[0].close(4000, 'test')")
        await page.wait_for("spy.sockets.length === 2 && spy.sockets[1].readyState === 1")
        await page.wait_for(LIVE)
        states = await page.evaluate("spy.states")
        assert any(state.startswith("Closed (code 4000), reconnecting in") for state in states)
        await http.op("CreateNote", {"input": {"title": "after the drop"}}, token)
        await page.wait_for(f"{figure('notesCount')} === '1'", within=5)

        # A refused token (4401) is renewed once, and the page is live again.
        first = await page.evaluate(REFRESH_TOKEN)
        await page.evaluate("spy.spoil = true; spy.sockets[1].close(4000, 'test')")
        await page.wait_for(f"spy.sockets.length === 4 && {LIVE}")
        assert await page.evaluate("spy.closes") == [4000, 4000, 4401]
        assert await page.evaluate(REFRESH_TOKEN) not in (first, None)
        await http.op("CreateNote", {"input": {"title": "after the 4401"}}, token)
        await page.wait_for(f"{figure('notesCount')} === '2'", within=5)

        # Once the sessions are gone the server refuses the token (4401) and the refresh
        # token too: sign in again.
        await http.op("LogoutEverywhere", {}, token)
        await page.evaluate("spy.sockets[3].close(4000, 'test')")
        await page.wait_for(SIGN_IN_SHOWN)
        assert await page.evaluate("spy.closes") == [4000, 4000, 4401, 4000, 4401]
        assert "sign in again" in await page.evaluate(
            "document.getElementById('sign-in-error').textContent"
        )
        assert await stored_tokens(page) == {}
        await asyncio.sleep(1.5)  # and it does not try again by itself
        assert await page.evaluate("spy.sockets.length") == 5
        assert await page.evaluate(figure("notesCount")) == PLACEHOLDER
        assert page.errors == []


@needs_chromium
async def test_a_reload_keeps_the_dashboard_signed_in_and_live(server: str, http: Api) -> None:
    assert CHROMIUM is not None
    email = "reload@example.com"
    token = (await http.register(email, name="Rory"))["accessToken"]
    async with chromium(CHROMIUM) as page:
        await open_dashboard(page, server, email)
        first = await page.evaluate(REFRESH_TOKEN)
        assert first.startswith("rt_")
        # Only the refresh token is stored; the access token stays in memory.
        assert await stored_tokens(page) == {"lifegraph.refreshToken": first}

        await page.send("Page.reload")
        await page.wait_for(f"{RELOADED} && {LIVE} && {figure('notesCount')} === '0'")
        assert await page.evaluate("document.getElementById('sign-in').hidden") is True
        assert "Signed out" not in await page.evaluate("spy.states")  # no sign-in form first
        assert await page.evaluate("document.getElementById('account-name').textContent") == "Rory"
        rotated = await page.evaluate(REFRESH_TOKEN)
        assert rotated not in (first, None)
        assert await stored_tokens(page) == {"lifegraph.refreshToken": rotated}

        await http.op("CreateNote", {"input": {"title": "after the reload"}}, token)
        await page.wait_for(f"{figure('notesCount')} === '1'", within=5)
        assert page.errors == []


@needs_chromium
async def test_a_reload_after_the_session_is_revoked_asks_to_sign_in(
    server: str, http: Api
) -> None:
    assert CHROMIUM is not None
    email = "revoked@example.com"
    token = (await http.register(email))["accessToken"]
    async with chromium(CHROMIUM) as page:
        await open_dashboard(page, server, email)
        await http.op("LogoutEverywhere", {}, token)

        await page.send("Page.reload")
        await page.wait_for(f"{RELOADED} && {SIGN_IN_SHOWN}")
        assert await page.evaluate("document.getElementById('dashboard').hidden") is True
        assert "sign in again" in await page.evaluate(
            "document.getElementById('sign-in-error').textContent"
        )
        assert await stored_tokens(page) == {}
        assert await page.evaluate("spy.sockets.length") == 0
        assert page.errors == []


SHORT_TTL = timedelta(seconds=10)


@needs_chromium
@pytest.mark.parametrize("access_ttl", [SHORT_TTL], ids=["10s"])
async def test_the_dashboard_renews_its_session_before_the_access_token_expires(
    server: str, http: Api
) -> None:
    assert CHROMIUM is not None
    email = "renew@example.com"
    await http.register(email)
    async with chromium(CHROMIUM) as page:
        await open_dashboard(page, server, email)
        first = await page.evaluate(REFRESH_TOKEN)
        old_token = (await page.evaluate("spy.inits"))[0]["token"]
        expires = jwt.decode(old_token, options={"verify_signature": False})["exp"]

        # The page renews well before the token expires and signs a new socket in with it.
        await page.wait_for("spy.inits.length >= 2", within=SHORT_TTL.total_seconds() + 5)
        renewed = (await page.evaluate("spy.inits"))[1]
        assert renewed["token"] != old_token
        assert renewed["at"] / 1000 < expires
        rotated = await page.evaluate(REFRESH_TOKEN)
        assert rotated not in (first, None)
        assert await stored_tokens(page) == {"lifegraph.refreshToken": rotated}

        # Past the old token's expiry the figures still follow a change.
        await page.wait_for(f"Date.now() / 1000 > {expires + 1} && {LIVE}", within=15)
        login = await http.op("Login", {"input": {"email": email, "password": MEMBER_PASSWORD}})
        token = login["data"]["login"]["session"]["accessToken"]
        await http.op("CreateNote", {"input": {"title": "after the expiry"}}, token)
        await page.wait_for(f"{figure('notesCount')} === '1'", within=5)
        assert 4401 not in await page.evaluate("spy.closes")
        assert page.errors == []
