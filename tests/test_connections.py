"""How a request uses the database: one pooled connection, reads without transaction
round trips, writes in one transaction, and connections the server dropped replaced."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from conftest import Api, raw_connection
from sqlalchemy import event, text
from starlette.applications import Starlette

from db.engine import RequestSessions
from resolvers.context import Services


class Driver:
    """Counts what reaches asyncpg: pooled checkouts and transactions begun."""

    def __init__(self) -> None:
        self.checkouts = 0
        self.transactions = 0

    def checkout(self, *_: Any) -> None:
        self.checkouts += 1


@pytest.fixture
def driver(app: Starlette, monkeypatch: pytest.MonkeyPatch) -> Iterator[Driver]:
    counts = Driver()
    engine = app.state.services.engine.sync_engine
    start = asyncpg.transaction.Transaction.start

    async def counted_start(self: asyncpg.transaction.Transaction) -> None:
        counts.transactions += 1
        await start(self)

    monkeypatch.setattr(asyncpg.transaction.Transaction, "start", counted_start)
    event.listen(engine, "checkout", counts.checkout)
    yield counts
    event.remove(engine, "checkout", counts.checkout)


async def some_purchases(api: Api, count: int = 3) -> str:
    token: str = (await api.register("reader@example.com"))["accessToken"]
    for index in range(count):
        result = await api.op(
            "CreatePurchase",
            {
                "input": {
                    "merchant": f"Shop {index}",
                    "amount": "2.00",
                    "purchasedAt": "2026-03-01T10:00:00Z",
                    "items": [{"description": "thing", "amount": "2.00"}],
                }
            },
            token,
        )
        assert result["data"]["createPurchase"]["userErrors"] == []
    return token


async def test_a_page_with_its_relations_takes_one_connection_and_no_transaction(
    api: Api, driver: Driver
) -> None:
    token = await some_purchases(api)
    driver.checkouts = driver.transactions = 0
    result = await api.op("Purchases", {"first": 10}, token)
    assert len(result["data"]["purchases"]["edges"]) == 3
    assert result["data"]["purchases"]["edges"][0]["node"]["items"]
    assert driver.checkouts == 1
    assert driver.transactions == 0


async def test_a_mutation_is_one_transaction_on_the_request_connection(
    api: Api, driver: Driver
) -> None:
    token = await some_purchases(api, 0)
    driver.checkouts = driver.transactions = 0
    result = await api.op("CreateTask", {"input": {"title": "Water the plants"}}, token)
    assert result["data"]["createTask"]["userErrors"] == []
    assert driver.checkouts == 1
    assert driver.transactions == 1


async def test_the_connection_goes_back_to_the_pool_when_the_request_ends(
    api: Api, services: Services
) -> None:
    token = await some_purchases(api, 1)
    await api.op("Purchases", {"first": 10}, token)
    assert services.engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_connections_the_server_closed_in_the_pool_are_replaced_unseen(
    api: Api, services: Services, database_url: str
) -> None:
    token = await some_purchases(api, 1)
    pool = services.engine.sync_engine.pool
    assert "errors" not in await api.op("Purchases", {"first": 10}, token)
    assert pool.checkedin() >= 1  # type: ignore[attr-defined]
    async with raw_connection(database_url) as admin:
        ended = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        )
    assert ended >= pool.checkedin()  # type: ignore[attr-defined]
    await asyncio.sleep(0.2)  # the server's goodbye reaches the pooled connections
    for _ in range(3):
        result = await api.op("Purchases", {"first": 10}, token)
        assert "errors" not in result, result
        assert len(result["data"]["purchases"]["edges"]) == 1


async def test_concurrent_users_of_one_request_take_turns(services: Services) -> None:
    sessions = RequestSessions(services.engine, services.sessionmaker)
    inside = 0
    most = 0

    async def use() -> int:
        nonlocal inside, most
        async with sessions() as session:
            inside += 1
            most = max(most, inside)
            value = await session.scalar(text("SELECT pg_backend_pid()"))
            await asyncio.sleep(0.01)
            inside -= 1
            return int(value or 0)

    pids = await asyncio.gather(*(use() for _ in range(5)))
    await sessions.close()
    assert most == 1
    assert len(set(pids)) == 1


async def test_a_nested_transaction_commits_on_its_own(services: Services) -> None:
    """A throttle that records a failure inside a read must commit whatever follows."""
    sessions = RequestSessions(services.engine, services.sessionmaker)
    async with sessions() as outer:
        outer_pid = await outer.scalar(text("SELECT pg_backend_pid()"))
        async with sessions.begin() as inner:
            inner_pid = await inner.scalar(text("SELECT pg_backend_pid()"))
            await inner.execute(text("CREATE TEMPORARY TABLE nested_probe (x int)"))
    await sessions.close()
    assert outer_pid != inner_pid


async def test_a_websocket_gives_its_connection_back_after_each_use(services: Services) -> None:
    sessions = RequestSessions(services.engine, services.sessionmaker, keep=False)
    pool = services.engine.sync_engine.pool
    async with sessions() as session:
        await session.execute(text("SELECT 1"))
        assert pool.checkedout() == 1  # type: ignore[attr-defined]
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    async with sessions.begin() as session:
        await session.execute(text("SELECT 1"))
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_what_uses_the_sessions_after_the_request_gives_the_connection_back(
    services: Services,
) -> None:
    """The events of a subscription streamed over HTTP come after the operation's end."""
    sessions = RequestSessions(services.engine, services.sessionmaker)
    pool = services.engine.sync_engine.pool
    async with sessions() as session:
        await session.execute(text("SELECT 1"))
    assert pool.checkedout() == 1  # type: ignore[attr-defined]
    await sessions.close()
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
    async with sessions() as session:
        await session.execute(text("SELECT 1"))
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
