"""Subscriptions over graphql-transport-ws, against a real server on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import signal
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_contract import Contract
from conftest import (
    MEMBER_PASSWORD,
    Api,
    make_settings,
    raw_connection,
    reset,
    run_jobs,
    served,
)
from receipt_images import Receipt, render
from sqlalchemy import text
from test_cli import FAST_PASSWORDS, clean_env, serving
from test_receipts import upload
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from db.events import Inbox
from lifegraph.services import build_services
from lifegraph.settings import Settings
from lifegraph.websockets import shared_variables
from lifegraph.ws_protocol import Gate
from resolvers import dashboard as dashboard_resolvers
from resolvers.context import Services
from storage.ocr import OcrEngine

PROTOCOL = "graphql-transport-ws"


@pytest.fixture
def services(settings: Settings, local_ocr: OcrEngine) -> Services:
    tuned = settings.model_copy(
        update={"dashboard_coalesce_seconds": 0.3, "ws_init_timeout_seconds": 1.0}
    )
    return dataclasses.replace(build_services(tuned), ocr=local_ocr)


@pytest.fixture
async def http(server: str, contract: Contract) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=f"http://{server}", trust_env=False) as client:
        yield Api(client, contract)


class Socket:
    """A graphql-transport-ws client: connection_init, subscribe, next, complete."""

    def __init__(self, connection: ClientConnection, contract: Contract) -> None:
        self.connection = connection
        self.contract = contract

    async def subscribe(self, name: str, variables: dict[str, Any] | None = None) -> str:
        await self.send(
            {
                "id": name,
                "type": "subscribe",
                "payload": {
                    "query": self.contract.document_of(name),
                    "operationName": name,
                    "variables": variables or {},
                },
            }
        )
        return name

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self, within: float = 10) -> dict[str, Any]:
        frame = await asyncio.wait_for(self.connection.recv(), within)
        # graphql-transport-ws speaks in text frames; a browser would hand a page a Blob.
        assert isinstance(frame, str), frame
        message: dict[str, Any] = json.loads(frame)
        return message

    async def next_data(self, within: float = 10) -> dict[str, Any]:
        message = await self.receive(within)
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def quiet(self, seconds: float) -> list[dict[str, Any]]:
        """Everything that arrives within ``seconds``."""
        received = []
        with contextlib.suppress(TimeoutError):
            while True:
                received.append(await self.receive(seconds))
        return received


@contextlib.asynccontextmanager
async def socket_for(
    server: str, contract: Contract, payload: dict[str, Any] | None
) -> AsyncIterator[Socket]:
    async with connect(
        f"ws://{server}/graphql", subprotocols=[Subprotocol(PROTOCOL)]
    ) as connection:
        client = Socket(connection, contract)
        if payload is not None:
            await client.send({"type": "connection_init", "payload": payload})
        yield client


@contextlib.asynccontextmanager
async def signed_in(server: str, contract: Contract, token: str) -> AsyncIterator[Socket]:
    async with socket_for(server, contract, {"Authorization": f"Bearer {token}"}) as client:
        assert (await client.receive())["type"] == "connection_ack"
        yield client


async def close_code(client: Socket) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        await client.receive()
    return closed.value.rcvd.code if closed.value.rcvd else None


async def test_sockets_need_a_valid_token(server: str, contract: Contract, http: Api) -> None:
    async with socket_for(server, contract, {}) as client:
        assert await close_code(client) == 4401
    async with socket_for(server, contract, {"Authorization": "Bearer garbage"}) as client:
        assert await close_code(client) == 4401
    async with socket_for(server, contract, None) as client:
        assert await close_code(client) == 4408  # no connection_init in time
    token = (await http.register("ws@example.com"))["accessToken"]
    async with signed_in(server, contract, token) as client:
        await client.subscribe("DashboardUpdates")
        assert (await client.next_data())["dashboardUpdated"]["notesCount"] == 0


async def test_oversized_messages_close_the_socket(
    server: str, contract: Contract, http: Api
) -> None:
    token = (await http.register("big@example.com"))["accessToken"]
    async with signed_in(server, contract, token) as client:
        await client.send({"type": "ping", "payload": {"pad": "x" * (64 * 1024)}})
        assert await close_code(client) == 1009  # message too big


async def subscribe_as(client: Socket, name: str, sid: str) -> None:
    await client.send(
        {
            "id": sid,
            "type": "subscribe",
            "payload": {"query": client.contract.document_of(name), "operationName": name},
        }
    )


async def test_one_users_dashboards_share_one_recomputation(
    server: str, contract: Contract, http: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    computed: list[object] = []
    real = dashboard_resolvers.figures_of

    async def counted(services: Services, principal: object, *sessions: object) -> object:
        computed.append(principal)
        return await real(services, principal, *sessions)  # type: ignore[arg-type]

    monkeypatch.setattr(dashboard_resolvers, "figures_of", counted)
    token = (await http.register("shared@example.com"))["accessToken"]
    async with contextlib.AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(signed_in(server, contract, token)) for _ in range(3)
        ]
        for n, client in enumerate(sockets):
            for i in range(10):
                await subscribe_as(client, "DashboardUpdates", f"d{n}-{i}")
        for client in sockets:
            for _ in range(10):
                assert (await client.next_data())["dashboardUpdated"]["openTasks"] == 0
        computed.clear()
        await http.op("CreateTask", {"input": {"title": "one change"}}, token)
        for client in sockets:
            for _ in range(10):
                assert (await client.next_data())["dashboardUpdated"]["openTasks"] == 1
        assert len(computed) == 1


async def test_live_subscriptions_are_capped_per_user_across_connections(
    database_url: str, contract: Contract, local_ocr: OcrEngine, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url, data_dir=tmp_path, max_subscriptions_per_user=3, tune_gc=False
    )
    async with (
        served(dataclasses.replace(build_services(settings), ocr=local_ocr)) as server,
        httpx.AsyncClient(base_url=f"http://{server}", trust_env=False) as client,
    ):
        token = (await Api(client, contract).register("capped@example.com"))["accessToken"]
        async with (
            signed_in(server, contract, token) as first,
            signed_in(server, contract, token) as second,
        ):
            await subscribe_as(first, "DashboardUpdates", "a")
            await subscribe_as(first, "Activity", "b")
            await subscribe_as(second, "DashboardUpdates", "c")
            await first.next_data()
            await second.next_data()
            await subscribe_as(second, "ReceiptUpdates", "d")
            refused = await second.receive()
            assert refused["type"] in ("error", "next"), refused
            payload = refused["payload"]
            errors = payload if refused["type"] == "error" else payload["errors"]
            assert errors[0]["extensions"]["code"] == "RATE_LIMITED"
    await reset(database_url)


async def test_websocket_sign_ins_are_limited_per_address(
    database_url: str, contract: Contract, local_ocr: OcrEngine, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url, data_dir=tmp_path, rate_limit_connections_per_address=3, tune_gc=False
    )
    async with served(dataclasses.replace(build_services(settings), ocr=local_ocr)) as server:
        async with httpx.AsyncClient(base_url=f"http://{server}", trust_env=False) as client:
            token = (await Api(client, contract).register("sockets@example.com"))["accessToken"]
        for _ in range(3):
            async with signed_in(server, contract, token):
                pass
        async with socket_for(server, contract, {"Authorization": f"Bearer {token}"}) as late:
            assert await close_code(late) == 4429
    await reset(database_url)


async def test_dashboard_follows_changes_and_bursts_are_coalesced(
    server: str, contract: Contract, http: Api
) -> None:
    token = (await http.register("live@example.com"))["accessToken"]
    async with signed_in(server, contract, token) as client:
        await client.subscribe("DashboardUpdates")
        assert (await client.next_data())["dashboardUpdated"]["openTasks"] == 0

        await http.op("CreateTask", {"input": {"title": "one"}}, token)
        assert (await client.next_data())["dashboardUpdated"]["openTasks"] == 1

        for index in range(100):
            await http.op("CreateTask", {"input": {"title": f"burst {index}"}}, token)
        frames = [m for m in await client.quiet(1.5) if m["type"] == "next"]
        assert 1 <= len(frames) <= 10, len(frames)
        assert frames[-1]["payload"]["data"]["dashboardUpdated"]["openTasks"] == 101


async def test_users_see_only_their_own_events(server: str, contract: Contract, http: Api) -> None:
    mine = (await http.register("mine@example.com"))["accessToken"]
    yours = (await http.register("yours@example.com"))["accessToken"]
    async with signed_in(server, contract, mine) as me, signed_in(server, contract, yours) as you:
        await me.subscribe("Activity")
        await you.subscribe("Activity")
        await asyncio.sleep(0.3)
        created = await http.op("CreateNote", {"input": {"title": "secret"}}, mine)
        note_id = created["data"]["createNote"]["note"]["id"]
        event = (await me.next_data())["activity"]
        assert (event["kind"], event["entityId"], event["summary"]) == (
            "NOTE_CREATED",
            note_id,
            "Note created",
        )
        assert await you.quiet(1.0) == []


async def test_activity_filters_by_kind(server: str, contract: Contract, http: Api) -> None:
    token = (await http.register("kinds@example.com"))["accessToken"]
    async with signed_in(server, contract, token) as client:
        await client.subscribe("Activity", {"kinds": ["TASK_DELETED"]})
        await asyncio.sleep(0.3)
        task = await http.op("CreateTask", {"input": {"title": "short-lived"}}, token)
        task_id = task["data"]["createTask"]["task"]["id"]
        await http.op("DeleteTask", {"id": task_id}, token)
        event = (await client.next_data())["activity"]
        assert (event["kind"], event["entityId"]) == ("TASK_DELETED", task_id)


async def push(http: Api, token: str, mutation_id: int, change: dict[str, Any]) -> None:
    result = await http.op(
        "SyncPush",
        {"input": {"clientId": "phone", "mutationId": mutation_id, "changes": [change]}},
        token,
    )
    payload = result["data"]["syncPush"]
    assert (payload["userErrors"], payload["conflicts"]) == ([], []), payload


async def test_activity_tells_completed_tasks_and_new_habits_from_mutations_and_sync(
    server: str, contract: Contract, http: Api
) -> None:
    token = (await http.register("done@example.com"))["accessToken"]
    async with signed_in(server, contract, token) as client:
        await client.subscribe("Activity")
        await asyncio.sleep(0.3)
        created = await http.op("CreateTask", {"input": {"title": "write"}}, token)
        first = created["data"]["createTask"]["task"]["id"]
        for change in ({"title": "write more"}, {"status": "DONE"}, {"title": "written"}):
            await http.op("UpdateTask", {"id": first, "input": change}, token)
        created = await http.op("CreateTask", {"input": {"title": "sync"}}, token)
        second = created["data"]["createTask"]["task"]
        fields = {"status": "DONE"}
        change = {"collection": "TASKS", "id": second["id"], "version": second["version"]}
        await push(http, token, 1, {**change, "fields": fields})
        habit = await http.op("CreateHabit", {"input": {"name": "Read"}}, token)
        read = habit["data"]["createHabit"]["habit"]["id"]
        run = f"habit_{uuid.uuid4()}"
        await push(http, token, 2, {"collection": "HABITS", "id": run, "fields": {"name": "Run"}})
        await http.op("UpdateHabit", {"id": read, "input": {"name": "Read more"}}, token)
        await http.op("DeleteTask", {"id": first}, token)

        received: list[tuple[str, str, str]] = []
        while not received or received[-1][0] != "TASK_DELETED":
            event = (await client.next_data())["activity"]
            received.append((event["kind"], event["entityId"], event["summary"]))
    assert received == [
        ("TASK_CREATED", first, "Task created"),
        ("TASK_UPDATED", first, "Task updated"),
        ("TASK_COMPLETED", first, "Task completed"),
        ("TASK_UPDATED", first, "Task updated"),  # done already
        ("TASK_CREATED", second["id"], "Task created"),
        ("TASK_COMPLETED", second["id"], "Task completed"),
        ("HABIT_CREATED", read, "Habit created"),
        ("HABIT_CREATED", run, "Habit created"),
        # Renaming a habit moves no activity.
        ("TASK_DELETED", first, "Task deleted"),
    ]


async def test_completions_and_new_habits_move_the_dashboard(
    server: str, contract: Contract, http: Api
) -> None:
    token = (await http.register("board@example.com"))["accessToken"]
    async with signed_in(server, contract, token) as client:
        await client.subscribe("DashboardUpdates")
        assert (await client.next_data())["dashboardUpdated"]["openTasks"] == 0
        created = await http.op("CreateTask", {"input": {"title": "one"}}, token)
        assert (await client.next_data())["dashboardUpdated"]["openTasks"] == 1
        task_id = created["data"]["createTask"]["task"]["id"]
        await http.op("UpdateTask", {"id": task_id, "input": {"status": "DONE"}}, token)
        assert (await client.next_data())["dashboardUpdated"]["openTasks"] == 0
        await http.op("CreateHabit", {"input": {"name": "Stretch"}}, token)
        assert (await client.next_data())["dashboardUpdated"]["habitsActive"] == 1


async def test_a_dropped_listener_reconnects_and_refreshes_dashboards(
    server: str, contract: Contract, http: Api, services: Services
) -> None:
    token = (await http.register("resync@example.com"))["accessToken"]
    async with signed_in(server, contract, token) as client:
        await client.subscribe("DashboardUpdates")
        await client.next_data()
        await asyncio.wait_for(services.events.listening.wait(), 10)
        await services.events.drop_connection()
        # A fresh dashboard arrives once the listener is back, with no change made.
        assert (await client.next_data(within=15))["dashboardUpdated"]["notesCount"] == 0
        await http.op("CreateNote", {"input": {"title": "after"}}, token)
        assert (await client.next_data())["dashboardUpdated"]["notesCount"] == 1


async def test_an_expired_token_ends_the_subscription(
    server: str, contract: Contract, http: Api, services: Services
) -> None:
    token = (await http.register("expiry@example.com"))["accessToken"]
    async with signed_in(server, contract, token) as client:
        original = services.clock
        object.__setattr__(services, "clock", lambda: original() + timedelta(hours=1))
        try:
            await client.subscribe("DashboardUpdates")
            await client.next_data()
            await http.op("CreateNote", {"input": {"title": "x"}}, token)
            message = await client.receive()
        finally:
            object.__setattr__(services, "clock", original)
        assert message["type"] in ("next", "error"), message

        errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
        assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_waiting_subscription_ends_when_its_credentials_expire() -> None:
    """No event needed: the process's one expiry timer wakes the waiting queue, earliest
    deadline first, and a queue registered twice is expired once."""
    expiries = dashboard_resolvers.Expiries()
    now = datetime.now(UTC)
    later, sooner = Inbox[int](10), Inbox[int](10)
    expiries.add(now + timedelta(seconds=30), now, later)
    expiries.add(now + timedelta(seconds=0.05), now, sooner)
    expiries.add(now + timedelta(seconds=0.05), now, sooner)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(sooner.get(), 5)
    later.put_nowait(1)
    assert await asyncio.wait_for(later.get(), 1) == 1


async def test_a_paused_transport_holds_sends_until_it_drains() -> None:
    gate = Gate()
    await asyncio.wait_for(gate.wait(), 1)  # open: no wait
    gate.clear()
    waiting = asyncio.ensure_future(gate.wait())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    gate.set()
    await asyncio.wait_for(waiting, 1)
    assert gate.is_set()


def test_subscriptions_share_their_variables_read_only() -> None:
    first = shared_variables({"kinds": ["TASK_CREATED"], "f": {"a": [1]}})
    assert shared_variables({"f": {"a": [1]}, "kinds": ["TASK_CREATED"]}) is first
    assert first["kinds"] == ("TASK_CREATED",)
    with pytest.raises(TypeError):
        first["f"]["a"] = 2
    large = {"text": "x" * 1000}
    assert shared_variables(large) is large


async def test_no_listener_or_task_is_left_behind(
    server: str, contract: Contract, http: Api, services: Services
) -> None:
    token = (await http.register("cycles@example.com"))["accessToken"]
    before = len(asyncio.all_tasks())
    for _ in range(200):
        async with signed_in(server, contract, token) as client:
            await client.subscribe("DashboardUpdates")
            await client.next_data()
    await asyncio.sleep(0.5)
    assert services.events.subscriber_count == 0
    assert len(asyncio.all_tasks()) <= before + 2


async def test_a_forbidden_subscription_closes_with_4403(
    server: str, contract: Contract, http: Api, services: Services
) -> None:
    session = await http.register("no-receipts@example.com")
    async with services.engine.begin() as connection:
        await connection.execute(
            text("DELETE FROM user_roles WHERE user_id = CAST(:id AS uuid)"),
            {"id": session["user"]["id"].removeprefix("user_")},
        )
    async with signed_in(server, contract, session["accessToken"]) as client:
        await client.subscribe("ReceiptUpdates")
        assert await close_code(client) == 4403


async def test_the_legacy_graphql_ws_protocol_still_works(
    server: str, contract: Contract, http: Api
) -> None:
    token = (await http.register("legacy@example.com"))["accessToken"]
    document = contract.document_of("DashboardUpdates")
    async with connect(
        f"ws://{server}/graphql", subprotocols=[Subprotocol("graphql-ws")]
    ) as connection:
        await connection.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert json.loads(await connection.recv())["type"] == "connection_ack"
        await connection.send(
            json.dumps({"id": "1", "type": "start", "payload": {"query": document}})
        )
        while (message := json.loads(await asyncio.wait_for(connection.recv(), 10)))[
            "type"
        ] == "ka":
            continue
        assert message["type"] == "data", message
        assert message["payload"]["data"]["dashboardUpdated"]["openTasks"] == 0
    async with connect(
        f"ws://{server}/graphql", subprotocols=[Subprotocol("graphql-ws")]
    ) as connection:
        await connection.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await connection.recv())["type"] == "connection_error"


@pytest.mark.usefixtures("emptied")
async def test_events_reach_subscribers_of_another_server_process(
    database_url: str, contract: Contract, tmp_path: Path
) -> None:
    """A mutation handled by one server process reaches a subscriber of another."""
    env = clean_env(DATABASE_URL=database_url, LIFEGRAPH_DATA_DIR=str(tmp_path), **FAST_PASSWORDS)
    with contextlib.ExitStack() as stack:
        first, _ = stack.enter_context(serving(env, tmp_path, tmp_path / "first.log"))
        second, _ = stack.enter_context(serving(env, tmp_path, tmp_path / "second.log"))
        async with httpx.AsyncClient(base_url=second, trust_env=False) as client:
            http = Api(client, contract)
            token = (await http.register("two-processes@example.com"))["accessToken"]
            host = first.removeprefix("http://")
            async with signed_in(host, contract, token) as subscriber:
                await subscriber.subscribe("Activity", {"kinds": ["TASK_CREATED"]})
                await asyncio.sleep(0.5)  # the first process's listener connects
                created = await http.op("CreateTask", {"input": {"title": "elsewhere"}}, token)
                task_id = created["data"]["createTask"]["task"]["id"]
                event = (await subscriber.next_data())["activity"]
                assert event["entityId"] == task_id
            async with httpx.AsyncClient(base_url=first, trust_env=False) as other:
                cleanup = await Api(other, contract).op(
                    "DeleteMyAccount", {"password": MEMBER_PASSWORD}, token
                )
                assert cleanup["data"]["deleteMyAccount"]["ok"] is True


async def test_receipt_updates_follow_every_status_with_ocr_once_read(
    server: str, contract: Contract, http: Api, services: Services
) -> None:
    token = (await http.register("receipt-live@example.com"))["accessToken"]
    printed = Receipt()
    async with signed_in(server, contract, token) as client:
        await client.subscribe("ReceiptUpdates")
        await asyncio.sleep(0.3)
        response = await upload(http, token, render(printed))
        receipt_id = response.json()["data"]["uploadReceipt"]["receipt"]["id"]
        await run_jobs(services)
        seen: list[dict[str, Any]] = []
        while not seen or seen[-1]["status"] != "PROCESSED":
            seen.append((await client.next_data())["receiptUpdated"])
        assert [r["status"] for r in seen] == ["PENDING", "PROCESSING", "PROCESSED"]
        assert {r["id"] for r in seen} == {receipt_id}
        assert seen[0]["ocr"] is None
        assert Decimal(seen[-1]["ocr"]["total"]) == printed.total


@pytest.mark.usefixtures("emptied")
async def test_sigterm_drains_requests_and_closes_websockets(
    database_url: str, contract: Contract, tmp_path: Path
) -> None:
    """In flight: a request waiting on a row lock, and a live subscription."""
    env = clean_env(DATABASE_URL=database_url, LIFEGRAPH_DATA_DIR=str(tmp_path), **FAST_PASSWORDS)
    with serving(env, tmp_path, tmp_path / "serve.log") as (base, process):
        async with httpx.AsyncClient(base_url=base, trust_env=False) as client:
            http = Api(client, contract)
            session = await http.register("drain@example.com")
            token = session["accessToken"]
            user_id = uuid.UUID(session["user"]["id"].removeprefix("user_"))
            async with (
                signed_in(base.removeprefix("http://"), contract, token) as subscriber,
                raw_connection(database_url) as holder,
            ):
                await subscriber.subscribe("DashboardUpdates")
                await subscriber.next_data()
                locked = holder.transaction()
                await locked.start()
                await holder.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", user_id)
                renamed = asyncio.create_task(
                    http.op("UpdateProfile", {"input": {"displayName": "Drained"}}, token)
                )
                await asyncio.sleep(0.5)  # the request now waits for the lock
                process.send_signal(signal.SIGTERM)
                assert await close_code(subscriber) == 1012  # service restart: reconnect
                with pytest.raises(httpx.ConnectError):
                    async with httpx.AsyncClient(base_url=base, trust_env=False) as late:
                        await late.get("/healthz")
                assert not renamed.done()
                await locked.rollback()
            result = await asyncio.wait_for(renamed, 10)
            assert result["data"]["updateProfile"]["user"]["displayName"] == "Drained"
        assert await asyncio.to_thread(process.wait, 30) == 128 + signal.SIGTERM
