"""Tracing: the spans of one request nest (HTTP, GraphQL operation, SQL, S3), a job is a
trace of its own with its OCR and S3 spans, a caller's ``traceparent`` is continued, and
with tracing off nothing is installed.

Spans go to the SDK's in-memory exporter, through a provider the tests give
:func:`lifegraph.tracing.start_tracing`; each test takes the instrumentation off and
resets OpenTelemetry's global provider after, so the rest of the suite runs untraced."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import httpx
import pytest
import uvicorn
from client_contract import Contract
from conftest import RESET, Api, make_settings, reset, run_jobs
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.test.globals_test import reset_trace_globals
from opentelemetry.trace import SpanKind
from receipt_images import render
from sqlalchemy import text
from starlette.applications import Starlette
from test_cli import free_port
from test_receipts import uploaded
from test_subscriptions import signed_in, subscribe_as

from lifegraph.app import create_app, server_options
from lifegraph.settings import Settings
from lifegraph.tracing import Tracing, start_tracing, tracing_enabled
from resolvers.context import Services

SQL_SCOPE = "opentelemetry.instrumentation.sqlalchemy"
BOTO_SCOPE = "opentelemetry.instrumentation.botocore"


@pytest.fixture
def settings(
    database_url: str, tmp_path: Path, moto_endpoint: str, request: pytest.FixtureRequest
) -> Settings:
    """Local storage by default; S3 on moto's server for tests marked ``s3``."""
    s3 = {}
    if request.node.get_closest_marker("s3"):
        s3 = {
            "s3_bucket": f"traced-{uuid.uuid4().hex[:8]}",
            "s3_endpoint_url": moto_endpoint,
            "s3_access_key_id": "testing",
            "s3_secret_access_key": "testing",
        }
    return make_settings(database_url, data_dir=tmp_path / "data", **s3)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracing(
    settings: Settings, services: Services, exporter: InMemorySpanExporter
) -> Iterator[Tracing]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    started = start_tracing(settings, services.engine, provider=provider)
    assert started is not None
    yield started
    started.shutdown()
    reset_trace_globals()


@pytest.fixture
async def app(services: Services, tracing: Tracing) -> AsyncIterator[Starlette]:
    application = create_app(services=services, tracing=tracing)
    async with application.router.lifespan_context(application):
        yield application
    async with services.engine.begin() as connection:
        await connection.execute(text(RESET))


def children_of(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == span_id(span)]


