"""Webhooks: an outbox written with each change, delivered by the worker to a receiver on
loopback, signed (Standard Webhooks), in order, retried, disabled after a day of
failures, at least once across a worker that dies; SSRF rules; owners only."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import signal
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import uvicorn
from conftest import Api, make_settings, run_jobs
from sqlalchemy import text
from standardwebhooks import Webhook as Verifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from test_cli import clean_env, free_port, lifegraph

from lifegraph.services import build_services
from resolvers import webhook_delivery
from resolvers.context import Services

HANG_SECONDS = 60.0


class Clock:
    """The services' clock, moved by the test (retries and disabling go by it)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def services(services: Services, clock: Clock) -> Services:
    return dataclasses.replace(services, clock=clock)


class Receiver:
    """An HTTP endpoint that records what it receives and answers ``status``; with
    ``hang`` set it holds the first request open until released. It processes each
    event once, by its ``webhook-id``."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.processed: list[str] = []
        self.status = 200
        self.hang = False
        self.first_arrived = asyncio.Event()
        self.release = asyncio.Event()
        self.url = ""

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        self.received.append((dict(request.headers), body))
        self.first_arrived.set()
        if self.hang and len(self.received) == 1:
            await asyncio.wait_for(self.release.wait(), HANG_SECONDS)
        if self.status < 300 and request.headers["webhook-id"] not in self.processed:
            self.processed.append(request.headers["webhook-id"])
        return Response(status_code=self.status)

    @property
    def event_ids(self) -> list[str]:
        return [headers["webhook-id"] for headers, _ in self.received]

    def bodies(self) -> list[Any]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    port = free_port()
    app = Starlette(routes=[Route("/hook", found.handle, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    assert server.started, "the receiver did not start within 10 s"
    found.url = f"http://127.0.0.1:{port}/hook"
    yield found
    found.release.set()
    server.should_exit = True
    await asyncio.wait_for(task, 10)


async def create_webhook(
    api: Api, token: str, url: str, kinds: list[str], description: str | None = None
) -> dict[str, Any]:
    result = await api.op(
        "CreateWebhook",
        {"input": {"url": url, "kinds": kinds, "description": description}},
        token,
    )
    payload: dict[str, Any] = result["data"]["createWebhook"]
    return payload


async def create_task(api: Api, token: str, title: str) -> str:
    result = await api.op("CreateTask", {"input": {"title": title}}, token)
    task_id: str = result["data"]["createTask"]["task"]["id"]
    return task_id


async def listed(api: Api, token: str) -> list[dict[str, Any]]:
    result = await api.op("Webhooks", token=token)
    assert "errors" not in result, result
    hooks: list[dict[str, Any]] = result["data"]["webhooks"]
    return hooks


def deliveries_of(hook: dict[str, Any]) -> list[dict[str, Any]]:
    """Oldest first (the list is newest first)."""
    return [edge["node"] for edge in reversed(hook["deliveries"]["edges"])]


async def retry_due(services: Services) -> None:
    """What the maintenance does, then the worker."""
    await webhook_delivery.queue_due(services)
    await run_jobs(services)


def test_signatures_follow_the_standard_webhooks_test_vector() -> None:
    """The example of the specification: secret, id, timestamp, body and signature."""
    headers = webhook_delivery.signed_headers(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        datetime.fromtimestamp(1614265330, UTC),
        '{"test": 2432232314}',
    )
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert headers["webhook-timestamp"] == "1614265330"


async def test_events_arrive_in_order_and_signed(
    api: Api, services: Services, receiver: Receiver
) -> None:
    token = (await api.register("hooks@example.com"))["accessToken"]
    created = await create_webhook(api, token, receiver.url, ["TASK_CREATED"], "Tasks to CRM")
    assert created["userErrors"] == []
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert created["webhook"]["active"] is True
    assert created["webhook"]["kinds"] == ["TASK_CREATED"]

    task_ids = [await create_task(api, token, f"Task {n}") for n in range(3)]
    await api.op("CreateNote", {"input": {"title": "Not subscribed"}}, token)
    await run_jobs(services)

    assert [body["data"]["id"] for body in receiver.bodies()] == task_ids
    assert {body["type"] for body in receiver.bodies()} == {"TASK_CREATED"}
    verifier = Verifier(secret)
    for headers, body in receiver.received:
        verifier.verify(body, headers)
        assert headers["webhook-id"].startswith("evt_")
    assert len(set(receiver.event_ids)) == 3

    [hook] = await listed(api, token)
    assert hook["deliveries"]["totalCount"] == 3
    statuses = [(d["status"], d["attempts"], d["responseStatus"]) for d in deliveries_of(hook)]
    assert statuses == [("DELIVERED", 1, 200)] * 3
    assert [d["eventId"] for d in deliveries_of(hook)] == receiver.event_ids
    assert "secret" not in hook
    asked = await api.query("{ webhooks { id secret } }", token=token)
    assert asked["errors"], "the secret is never readable again"


async def test_a_failing_endpoint_is_retried_with_backoff_in_order(
    api: Api, services: Services, receiver: Receiver, clock: Clock
) -> None:
    token = (await api.register("retry@example.com"))["accessToken"]
    await create_webhook(api, token, receiver.url, ["TASK_CREATED", "TASK_UPDATED"])
    receiver.status = 500
    first = await create_task(api, token, "First")
    second = await create_task(api, token, "Second")
    await run_jobs(services)
    assert len(receiver.received) == 1, "later deliveries wait behind the failing one"

    [hook] = await listed(api, token)
    failed, waiting = deliveries_of(hook)
    assert (failed["status"], failed["attempts"], failed["responseStatus"]) == (
        "PENDING",
        1,
        500,
    )
    assert (waiting["status"], waiting["attempts"]) == ("PENDING", 0)

    await retry_due(services)
    assert len(receiver.received) == 1, "not before its backoff"
    clock.advance(seconds=5)
    await retry_due(services)
    assert len(receiver.received) == 2
    clock.advance(seconds=5)
    await retry_due(services)
    assert len(receiver.received) == 2, "the second wait is twice as long"
    receiver.status = 200
    clock.advance(seconds=5)
    await retry_due(services)

    ids = [body["data"]["id"] for body in receiver.bodies()]
    assert ids == [first, first, first, second]
    assert receiver.event_ids[0] == receiver.event_ids[1] == receiver.event_ids[2]
    [hook] = await listed(api, token)
    assert [(d["status"], d["attempts"]) for d in deliveries_of(hook)] == [
        ("DELIVERED", 3),
        ("DELIVERED", 1),
    ]


async def test_a_day_of_failures_disables_the_endpoint_until_enabled_again(
    api: Api, services: Services, receiver: Receiver, clock: Clock
) -> None:
    token = (await api.register("disabled@example.com"))["accessToken"]
    hook_id = (await create_webhook(api, token, receiver.url, ["TASK_CREATED"]))["webhook"]["id"]
    receiver.status = 503
    await create_task(api, token, "Never arrives")
    await create_task(api, token, "Neither")
    await run_jobs(services)
    clock.advance(hours=25)
    await retry_due(services)

    [hook] = await listed(api, token)
    assert hook["active"] is False
    assert [d["status"] for d in deliveries_of(hook)] == ["FAILED", "FAILED"]
    await create_task(api, token, "While disabled")
    attempts = len(receiver.received)
    await retry_due(services)
    assert len(receiver.received) == attempts
    [hook] = await listed(api, token)
    assert hook["deliveries"]["totalCount"] == 2, "a disabled endpoint gets no deliveries"

    receiver.status = 204
    enabled = await api.op("UpdateWebhook", {"id": hook_id, "input": {"active": True}}, token)
    assert enabled["data"]["updateWebhook"]["webhook"]["active"] is True
    resumed = await create_task(api, token, "After enabling")
    await run_jobs(services)
    assert receiver.bodies()[-1]["data"]["id"] == resumed
    [hook] = await listed(api, token)
    assert deliveries_of(hook)[-1]["status"] == "DELIVERED"


async def test_a_worker_killed_mid_delivery_leaves_it_to_be_sent_again(
    api: Api, services: Services, receiver: Receiver
) -> None:
    token = (await api.register("killed@example.com"))["accessToken"]
    await create_webhook(api, token, receiver.url, ["TASK_CREATED"])
    receiver.hang = True
    tasks = [await create_task(api, token, f"Task {n}") for n in range(2)]

    settings = services.settings
    env = clean_env(
        LIFEGRAPH_DATABASE_URL=str(settings.database_url),
        LIFEGRAPH_SECRET_KEY=settings.secret_key,
        LIFEGRAPH_DATA_DIR=str(settings.data_dir),
        LIFEGRAPH_LOG_LEVEL="warning",
    )
    worker = await asyncio.create_subprocess_exec(
        *lifegraph(),
        "worker",
        "--concurrency",
        "1",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await asyncio.wait_for(receiver.first_arrived.wait(), HANG_SECONDS)
    finally:
        worker.send_signal(signal.SIGKILL)  # no shutdown: the delivery's transaction is cut
        await asyncio.wait_for(worker.wait(), 10)
    receiver.release.set()

    [hook] = await listed(api, token)
    assert [d["status"] for d in deliveries_of(hook)] == ["PENDING", "PENDING"]
    await retry_due(services)

    assert receiver.processed == [d["eventId"] for d in deliveries_of(hook)]
    assert receiver.event_ids[0] == receiver.event_ids[1], "the first was sent again"
    assert [body["data"]["id"] for body in receiver.bodies()][1:] == tasks
    [hook] = await listed(api, token)
    assert [d["status"] for d in deliveries_of(hook)] == ["DELIVERED", "DELIVERED"]


@contextlib.asynccontextmanager
async def production(services: Services) -> AsyncIterator[Services]:
    settings = services.settings
    built = build_services(
        make_settings(
            str(settings.database_url), environment="production", data_dir=settings.data_dir
        )
    )
    try:
        yield built
    finally:
        await built.engine.dispose()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080/hook", "https://"),
        ("https://10.0.0.1/hook", "private"),
        ("https://localhost/hook", "private"),
        ("https://[::1]/hook", "private"),
        ("https://169.254.169.254/latest", "private"),
        ("ftp://example.com/", "https://"),
    ],
)
async def test_production_refuses_private_and_plain_http_urls(url: str, reason: str) -> None:
    from resolvers import webhook_urls

    with pytest.raises(webhook_urls.UnsafeUrl, match=reason):
        await webhook_urls.check(url, production=True)
    await webhook_urls.check("https://93.184.215.14/hook", production=True)


async def test_production_api_refuses_and_reports_every_problem(
    services: Services, api: Api
) -> None:
    """Through the API of a production server: every problem of the input at once."""
    from client_contract import Contract
    from httpx import ASGITransport, AsyncClient

    from lifegraph.app import create_app

    async with production(services) as built:
        app = create_app(services=built)
        async with (
            app.router.lifespan_context(app),
            AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client,
        ):
            prod = Api(client, Contract.load())
            token = (await prod.register("prod@example.com"))["accessToken"]
            created = await create_webhook(prod, token, "https://10.0.0.1/hook", [], "x" * 501)
            fields = sorted(tuple(error["field"]) for error in created["userErrors"])
            assert fields == [("input", "description"), ("input", "kinds"), ("input", "url")]
            assert created["webhook"] is None
            assert await listed(prod, token) == []


async def test_delivery_checks_the_address_again(
    api: Api, services: Services, receiver: Receiver
) -> None:
    """A host that resolved to a public address at registration may not later: the
    attempt fails with the reason, and nothing is sent."""
    token = (await api.register("rebind@example.com"))["accessToken"]
    await create_webhook(api, token, receiver.url, ["TASK_CREATED"])
    await create_task(api, token, "Rebound")
    async with services.engine.begin() as connection:
        await connection.execute(
            text("UPDATE webhooks SET url = :url"),
            {"url": receiver.url.replace("http://127.0.0.1", "https://localhost")},
        )
    async with production(services) as built:
        await built.jobs.open()
        try:
            await run_jobs(dataclasses.replace(built, clock=services.clock))
        finally:
            await built.jobs.close()
    assert receiver.received == []
    [hook] = await listed(api, token)
    [delivery] = deliveries_of(hook)
    assert delivery["status"] == "PENDING"
    assert delivery["attempts"] == 1
    async with services.engine.connect() as connection:
        error = await connection.scalar(text("SELECT last_error FROM webhook_deliveries"))
    assert "private" in error


async def test_only_the_owner_sees_changes_or_deletes_a_webhook(
    api: Api, services: Services, receiver: Receiver
) -> None:
    owner = (await api.register("owner@example.com"))["accessToken"]
    other = (await api.register("other@example.com"))["accessToken"]
    hook_id = (await create_webhook(api, owner, receiver.url, ["TASK_CREATED"]))["webhook"]["id"]
    await create_task(api, other, "Someone else's task")
    await run_jobs(services)
    assert receiver.received == [], "only the owner's events"

    assert await listed(api, other) == []
    node = await api.query("query($id: ID!) { node(id: $id) { id } }", {"id": hook_id}, other)
    assert node["data"]["node"] is None
    for name, variables in [
        ("UpdateWebhook", {"id": hook_id, "input": {"url": "http://127.0.0.1:1/x"}}),
        ("DeleteWebhook", {"id": hook_id}),
    ]:
        result = await api.op(name, variables, other)
        payload = next(iter(result["data"].values()))
        assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"]
    [hook] = await listed(api, owner)
    assert hook["url"] == receiver.url

    deleted = await api.op("DeleteWebhook", {"id": hook_id}, owner)
    assert deleted["data"]["deleteWebhook"]["deletedId"] == hook_id
    assert await listed(api, owner) == []
    unauthenticated = await api.op("Webhooks")
    assert unauthenticated["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_updates_are_checked_and_limits_hold(
    api: Api, services: Services, receiver: Receiver
) -> None:
    token = (await api.register("limits@example.com"))["accessToken"]
    hook_id = (await create_webhook(api, token, receiver.url, ["TASK_CREATED"]))["webhook"]["id"]
    updated = await api.op(
        "UpdateWebhook",
        {"id": hook_id, "input": {"kinds": ["NOTE_CREATED", "NOTE_CREATED"], "description": "N"}},
        token,
    )
    webhook = updated["data"]["updateWebhook"]["webhook"]
    assert (webhook["kinds"], webhook["description"]) == (["NOTE_CREATED"], "N")
    refused = await api.op("UpdateWebhook", {"id": hook_id, "input": {"kinds": []}}, token)
    assert refused["data"]["updateWebhook"]["userErrors"][0]["field"] == ["input", "kinds"]

    for _ in range(services.settings.webhooks_per_user - 1):
        await create_webhook(api, token, receiver.url, ["TASK_CREATED"])
    over = await create_webhook(api, token, receiver.url, ["TASK_CREATED"])
    assert [e["code"] for e in over["userErrors"]] == ["LIMIT_REACHED"]


async def test_the_list_costs_the_same_statements_for_any_number_of_webhooks(
    api: Api, services: Services, receiver: Receiver, statements: Any
) -> None:
    token = (await api.register("counted@example.com"))["accessToken"]
    counts: list[int] = []
    for hooks in (1, 4):
        while len(await listed(api, token)) < hooks:
            await create_webhook(api, token, receiver.url, ["TASK_CREATED"])
        await create_task(api, token, "Counted")
        statements.count = 0
        found = await listed(api, token)
        counts.append(statements.count)
        assert all(hook["deliveries"]["totalCount"] >= 1 for hook in found)
    assert counts[0] == counts[1]
