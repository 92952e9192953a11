"""/metrics: what operations, loaders, the pool, jobs, OCR, events and sockets report, its
protection in production, and the counts of several server processes added up.

Metrics are process-wide and other tests move them too, so each check compares a scrape
before with one after."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_contract import Contract
from conftest import Api, make_settings, run_jobs, served
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from receipt_images import render
from starlette.applications import Starlette
from test_cli import FAST_PASSWORDS, STARTUP_SECONDS, clean_env, serving
from test_purchases import create, signed_in
from test_receipts import uploaded
from test_subscriptions import signed_in as socket_signed_in

from db.events import Signal, publish
from lifegraph.app import create_app
from lifegraph.metrics import OTHER, OperationNames
from lifegraph.services import build_services
from lifegraph.settings import Settings
from resolvers.context import Services

TOKEN = "metrics-token-for-the-tests-0123456789"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def test_operations_are_counted_timed_priced_and_their_errors_coded(api: Api) -> None:
    before = await scrape(api.client)
    token = (await api.register("metrics@example.com"))["accessToken"]
    for _ in range(2):
        assert "errors" not in await api.op("Me", token=token)
    assert (await api.op("Me"))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await api.query("{ __typename }"))["data"] == {"__typename": "Query"}
    after = await scrape(api.client)

    seconds = "lifegraph_graphql_operation_seconds_count"
    assert moved(before, after, seconds, operation="Me", kind="query") == 3
    assert moved(before, after, seconds, operation="Register", kind="mutation") == 1
    assert moved(before, after, seconds, operation="anonymous", kind="query") == 1
    assert (
        moved(
            before, after, "lifegraph_graphql_operation_seconds_sum", operation="Me", kind="query"
        )
        > 0
    )
    errors = "lifegraph_graphql_errors_total"
    assert moved(before, after, errors, operation="Me", code="UNAUTHENTICATED") == 1
    assert moved(before, after, errors, operation="Register", code="UNAUTHENTICATED") == 0
    cost = "lifegraph_graphql_query_cost_points_count"
    assert moved(before, after, cost, operation="Me") == 3
    assert moved(before, after, "lifegraph_graphql_query_cost_points_sum", operation="Me") > 0
    labels = {
        label for (name, pairs) in after if name.startswith("lifegraph") for label, _ in pairs
    }
    assert not any("user" in label for label in labels), labels


def test_operation_names_cannot_grow_without_end() -> None:
    names = OperationNames(limit=2)
    assert [names.label(name) for name in ("A", "B", "C", "A", None)] == [
        "A",
        "B",
        OTHER,
        "A",
        "anonymous",
    ]
    assert OperationNames().label("not a name {") == OTHER


async def test_dataloader_batches_are_measured_by_loader(api: Api) -> None:
    token = await signed_in(api, "loaders@example.com")
    for day in ("01", "02", "03"):
        await create(
            api,
            token,
            (
                "Shop",
                "4.00",
                "EUR",
                "GROCERIES",
                f"2025-03-{day}T10:00:00Z",
                None,
                [("Tea", "4.00")],
            ),
        )
    before = await scrape(api.client)
    result = await api.op("Purchases", {"first": 10}, token)
    assert len(result["data"]["purchases"]["edges"]) == 3
    after = await scrape(api.client)
    batch = "lifegraph_dataloader_batch_size"
    assert moved(before, after, f"{batch}_count", loader="purchase_items") == 1
    assert moved(before, after, f"{batch}_sum", loader="purchase_items") == 3
    assert moved(before, after, f"{batch}_bucket", loader="purchase_items", le="2.0") == 0
    assert moved(before, after, f"{batch}_bucket", loader="purchase_items", le="5.0") == 1


async def test_a_processed_receipt_reports_its_job_and_its_ocr(
    api: Api, services: Services
) -> None:
    token = (await api.register("ocr-metrics@example.com"))["accessToken"]
    await uploaded(api, token, render())
    before = await scrape(api.client)
    assert value(before, "lifegraph_job_queue_depth", queue="ocr", status="todo") >= 1
    await run_jobs(services)
    after = await scrape(api.client)
    assert value(after, "lifegraph_job_queue_depth", queue="ocr", status="todo") == 0
    assert value(after, "lifegraph_job_queue_depth", queue="storage", status="doing") == 0
    ocr = "lifegraph_ocr_seconds"
    assert moved(before, after, f"{ocr}_count", engine="local", outcome="read") == 1
    assert moved(before, after, f"{ocr}_sum", engine="local", outcome="read") > 0
    job = "lifegraph_job_seconds_count"
    assert moved(before, after, job, task="process_receipt", outcome="succeeded") == 1
    assert moved(before, after, job, task="process_receipt", outcome="failed") == 0


async def test_events_fanned_out_count_each_subscriber_reached(
    app: Starlette, api: Api, services: Services
) -> None:
    user, stranger = uuid.uuid4(), uuid.uuid4()
    async with services.events.subscribe(user) as first, services.events.subscribe(user) as second:
        before = await scrape(api.client)
        async with services.sessionmaker.begin() as session:
            await publish(session, user, Signal.HABIT_CHANGED, uuid.uuid4())
            await publish(session, stranger, Signal.HABIT_CHANGED, uuid.uuid4())
        for inbox in (first, second):
            await asyncio.wait_for(inbox.get(), 10)
        after = await scrape(api.client)
    assert moved(before, after, "lifegraph_events_received_total") == 2
    assert moved(before, after, "lifegraph_events_fanned_out_total") == 2


@contextlib.asynccontextmanager
async def small_pool_app(settings: Settings) -> AsyncIterator[tuple[Services, Api]]:
    """An app whose pool holds one connection, and two more in overflow."""
    services = build_services(settings.model_copy(update={"db_pool_size": 1}))
    application = create_app(services=services)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://lifegraph.test"
        ) as client:
            yield services, Api(client, Contract.load())
    await services.engine.dispose()


async def test_the_pool_reports_connections_in_use_overflow_and_waiting(
    settings: Settings,
) -> None:
    async with small_pool_app(settings) as (services, api):
        token = (await api.register("pool@example.com"))["accessToken"]
        before = await scrape(api.client)
        async with contextlib.AsyncExitStack() as held:
            for _ in range(3):
                await held.enter_async_context(services.engine.connect())
            request = asyncio.create_task(api.op("Me", token=token))
            for _ in range(500):
                during = await scrape(api.client)
                if moved(before, during, "lifegraph_db_pool_waiting_requests") == 1:
                    break
                await asyncio.sleep(0.01)
            assert moved(before, during, "lifegraph_db_pool_waiting_requests") == 1
            assert moved(before, during, "lifegraph_db_pool_connections_in_use") == 3
            assert value(during, "lifegraph_db_pool_overflow_connections") >= 2
            assert not request.done()
        assert "errors" not in await request
        after = await scrape(api.client)
        assert moved(before, after, "lifegraph_db_pool_waiting_requests") == 0
        assert moved(before, after, "lifegraph_db_pool_connections_in_use") == 0


async def test_open_websockets_and_live_subscriptions_are_gauged(
    services: Services, contract: Contract
) -> None:
    async with (
        served(services) as server,
        httpx.AsyncClient(base_url=f"http://{server}", trust_env=False) as client,
    ):
        api = Api(client, contract)
        token = (await api.register("sockets@example.com"))["accessToken"]
        before = await scrape(client)
        async with socket_signed_in(server, contract, token) as socket:
            await socket.subscribe("DashboardUpdates")
            await socket.next_data()
            during = await scrape(client)
        assert moved(before, during, "lifegraph_websockets_open") == 1
        assert moved(before, during, "lifegraph_live_subscriptions") == 1
        for _ in range(500):
            after = await scrape(client)
            if moved(before, after, "lifegraph_websockets_open") == 0:
                break
            await asyncio.sleep(0.01)
        assert moved(before, after, "lifegraph_websockets_open") == 0
        assert moved(before, after, "lifegraph_live_subscriptions") == 0


@contextlib.asynccontextmanager
async def production_app(
    database_url: str, tmp_path: Path, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(
        database_url, environment="production", data_dir=tmp_path / "data", **overrides
    )
    services = build_services(settings)
    application = create_app(services=services)
    transport = httpx.ASGITransport(app=application)
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://lifegraph.test"
        ) as client:
            yield client
    finally:
        await services.engine.dispose()


async def test_in_production_the_metrics_need_the_token(database_url: str, tmp_path: Path) -> None:
    async with production_app(database_url, tmp_path, metrics_token=TOKEN) as client:
        for headers in (
            {},
            {"Authorization": "Bearer wrong-token-0123456789"},
            {"Authorization": TOKEN},
        ):
            refused = await client.get("/metrics", headers=headers)
            assert refused.status_code == 401
            assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert refused.headers["www-authenticate"].startswith("Bearer")
        answered = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert answered.status_code == 200
        assert "lifegraph_graphql_operation_seconds" in answered.text


async def test_in_production_without_a_token_there_are_no_metrics(
    database_url: str, tmp_path: Path
) -> None:
    async with production_app(database_url, tmp_path) as client:
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 404
        assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_a_short_token_is_refused(database_url: str) -> None:
    with pytest.raises(ValueError, match="metrics_token"):
        make_settings(database_url, metrics_token="short")


PROBE = "query MetricsProbe { __typename }"


def probes_by_process(folder: Path) -> dict[int, float]:
    """How many probes each process answered, read from its own file."""
    counts = {}
    for path in folder.glob("histogram_*.db"):
        merged = MultiProcessCollector.merge([str(path)])  # type: ignore[no-untyped-call]
        counts[int(path.stem.split("_")[-1])] = sum(
            sample.value
            for family in merged
            for sample in family.samples
            if sample.name == "lifegraph_graphql_operation_seconds_count"
            and sample.labels.get("operation") == "MetricsProbe"
        )
    return counts


def probe(base: str) -> None:
    response = httpx.post(f"{base}/graphql", json={"query": PROBE}, timeout=30, trust_env=False)
    assert response.json()["data"] == {"__typename": "Query"}


def scraped(base: str) -> Samples:
    response = httpx.get(
        f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30, trust_env=False
    )
    assert response.status_code == 200, response.text
    return parse(response.text)


def test_the_workers_of_one_server_add_up(tmp_path: Path, database_url: str) -> None:
    data = tmp_path / "data"
    stale = data / "metrics"
    stale.mkdir(parents=True)
    (stale / "counter_1.db").write_bytes(b"left by an earlier run")
    env = clean_env(
        DATABASE_URL=database_url,
        LIFEGRAPH_DATA_DIR=str(data),
        LIFEGRAPH_METRICS_TOKEN=TOKEN,
        LIFEGRAPH_DB_POOL_SIZE="2",
        LIFEGRAPH_TUNE_GC="false",
        LIFEGRAPH_RATE_LIMIT_ADDRESS_POINTS="1000000000",
        **FAST_PASSWORDS,
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with serving(env, tmp_path, tmp_path / "serve.log", "--workers", "2", "--no-migrate") as (
        base,
        process,
    ):
        assert not (stale / "counter_1.db").exists()
        sent = 0
        with ThreadPoolExecutor(8) as pool:
            while sent < 2000:
                list(pool.map(lambda _: probe(base), range(40)))
                sent += 40
                served_by = probes_by_process(stale)
                if sum(1 for count in served_by.values() if count) >= 2:
                    break
        assert sum(1 for count in served_by.values() if count) == 2, served_by
        assert sum(served_by.values()) == sent
        seconds = "lifegraph_graphql_operation_seconds_count"
        # Whichever process answers a scrape, it reports every process's count.
        for _ in range(6):
            samples = scraped(base)
            assert value(samples, seconds, operation="MetricsProbe", kind="query") == sent

        # A worker that dies leaves its counts but not its live gauges.
        dead = max(served_by, key=lambda pid: served_by[pid])
        assert dead != process.pid
        assert list(stale.glob(f"gauge_live*_{dead}.db"))
        os.kill(dead, signal.SIGKILL)
        deadline = time.monotonic() + STARTUP_SECONDS
        replaced = False
        while not replaced:
            assert time.monotonic() < deadline, "the dead worker was not replaced"
            with contextlib.suppress(httpx.TransportError):
                samples = scraped(base)
                replaced = not list(stale.glob(f"gauge_live*_{dead}.db"))
            time.sleep(0.1)
        assert value(samples, seconds, operation="MetricsProbe", kind="query") == sent


def test_one_process_without_a_folder_shares_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from lifegraph.metrics import share_between_workers

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    share_between_workers(make_settings("postgresql://unused/db", data_dir=tmp_path), 1)
    assert "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    assert not (tmp_path / "metrics").exists()
