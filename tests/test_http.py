"""The HTTP surface: health, readiness, GraphiQL, CORS, body limit and error shapes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from client_contract import Contract
from conftest import Api, errors_of, make_settings

from lifegraph.app import create_app
from lifegraph.http import RequirePreflightForUploads
from resolvers import roles as role_resolvers
from resolvers.context import Context


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


async def test_cors_in_development_allows_any_port_on_this_machine(api: Api) -> None:
    allowed = (
        "http://localhost:5173",
        "http://127.0.0.1:3000",
        "http://[::1]:8081",
        "http://localhost",
    )
    for origin in allowed:
        preflight = await api.client.options(
            "/graphql",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 200, origin
        assert preflight.headers["access-control-allow-origin"] == origin
    for origin in ("http://localhost.evil.test:5173", "http://localhost:5173.evil.test"):
        refused = await api.client.options(
            "/graphql",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        assert refused.status_code == 400, origin
        assert "access-control-allow-origin" not in refused.headers


async def test_cors_in_production_allows_only_configured_origins(database_url: str) -> None:
    app = create_app(make_settings(database_url, environment="production"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for origin, status in (("http://app.test", 200), ("http://localhost:5173", 400)):
            preflight = await client.options(
                "/graphql",
                headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
            )
            assert preflight.status_code == status, origin


CLIENT_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "apollo-require-preflight",
    "x-apollo-operation-name",
    "graphql-preflight",
    "apollographql-client-name",
    "apollographql-client-version",
    "x-request-id",
]


async def test_cors_allows_every_header_the_server_and_its_clients_use(api: Api) -> None:
    for header in CLIENT_HEADERS:
        preflight = await api.client.options(
            "/graphql",
            headers={
                "Origin": "http://localhost:5173",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": header,
            },
        )
        assert preflight.status_code == 200, header
    every = await api.client.options(
        "/graphql",
        headers={
            "Origin": "http://app.test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": ", ".join(CLIENT_HEADERS),
        },
    )
    assert every.status_code == 200
    allowed = {h.strip().lower() for h in every.headers["access-control-allow-headers"].split(",")}
    assert allowed >= set(CLIENT_HEADERS)
    assert {name.decode() for name in RequirePreflightForUploads.HEADERS} <= allowed
    refused = await api.client.options(
        "/graphql",
        headers={
            "Origin": "http://app.test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-not-ours",
        },
    )
    assert refused.status_code == 400


async def test_cors_exposes_request_ids_and_rate_limits_to_browsers(api: Api) -> None:
    answer = await api.client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Origin": "http://localhost:5173"}
    )
    assert answer.headers["access-control-allow-origin"] == "http://localhost:5173"
    exposed = {
        h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")
    }
    assert exposed == {
        "x-request-id",
        "retry-after",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
    }


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


async def test_server_faults_are_masked(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
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
    correlation_id = response.json()["errors"][0]["extensions"]["correlationId"]
    assert len(correlation_id) == 32
    assert any(correlation_id in record.getMessage() for record in caplog.records)


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


def refused(response: httpx.Response, status: int, code: str = "BAD_USER_INPUT") -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert errors_of(response.json()) == [code]
    message: str = response.json()["errors"][0]["message"]
    return message


async def test_errors_outside_graphql_keep_its_shape(api: Api) -> None:
    post = api.client.post
    json_type = {"Content-Type": "application/json"}
    assert "No GraphQL query" in refused(await post("/graphql", json={}), 400)
    assert "content type" in refused(
        await post("/graphql", content=b"{ me { id } }", headers={"Content-Type": "text/plain"}),
        400,
    )
    assert "JSON" in refused(await post("/graphql", content=b"{not json", headers=json_type), 400)
    deep = b'{"query": "{ __typename }", "variables": {"a": ' + b"[" * 100_000 + b"]" * 100_000
    assert "nested too deeply" in refused(
        await post("/graphql", content=deep + b"}}", headers=json_type), 400
    )
    nested = {"query": "{ __typename }", "variables": {"a": []}}
    inner: list[object] = nested["variables"]["a"]  # type: ignore[index]
    for _ in range(70):
        inner.append([])
        inner = inner[0]  # type: ignore[assignment]
    assert "deeper than 64" in refused(await post("/graphql", json=nested), 400)
    assert "Batching" in refused(await post("/graphql", json=[{"query": "{ me { id } }"}]), 400)
    refused(await api.client.get("/nowhere"), 404, "NOT_FOUND")
    refused(await api.client.put("/graphql", json={}), 405)
    refused(await post("/graphql", json={"query": "x" * (1024 * 1024 + 1)}), 413)
    cors = await api.client.options(
        "/graphql",
        headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"},
    )
    assert "Disallowed CORS origin" in refused(cors, 400, "FORBIDDEN")


async def test_every_response_carries_security_headers(api: Api) -> None:
    for response in (
        await api.client.post("/graphql", json={"query": "{ __typename }"}),
        await api.client.get("/healthz"),
        await api.client.get("/nowhere"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert "strict-transport-security" not in response.headers
    secure = await api.client.get("https://lifegraph.test/healthz")
    assert secure.headers["strict-transport-security"].startswith("max-age=")
    page = await api.client.get("/dashboard")
    assert page.headers["content-security-policy"].startswith("default-src 'self'")


async def test_an_unreachable_database_answers_service_unavailable(
    contract: Contract, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(make_settings("postgresql://root@127.0.0.1:1/nowhere"))
    services = app.state.services
    token = services.tokens.issue_access(uuid.uuid4(), uuid.uuid4()).token
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lifegraph.test") as client:
        api = Api(client, contract)
        register = {"input": {"email": "a@example.com", "password": "x" * 12, "displayName": "A"}}
        for result in (await api.op("Register", register), await api.op("Me", token=token)):
            assert errors_of(result) == ["SERVICE_UNAVAILABLE"], result
            assert result["errors"][0]["extensions"]["retryAfter"] == 5
        assert (await client.get("/readyz")).status_code == 503
    assert not [r for r in caplog.records if r.levelname == "ERROR" and r.exc_info]
    await services.engine.dispose()


async def test_faults_before_execution_are_masked_too(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: object) -> None:
        raise FileNotFoundError(2, "No such file or directory", "/srv/lifegraph/secret")

    monkeypatch.setattr(Context, "signed_in_user", broken)
    result = await api.query("{ __typename }")
    assert errors_of(result) == ["INTERNAL_SERVER_ERROR"]
    assert "/srv" not in str(result)
    assert "No such file" not in str(result)