def descendants_of(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> list[ReadableSpan]:
    found = []
    for child in children_of(span, spans):
        found += [child, *descendants_of(child, spans)]
    return found


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


def trace_ids(spans: Sequence[ReadableSpan]) -> set[int]:
    return {span.context.trace_id for span in spans if span.context is not None}


def scoped(spans: Sequence[ReadableSpan], scope: str) -> list[ReadableSpan]:
    return [s for s in spans if s.instrumentation_scope and s.instrumentation_scope.name == scope]


def named(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    matching = [span for span in spans if span.name == name]
    assert len(matching) == 1, [span.name for span in spans]
    return matching[0]


async def test_the_spans_of_one_request_nest(api: Api, exporter: InMemorySpanExporter) -> None:
    token = (await api.register("traced@example.com"))["accessToken"]
    exporter.clear()

    result = await api.op("Me", token=token)
    assert result["data"]["me"]["email"] == "traced@example.com"

    spans = exporter.get_finished_spans()
    assert len(trace_ids(spans)) == 1
    roots = [span for span in spans if span.parent is None]
    assert [(root.name, root.kind) for root in roots] == [("POST /graphql", SpanKind.SERVER)]
    request = roots[0]
    assert request.attributes is not None
    assert request.attributes["http.route"] == "/graphql"

    operation = named(spans, "query Me")
    assert operation.parent is not None
    assert operation.parent.span_id == span_id(request)
    assert operation.attributes is not None
    assert operation.attributes["graphql.operation.name"] == "Me"
    assert operation.attributes["graphql.operation.type"] == "query"
    assert "lifegraph.graphql.error_codes" not in operation.attributes
    assert len(str(operation.attributes["lifegraph.graphql.document.sha256"])) == 64
    inside = descendants_of(operation, spans)
    assert {"graphql.parse", "graphql.validate", "graphql.execute"} <= {s.name for s in inside}

    statements = scoped(spans, SQL_SCOPE)
    assert statements
    assert all(statement in inside for statement in statements)
    assert any(
        "users" in str((statement.attributes or {}).get("db.statement", ""))
        for statement in statements
    )


async def test_an_operation_span_carries_its_error_codes(
    api: Api, exporter: InMemorySpanExporter
) -> None:
    exporter.clear()
    result = await api.op("Me")
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    operation = named(exporter.get_finished_spans(), "query Me")
    assert operation.attributes is not None
    assert operation.attributes["lifegraph.graphql.error_codes"] == ("UNAUTHENTICATED",)
    assert operation.status.is_unset


async def test_a_callers_trace_is_continued(api: Api, exporter: InMemorySpanExporter) -> None:
    caller_trace, caller_span = uuid.uuid4().int >> 32, uuid.uuid4().int >> 64
    traceparent = f"00-{caller_trace:032x}-{caller_span:016x}-01"
    exporter.clear()

    response = await api.client.post(
        "/graphql",
        json={"query": api.contract.document_of("Me"), "operationName": "Me"},
        headers={"traceparent": traceparent},
    )
    assert response.status_code == 200

    spans = exporter.get_finished_spans()
    assert trace_ids(spans) == {caller_trace}
    request = named(spans, "POST /graphql")
    assert request.parent is not None
    assert (request.parent.span_id, request.parent.is_remote) == (caller_span, True)


async def test_probes_are_not_traced(api: Api, exporter: InMemorySpanExporter) -> None:
    exporter.clear()
    assert (await api.client.get("/healthz")).status_code == 200
    assert exporter.get_finished_spans() == ()


@pytest.mark.s3
async def test_uploads_and_jobs_trace_s3_and_ocr(
    api: Api, services: Services, exporter: InMemorySpanExporter
) -> None:
    token = (await api.register("traced-receipt@example.com"))["accessToken"]
    image = render()
    exporter.clear()

    await uploaded(api, token, image)
    spans = exporter.get_finished_spans()
    assert len(trace_ids(spans)) == 1
    operation = named(spans, "mutation UploadReceipt")
    stored = [span.name for span in scoped(descendants_of(operation, spans), BOTO_SCOPE)]
    assert "S3.PutObject" in stored
    exporter.clear()

    await run_jobs(services)
    spans = exporter.get_finished_spans()
    job = named(spans, "job process_receipt")
    assert (job.parent, job.kind) == (None, SpanKind.CONSUMER)
    assert job.attributes is not None
    assert job.attributes["messaging.destination.name"] == "ocr"
    assert job.attributes["lifegraph.job.attempt"] == 1
    inside = descendants_of(job, spans)
    ocr = named(inside, "ocr.read")
    assert ocr.attributes is not None
    assert ocr.attributes["lifegraph.ocr.engine"] == "local"
    assert ocr.attributes["lifegraph.ocr.image.bytes"] == len(image)
    assert ocr.attributes["lifegraph.ocr.content_type"] == "image/jpeg"
    assert "S3.GetObject" in [span.name for span in scoped(inside, BOTO_SCOPE)]
    assert scoped(inside, SQL_SCOPE)


async def test_a_subscription_is_a_trace_of_its_own(
    services: Services,
    tracing: Tracing,
    exporter: InMemorySpanExporter,
    contract: Contract,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Websockets skip the HTTP middleware: the subscription's span is the root, and its
    resolvers' SQL nests under it."""
    port = free_port()
    config = uvicorn.Config(
        create_app(services=services, tracing=tracing),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        **server_options(services.settings),
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as c:
            token = (await Api(c, contract).register("traced-live@example.com"))["accessToken"]
        exporter.clear()
        async with signed_in(f"127.0.0.1:{port}", contract, token) as client:
            await subscribe_as(client, "DashboardUpdates", "live")
            assert (await client.next_data())["dashboardUpdated"]["openTasks"] == 0
            await client.send({"id": "live", "type": "complete"})
            await client.quiet(0.2)
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)
        await reset(database_url)

    spans = exporter.get_finished_spans()
    subscription = named(spans, "subscription DashboardUpdates")
    assert subscription.parent is None
    assert scoped(descendants_of(subscription, spans), SQL_SCOPE)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_tracing_follows_the_setting_then_the_otlp_endpoint(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert not tracing_enabled(make_settings(database_url))
    assert tracing_enabled(make_settings(database_url, tracing=True))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert tracing_enabled(make_settings(database_url))
    assert not tracing_enabled(make_settings(database_url, tracing=False))


async def test_off_nothing_is_installed_and_the_app_works(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    application = create_app(services=services)

    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert not trace.get_tracer(__name__).start_span("probe").is_recording()
    assert all("opentelemetry" not in m.cls.__module__ for m in application.user_middleware)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://lifegraph.test") as c:
            response = await c.post("/graphql", json={"query": "{ __typename }"})
    assert response.json()["data"] == {"__typename": "Query"}
