"""GraphiQL at /graphql in development: every file it loads comes from the app, under a
strict policy; it opens on the contract's operations; and in a real headless Chromium,
cut off from everything but loopback, it signs in, runs ``Me`` and a subscription."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from client_contract import Contract
from conftest import MEMBER_PASSWORD, Api, make_settings
from devtools import Page, chromium, find_chromium
from graphql import OperationDefinitionNode, parse
from graphql.execution.values import get_variable_values
from test_dashboard_page import Markup

from lifegraph.app import App, create_app
from lifegraph.graphiql import ASSETS, VENDOR

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium binary found: apt-get install chromium (or set CHROMIUM to one)",
)
HTML = {"Accept": "text/html"}
FIRST_TABS = ["Register", "Login", "RefreshSession", "Logout", "LogoutEverywhere", "Me"]
# Everything but loopback is unreachable: names do not resolve, and any other address goes
# to a proxy that is not there.
LOOPBACK_ONLY = (
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1",
)


def vendored_checksums() -> dict[str, str]:
    """The sha256 of each vendored file, as VERSIONS records it."""
    lines = (VENDOR / "VERSIONS").read_text().splitlines()
    found = (re.fullmatch(r"([0-9a-f]{64})  (\S+)", line) for line in lines)
    return {match.group(2): match.group(1) for match in found if match}


async def test_the_page_and_every_file_it_loads_come_from_the_app(api: Api) -> None:
    page = await api.client.get("/graphql", headers=HTML)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy
    assert "unsafe" not in policy
    assert "http" not in policy

    markup = Markup()
    markup.feed(page.text)
    assert markup.inline == []
    assert "<script>" not in page.text
    assert len(markup.scripts) == 6
    assert len(markup.stylesheets) == 2
    for path in [*markup.scripts, *markup.stylesheets]:
        assert path.startswith("/graphiql/static/"), path
        asset = await api.client.get(path)
        assert asset.status_code == 200, path
        kind = "text/javascript" if path.endswith(".js") else "text/css"
        assert asset.headers["content-type"] == f"{kind}; charset=utf-8", path
        assert asset.headers["x-content-type-options"] == "nosniff"
        assert asset.content == ASSETS[path.removeprefix("/graphiql/static/")][0].read_bytes()
    assert {path.rsplit("/", 1)[1] for path in markup.scripts + markup.stylesheets} >= set(
        vendored_checksums()
    )

    # Our scripts reach only this server, and keep no token beyond the browser tab.
    paths: set[str] = set()
    for name in ("session.js", "graphiql.js"):
        script = (await api.client.get(f"/graphiql/static/{name}")).text
        assert "innerHTML" not in script, name
        assert "localStorage" not in script, name
        assert re.findall(r"https?://", script) == [], name
        paths |= set(re.findall(r'"(/[a-z][^"]*)"', script))
    assert paths == {"/graphql", "/graphiql/operations.json"}

    for path in ("/graphiql/static/graphiql.html", "/graphiql/static/..%2Fgraphiql.py"):
        assert (await api.client.get(path)).status_code == 404, path


def test_the_vendored_files_are_those_their_versions_name() -> None:
    checksums = vendored_checksums()
    assert set(checksums) == {
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphql-ws.min.js",
    }
    for name, digest in checksums.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    versions = (VENDOR / "VERSIONS").read_text()
    for package in ("graphiql 3.", "react 18.", "react-dom 18.", "graphql-ws 6."):
        assert f"\n{package}" in versions, package
    for licence in ("graphiql", "react", "react-dom", "graphql-ws"):
        assert "MIT" in (VENDOR / f"LICENSE.{licence}").read_text(), licence


async def test_the_page_opens_on_the_contracts_operations(
    app: App, api: Api, contract: Contract
) -> None:
    schema = app.graphql.graphql_schema
    answer = await api.client.get("/graphiql/operations.json")
    assert answer.status_code == 200
    tabs = answer.json()["tabs"]
    names = [tab["name"] for tab in tabs]
    assert sorted(names) == sorted(contract.documents)
    assert names[: len(FIRST_TABS)] == FIRST_TABS
    assert names.index("Dashboard") < names.index("Purchases")

    by_name = {tab["name"]: tab for tab in tabs}
    assert by_name["Me"]["kind"] == "query"
    assert by_name["DashboardUpdates"]["kind"] == "subscription"
    assert by_name["Login"]["variables"] == {
        "input": {"email": "you@example.com", "password": "a-long-password"}
    }
    for tab in tabs:
        assert tab["query"] == contract.document_of(tab["name"])
        if "Upload!" in tab["query"]:
            continue  # files are for the apps to send
        # Each tab's example variables are accepted as they stand.
        operation = next(
            d for d in parse(tab["query"]).definitions if isinstance(d, OperationDefinitionNode)
        )
        coerced = get_variable_values(
            schema, operation.variable_definitions or (), tab["variables"]
        )
        assert not isinstance(coerced, list), (tab["name"], coerced)


async def test_graphiql_is_only_for_development(database_url: str) -> None:
    app = create_app(make_settings(database_url, environment="production"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        page = await client.get("/graphql", headers=HTML)
        assert "text/html" not in page.headers.get("content-type", "")
        for path in ("/graphiql/operations.json", "/graphiql/static/graphiql.js"):
            assert (await client.get(path)).status_code == 404, path


@pytest.fixture
async def http(server: str, contract: Contract) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=f"http://{server}", trust_env=False) as client:
        yield Api(client, contract)


READY = "document.getElementById('graphiql').dataset.state === 'ready'"
TAB_NAMES = (
    "[...document.querySelectorAll('.graphiql-tab-button')].map((tab) => tab.textContent.trim())"
)
QUERY_EDITOR = "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror"
RESULT_EDITOR = "document.querySelector('.result-window .CodeMirror').CodeMirror"
RESULT = f"{RESULT_EDITOR}.getValue()"
SIGNED_IN = "document.body.dataset.session === 'signed-in'"
REFRESH_TOKEN = "sessionStorage.getItem('lifegraph.refreshToken')"
# Runs before the page's own script: records the Authorization of every request to
# /graphql that has one, and the token of every websocket's connection_init.
SPY = """
window.spy = { requests: [], inits: [] };
const originalFetch = window.fetch;
window.fetch = (input, init = {}) => {
  const authorization = new Headers(init.headers).get("Authorization");
  if (authorization && String(input).endsWith("/graphql")) window.spy.requests.push(authorization);
  return originalFetch(input, init);
};
window.WebSocket = class extends WebSocket {
  send(data) {
    const message = JSON.parse(data);
    if (message.type === "connection_init") window.spy.inits.push(message.payload.Authorization);
    super.send(data);
  }
};
"""


async def open_tab(page: Page, name: str) -> None:
    await page.evaluate(
        f"""[...document.querySelectorAll('.graphiql-tab-button')]
            .find((tab) => tab.textContent.trim() === {json.dumps(name)}).click()"""
    )
    await page.wait_for(
        "document.querySelector('.graphiql-tab-active .graphiql-tab-button').textContent.trim()"
        f" === {json.dumps(name)} && {QUERY_EDITOR}.operationName === {json.dumps(name)}"
    )


async def result_of(page: Page, expected: str) -> dict[str, object]:
    """Runs the open tab and returns the JSON its result pane shows, once ``expected``
    is in it."""
    await page.evaluate(f"{RESULT_EDITOR}.setValue('')")
    await page.evaluate("document.querySelector('.graphiql-execute-button').click()")
    await page.wait_for(f"{RESULT}.includes({json.dumps(expected)})")
    result: dict[str, object] = json.loads(await page.evaluate(RESULT))
    return result


async def sign_in(page: Page, email: str) -> None:
    """Signs in through the page's bar."""
    await page.evaluate(
        f"""(() => {{
            document.getElementById("email").value = {json.dumps(email)};
            document.getElementById("password").value = {json.dumps(MEMBER_PASSWORD)};
            document.getElementById("sign-in-form").requestSubmit();
        }})()"""
    )
    await page.wait_for(SIGNED_IN)


