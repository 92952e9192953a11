"""The HTTP surface: health, readiness, GraphiQL, CORS, body limit and error shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from client_contract import Contract
from conftest import Api, errors_of, make_settings

from lifegraph.app import create_app
from resolvers import roles as role_resolvers


async def test_health_and_readiness(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    assert (await api.client.get("/readyz")).json() == {"status": "ok"}


async def test_graphiql_is_served_in_development(api: Api) -> None:
    page = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()


async def test_cors_allows_only_configured_origins(api: Api) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization",
    }
    allowed = await api.client.options(
        "/graphql", headers={"Origin": "http://app.test", **preflight}
    )
    assert allowed.headers["access-control-allow-origin"] == "http://app.test"
    refused = await api.client.options(
        "/graphql", headers={"Origin": "http://evil.test", **preflight}
    )
    assert "access-control-allow-origin" not in refused.headers


async def test_oversized_bodies_are_refused(api: Api) -> None:
    huge = {"query": "{ __typename }", "variables": {"pad": "x" * (1024 * 1024 + 10)}}
    response = await api.client.post("/graphql", json=huge)
    assert response.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"x" * 65536

    streamed = await api.client.post(
        "/graphql", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413


async def test_server_faults_are_masked(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(ctx: object) -> None:
        raise RuntimeError('relation "roles" at /srv/lifegraph/db/roles.py: SELECT secret')

    monkeypatch.setattr(role_resolvers, "all_roles", broken)
    admin = await api.admin()
    response = await api.client.post(
        "/graphql",
        json={"query": "{ roles { name } }"},
        headers={"Authorization": f"Bearer {admin['accessToken']}"},
    )
    body = response.text
    assert response.status_code == 200
    assert response.json()["errors"][0]["message"] == "Internal server error."
    assert errors_of(response.json()) == ["INTERNAL_SERVER_ERROR"]
    for leak in ("SELECT", "/srv", "roles.py", "Traceback", "RuntimeError"):
        assert leak not in body


async def test_query_errors_carry_codes(api: Api) -> None:
    assert errors_of(await api.query("{ nope }")) == ["BAD_USER_INPUT"]
    assert errors_of(await api.query("{ me { ")) == ["BAD_USER_INPUT"]
    bad_variable = await api.query("query($n: Int) { users(first: $n) { totalCount } }", {"n": "x"})
    assert errors_of(bad_variable) == ["BAD_USER_INPUT"]


async def test_too_deep_queries_are_refused(database_url: str, contract: Contract) -> None:
    app = create_app(make_settings(database_url, max_query_depth=2))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lifegraph.test") as client:
        api = Api(client, contract)
        deep = "{ users { edges { node { roles { name } } } } }"
        assert errors_of(await api.query(deep)) == ["QUERY_TOO_COMPLEX"]
        assert errors_of(await api.query("{ me { email } }")) == ["UNAUTHENTICATED"]
    await app.state.services.engine.dispose()
