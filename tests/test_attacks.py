"""Requests built to stall the server are refused before any resolver runs, with
QUERY_TOO_COMPLEX and a message naming the limit; everything else says what it cost."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest.mock import ANY
from urllib.parse import urlsplit

import httpx
import pytest
from client_contract import Contract
from conftest import MEMBER_PASSWORD, Api, StatementCounter, errors_of, make_settings, reset
from graphql import get_introspection_query
from sqlalchemy import event
from starlette.applications import Starlette
from strawberry.extensions.validation_cache import _get_validate_cache
from test_cli import FAST_PASSWORDS, clean_env, serving

from lifegraph.app import create_app
from lifegraph.settings import Settings

PURCHASES = "purchases(first: 100) { edges { node { id items { description } } } }"
ME = "{ me { id email } }"
REDIS_URL = os.environ.get("LIFEGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextlib.asynccontextmanager
async def client_of(settings: Settings, contract: Contract) -> AsyncIterator[Api]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lifegraph.test") as client:
        yield Api(client, contract)
    await app.state.services.engine.dispose()
    await reset(settings.database_url or "")


@pytest.fixture
async def production(database_url: str, contract: Contract) -> AsyncIterator[Api]:
    settings = make_settings(
        database_url, environment="production", secret_key="p" * 40, max_query_cost=500
    )
    async with client_of(settings, contract) as api:
        yield api


def refusal(result: dict[str, object]) -> str:
    assert errors_of(result) == ["QUERY_TOO_COMPLEX"], result
    assert result.get("data") is None
    errors = result["errors"]
    assert isinstance(errors, list)
    message: str = errors[0]["message"]
    return message


async def test_a_huge_document_is_cut_off_while_parsing(api: Api) -> None:
    document = "{ " + " ".join(f"a{i}: __typename" for i in range(55_000)) + " }"
    assert len(document) < 1024 * 1024
    assert "5000 tokens" in refusal(await api.query(document))


async def test_aliases_are_limited(api: Api, statements: StatementCounter) -> None:
    session = await api.register("aliases@example.com")
    document = "{ " + " ".join(f"m{i}: me {{ id }}" for i in range(31)) + " }"
    statements.count = 0
    assert "31 aliases; at most 30" in refusal(
        await api.query(document, token=session["accessToken"])
    )
    assert statements.count == 0
    allowed = "{ " + " ".join(f"m{i}: me {{ id }}" for i in range(30)) + " }"
    assert "errors" not in await api.query(allowed, token=session["accessToken"])


async def test_aliased_logins_are_refused_before_any_password_check(
    api: Api, statements: StatementCounter
) -> None:
    logins = " ".join(
        f'l{i}: login(input: {{email: "x{i}@example.com", password: "x"}}) {{ __typename }}'
        for i in range(100)
    )
    statements.count = 0
    assert "aliases" in refusal(await api.query(f"mutation {{ {logins} }}"))
    assert statements.count == 0


async def test_directives_are_limited(api: Api) -> None:
    fields = " ".join(f"a{i}: __typename @include(if: true)" for i in range(21))
    assert "21 directives; at most 20" in refusal(await api.query(f"{{ {fields} }}"))


async def test_the_cost_counts_pages_items_and_aliases(
    api: Api, statements: StatementCounter
) -> None:
    session = await api.register("cost@example.com")
    token = session["accessToken"]
    one = await api.query(f"{{ {PURCHASES} }}", token=token)
    assert "errors" not in one
    # 1 for the connection, then per purchase: edge, node, and 10 items assumed.
    assert one["extensions"]["cost"]["requested"] == 1201
    assert one["extensions"]["cost"]["limit"] == 2000

    statements.count = 0
    two = await api.query(f"{{ a: {PURCHASES} b: {PURCHASES} }}", token=token)
    message = refusal(two)
    assert "2402 points; at most 2000" in message
    assert statements.count == 0


async def test_the_cost_reads_variables_and_fragment_spreads(api: Api) -> None:
    session = await api.register("spread@example.com")
    token = session["accessToken"]
    document = """
        query Pages($n: Int) {
          a: purchases(first: $n) { ...Page }
          b: purchases(first: $n) { ...Page }
        }
        fragment Page on PurchaseConnection { edges { node { id items { description } } } }
    """
    small = await api.query(document, {"n": 10}, token=token)
    assert small["extensions"]["cost"]["requested"] == 2 * (1 + 10 * 12)
    assert "points" in refusal(await api.query(document, {"n": 100}, token=token))


async def test_every_answer_carries_its_cost(api: Api) -> None:
    session = await api.register("me@example.com")
    me = await api.op("Me", token=session["accessToken"])
    assert me["extensions"]["cost"] == {"requested": 4, "limit": 2000, "remaining": ANY}
    mutation = await api.op("LogoutEverywhere", token=session["accessToken"])
    assert mutation["extensions"]["cost"]["requested"] == 11


async def test_every_contract_document_fits_the_default_cost_at_full_pages(
    contract: Contract,
) -> None:
    from graphql import parse

    from schema.limits import Limits, OperationCost, selected_operation
    from schema.root import build_schema

    schema = build_schema()._schema
    for name, text in contract.documents.items():
        document = parse(text)
        operation = selected_operation(document, name)
        assert operation is not None
        cost = OperationCost(schema, document, {"first": 100, "limit": 20}).of(operation)
        assert cost <= Limits().max_cost, name


async def test_introspection_is_bounded(api: Api) -> None:
    standard = await api.query(get_introspection_query())
    assert "errors" not in standard
    nested = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
    assert "introspection depth" in refusal(await api.query(nested))
    aliased = "{ " + " ".join(f"s{i}: __schema {{ types {{ name }} }}" for i in range(31)) + " }"
    assert "aliases" in refusal(await api.query(aliased))


async def test_production_hides_the_schema(production: Api) -> None:
    introspection = await production.query(get_introspection_query())
    assert set(errors_of(introspection)) == {"BAD_USER_INPUT"}
    assert "introspection" in introspection["errors"][0]["message"].lower()
    typo = await production.query("{ mee { id } }")
    assert errors_of(typo) == ["BAD_USER_INPUT"]
    assert "Did you mean" not in typo["errors"][0]["message"]
    # The limits are the operator's: this one allows 500 points.
    assert "at most 500" in refusal(await production.query(f"{{ {PURCHASES} }}"))


async def test_validation_is_cached_across_requests(api: Api) -> None:
    cache: Any = _get_validate_cache(512)
    await api.query("{ __typename cached: __typename }")
    before = cache.cache_info().hits
    await api.query("{ __typename cached: __typename }")
    assert cache.cache_info().hits == before + 1


async def test_a_member_is_limited_to_their_budget(database_url: str, contract: Contract) -> None:
    settings = make_settings(
        database_url, rate_limit_user_points=10, rate_limit_address_points=1000
    )
    async with client_of(settings, contract) as api:
        flooder = (await api.register("flood@example.com"))["accessToken"]
        bystander = (await api.register("bystander@example.com"))["accessToken"]
        answers = [await api.client.post("/graphql", json={"query": ME}, headers=bearer(flooder))]
        for _ in range(9):
            answers.append(
                await api.client.post("/graphql", json={"query": ME}, headers=bearer(flooder))
            )
        assert all("errors" not in a.json() for a in answers)  # 10 x 1 point
        remaining = [int(a.headers["ratelimit-remaining"]) for a in answers]
        assert remaining == list(range(9, -1, -1))
        assert answers[-1].json()["extensions"]["cost"]["remaining"] == 0
        assert all(a.headers["ratelimit-limit"] == "10" for a in answers)

        refused = await api.client.post("/graphql", json={"query": ME}, headers=bearer(flooder))
        body = refused.json()
        assert errors_of(body) == ["RATE_LIMITED"]
        retry_after = body["errors"][0]["extensions"]["retryAfter"]
        assert 1 <= retry_after <= 60
        assert refused.headers["retry-after"] == str(retry_after)
        assert body["data"] is None

        other = await api.client.post("/graphql", json={"query": ME}, headers=bearer(bystander))
        assert "errors" not in other.json()


async def test_an_address_is_limited_whoever_signs_in(
    database_url: str, contract: Contract
) -> None:
    settings = make_settings(database_url, rate_limit_address_points=20)
    async with client_of(settings, contract) as api:
        for _ in range(20):  # the cheapest request still costs a point
            assert "errors" not in await api.query("{ __typename }")
        assert errors_of(await api.query("{ __typename }")) == ["RATE_LIMITED"]


def redis_reachable() -> bool:
    url = urlsplit(REDIS_URL)
    try:
        with socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379), 1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(
    not redis_reachable() and not os.environ.get("CI"),
    reason=f"no Redis at {REDIS_URL} (CI has one; set LIFEGRAPH_TEST_REDIS_URL)",
)
async def test_server_processes_share_one_budget_through_redis(
    database_url: str, contract: Contract, tmp_path: Path
) -> None:
    env = clean_env(
        DATABASE_URL=database_url,
        LIFEGRAPH_DATA_DIR=str(tmp_path),
        LIFEGRAPH_REDIS_URL=REDIS_URL,
        LIFEGRAPH_REDIS_PREFIX=f"lifegraph-test-{uuid.uuid4().hex}",
        LIFEGRAPH_RATE_LIMIT_ADDRESS_POINTS="30",
        **FAST_PASSWORDS,
    )
    with contextlib.ExitStack() as stack:
        bases = [
            stack.enter_context(serving(env, tmp_path, tmp_path / f"{name}.log"))[0]
            for name in ("first", "second")
        ]
        async with contextlib.AsyncExitStack() as clients:
            apis = [
                Api(
                    await clients.enter_async_context(
                        httpx.AsyncClient(base_url=base, trust_env=False)
                    ),
                    contract,
                )
                for base in bases
            ]
            for i in range(30):  # alternating: each process alone would allow all 30 again
                assert "errors" not in await apis[i % 2].query("{ __typename }")
            for api in apis:
                assert errors_of(await api.query("{ __typename }")) == ["RATE_LIMITED"]


async def test_one_request_holds_a_few_database_connections_at_most(
    api: Api, app: Starlette
) -> None:
    token = (await api.register("pool@example.com"))["accessToken"]
    pool = app.state.services.engine.sync_engine.pool
    out = {"now": 0, "most": 0}

    def checkout(*args: object) -> None:
        out["now"] += 1
        out["most"] = max(out["most"], out["now"])

    def checkin(*args: object) -> None:
        out["now"] -= 1

    event.listen(pool, "checkout", checkout)
    event.listen(pool, "checkin", checkin)
    try:
        fields = " ".join(f"t{i}: tasks(first: 1) {{ totalCount }}" for i in range(30))
        result = await api.query(f"{{ {fields} }}", token=token)
    finally:
        event.remove(pool, "checkout", checkout)
        event.remove(pool, "checkin", checkin)
    assert "errors" not in result
    # The request's own sessions, and the one that signed it in.
    assert out["most"] <= 4 + 1


LOGIN = "mutation($input: LoginInput!) { login(input: $input) { userErrors { code } } }"


@contextlib.asynccontextmanager
async def from_address(app: Starlette, address: str, contract: Contract) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://lifegraph.test") as client:
        yield Api(client, contract)


def counted_checks(app: Starlette, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    hasher = app.state.services.passwords
    checked: list[str] = []
    real = hasher.verify

    def verify(password_hash: str | None, password: str) -> bool:
        checked.append(password)
        return bool(real(password_hash, password))

    monkeypatch.setattr(hasher, "verify", verify)
    return checked


async def login_code(api: Api, email: str, password: str) -> str | None:
    result = await api.query(LOGIN, {"input": {"email": email, "password": password}})
    errors = result["data"]["login"]["userErrors"]
    return errors[0]["code"] if errors else None


async def test_concurrent_guesses_stay_within_the_limit(
    api: Api, app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    await api.register("race@example.com")
    checked = counted_checks(app, monkeypatch)
    codes = await asyncio.gather(
        *(login_code(api, "race@example.com", f"wrong-{i}") for i in range(100))
    )
    assert len(checked) == 10
    assert sorted(codes, key=str) == ["RATE_LIMITED"] * 90 + ["UNAUTHENTICATED"] * 10


async def test_one_request_checks_one_password(
    api: Api, app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = await api.register("aliased@example.com")
    checked = counted_checks(app, monkeypatch)
    logins = " ".join(
        f'l{i}: login(input: {{email: "aliased@example.com", password: "guess-{i}"}}) '
        "{ userErrors { code message } }"
        for i in range(10)
    )
    result = await api.query(f"mutation {{ {logins} }}")
    codes = [result["data"][f"l{i}"]["userErrors"][0]["code"] for i in range(10)]
    assert codes == ["UNAUTHENTICATED"] + ["RATE_LIMITED"] * 9
    assert len(checked) == 1
    assert await login_code(api, "aliased@example.com", MEMBER_PASSWORD) is None  # not locked

    changes = " ".join(
        f'c{i}: changePassword(input: {{currentPassword: "guess-{i}", '
        f'newPassword: "taken-over-{i}-password"}}) {{ ok userErrors {{ code }} }}'
        for i in range(5)
    )
    changed = await api.query(f"mutation {{ {changes} }}", token=session["accessToken"])
    assert [changed["data"][f"c{i}"]["userErrors"][0]["code"] for i in range(5)] == [
        "INVALID",
        *["RATE_LIMITED"] * 4,
    ]
    deletes = " ".join(
        f'd{i}: deleteMyAccount(password: "guess-{i}") {{ ok userErrors {{ code }} }}'
        for i in range(3)
    )
    deleted = await api.query(f"mutation {{ {deletes} }}", token=session["accessToken"])
    assert [deleted["data"][f"d{i}"]["ok"] for i in range(3)] == [False] * 3
    assert await login_code(api, "aliased@example.com", MEMBER_PASSWORD) is None


async def test_a_stranger_cannot_lock_the_owner_out(
    api: Api, app: Starlette, contract: Contract
) -> None:
    await api.register("owner@example.com")
    async with from_address(app, "203.0.113.7", contract) as stranger:
        codes = [await login_code(stranger, "owner@example.com", "guess") for _ in range(11)]
        assert codes == ["UNAUTHENTICATED"] * 10 + ["RATE_LIMITED"]
        assert await login_code(stranger, "owner@example.com", MEMBER_PASSWORD) == "RATE_LIMITED"
    async with from_address(app, "198.51.100.20", contract) as owner:
        assert await login_code(owner, "owner@example.com", MEMBER_PASSWORD) is None


async def test_guesses_from_many_addresses_meet_a_ceiling_per_email(
    database_url: str, contract: Contract
) -> None:
    settings = make_settings(database_url, sign_in_max_failures_per_email=12)
    async with client_of(settings, contract) as api:
        await api.register("ceiling@example.com")
        app = api.client._transport.app  # type: ignore[attr-defined]
        for n in range(3):
            async with from_address(app, f"192.0.2.{n}", contract) as guesser:
                for _ in range(4):
                    assert await login_code(guesser, "ceiling@example.com", "guess") == (
                        "UNAUTHENTICATED"
                    )
        async with from_address(app, "192.0.2.99", contract) as fresh:
            assert await login_code(fresh, "ceiling@example.com", "guess") == "RATE_LIMITED"


async def test_the_owasp_cheat_sheets_other_shapes_are_refused(api: Api) -> None:
    """Field duplication, fragment cycles, and mutations over GET (a CSRF path)."""
    duplicated = "{ me { " + "id " * 6000 + "} }"
    assert "tokens" in refusal(await api.query(duplicated))
    cycle = "{ me { ...A } } fragment A on User { ...B } fragment B on User { ...A }"
    assert errors_of(await api.query(cycle)) == ["BAD_USER_INPUT"]
    session = await api.register("csrf@example.com")
    over_get = await api.client.get(
        "/graphql",
        params={"query": "mutation { logoutEverywhere { ok } }"},
        headers={"Authorization": f"Bearer {session['accessToken']}"},
    )
    assert over_get.status_code == 400
    assert errors_of(over_get.json()) == ["BAD_USER_INPUT"]
    assert "errors" not in await api.op("Me", token=session["accessToken"])