@needs_chromium
async def test_graphiql_signs_in_and_runs_the_contracts_operations(
    server: str, http: Api, tmp_path: Path
) -> None:
    assert CHROMIUM is not None
    email = "graphiql@example.com"
    await http.register(email)
    async with chromium(CHROMIUM, *LOOPBACK_ONLY) as page:
        await page.navigate(f"http://{server}/graphql")
        await page.wait_for(f"{READY} && !!document.querySelector('.graphiql-execute-button')")
        assert "Loading" not in await page.evaluate("document.body.innerText")
        names = await page.evaluate(TAB_NAMES)
        for name in ("Register", "Login", "Me", "Dashboard", "Purchases", "DashboardUpdates"):
            assert name in names

        # Signed out, Me is refused.
        await open_tab(page, "Me")
        refused = await result_of(page, "UNAUTHENTICATED")
        assert refused["data"] is None

        await sign_in(page, email)
        assert await page.evaluate("document.getElementById('account-name').textContent") == email
        assert (await page.evaluate(REFRESH_TOKEN)).startswith("rt_")

        answer = await result_of(page, email)
        assert answer["data"]["me"]["email"] == email  # type: ignore[index]

        # A subscription runs over the websocket, signed in with the same session.
        await open_tab(page, "DashboardUpdates")
        update = await result_of(page, "dashboardUpdated")
        assert update["data"]["dashboardUpdated"]["openTasks"] == 0  # type: ignore[index]

        # The docs explorer shows the schema.
        await page.evaluate(
            "document.querySelector('[aria-label=\"Show Documentation Explorer\"]').click()"
        )
        await page.wait_for(
            "(document.querySelector('.graphiql-doc-explorer') || {}).textContent"
            "?.includes('Query')"
        )

        screenshot = Path(os.environ.get("GRAPHIQL_SCREENSHOT", tmp_path / "graphiql.png"))
        assert (await page.screenshot(screenshot)).startswith(b"\x89PNG")

        # Nothing was asked of any other address.
        requested = await page.evaluate(
            "performance.getEntriesByType('resource').map((entry) => entry.name)"
        )
        assert [url for url in requested if not url.startswith(f"http://{server}/")] == []
        assert page.errors == []


SHORT_TTL = timedelta(seconds=10)


@needs_chromium
@pytest.mark.parametrize("access_ttl", [SHORT_TTL], ids=["10s"])
async def test_graphiql_renews_the_session_before_the_access_token_expires(
    server: str, http: Api
) -> None:
    assert CHROMIUM is not None
    email = "graphiql-renew@example.com"
    await http.register(email)
    async with chromium(CHROMIUM, *LOOPBACK_ONLY) as page:
        await page.send("Page.addScriptToEvaluateOnNewDocument", {"source": SPY})
        await page.navigate(f"http://{server}/graphql")
        await page.wait_for(READY)
        await sign_in(page, email)
        first = await page.evaluate(REFRESH_TOKEN)

        await open_tab(page, "Me")
        assert (await result_of(page, email))["data"]["me"]["email"] == email  # type: ignore[index]
        old = (await page.evaluate("spy.requests"))[-1]
        assert old.startswith("Bearer ")
        expires = jwt.decode(old.removeprefix("Bearer "), options={"verify_signature": False})
        await open_tab(page, "DashboardUpdates")
        await result_of(page, "dashboardUpdated")
        await page.evaluate("document.querySelector('.graphiql-execute-button').click()")  # stop
        assert await page.evaluate("spy.inits") == [old]

        # The page renews by itself before the token expires; past the old token's expiry,
        # requests and new sockets carry the new one.
        await page.wait_for(f"{REFRESH_TOKEN} !== {json.dumps(first)}", within=15)
        await page.wait_for(f"Date.now() / 1000 > {expires['exp'] + 1}", within=15)
        await result_of(page, "dashboardUpdated")
        await page.evaluate("document.querySelector('.graphiql-execute-button').click()")
        await open_tab(page, "Me")
        assert (await result_of(page, email))["data"]["me"]["email"] == email  # type: ignore[index]
        for renewed in (
            (await page.evaluate("spy.inits"))[-1],
            (await page.evaluate("spy.requests"))[-1],
        ):
            assert renewed not in (old, None)
            claims = jwt.decode(
                renewed.removeprefix("Bearer "), options={"verify_signature": False}
            )
            assert claims["exp"] > expires["exp"]

        # A reload stays signed in, on a new refresh token.
        rotated = await page.evaluate(REFRESH_TOKEN)
        await page.send("Page.reload")
        await page.wait_for(
            "performance.getEntriesByType('navigation')[0].type === 'reload'"
            f" && document.readyState === 'complete' && {READY} && {SIGNED_IN}"
            f" && {REFRESH_TOKEN} !== {json.dumps(rotated)}"
        )
        assert await page.evaluate(REFRESH_TOKEN) is not None
        assert await page.evaluate("document.getElementById('account-name').textContent") == email
        assert page.errors == []
