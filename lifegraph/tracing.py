"""OpenTelemetry tracing of this process: HTTP requests, GraphQL operations, SQL, S3 and
Textract calls, OCR and jobs, exported over OTLP/HTTP.

Off unless ``LIFEGRAPH_TRACING`` is true, or unset while ``OTEL_EXPORTER_OTLP_ENDPOINT``
(or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set; off, nothing is instrumented and the
global tracer stays OpenTelemetry's no-op one. The SDK reads the standard ``OTEL_*``
variables itself: the endpoint and headers, the sampler (``OTEL_TRACES_SAMPLER``), the
batching, the resource's attributes.

A process starts tracing once (:func:`start_tracing`): the provider becomes the global one,
which OpenTelemetry lets a process set only once. Tests give a provider of their own and
stop it (:meth:`Tracing.shutdown`) to take the instrumentation off again. The SDK, the
exporter and the instrumentations are imported only when tracing starts.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from starlette.middleware import Middleware
from starlette.routing import Match

from lifegraph.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from sqlalchemy.ext.asyncio import AsyncEngine

DEFAULT_SERVICE_NAME = "lifegraph"
DEFAULT_EXCLUDED_URLS = "/healthz,/readyz"
"""Probes would be most of the traces; ``OTEL_PYTHON_ASGI_EXCLUDED_URLS`` replaces this."""


class Tracing:
    """A started provider and what it instruments: boto3 (S3, Textract) for the whole
    process, the given database engine, and the apps that take :meth:`middleware`."""

    def __init__(self, provider: TracerProvider, engine: AsyncEngine) -> None:
        from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        self.provider = provider
        BotocoreInstrumentor().instrument(tracer_provider=provider)  # type: ignore[no-untyped-call]
        # An async engine runs its statements on the sync engine inside it. The package
        # declares SQLAlchemy < 2.1, a bound set when 2.0 was the newest; it uses only the
        # engine's events, unchanged in 2.1 (tests/test_tracing.py sees its spans).
        SQLAlchemyInstrumentor().instrument(
            engine=engine.sync_engine, tracer_provider=provider, skip_dep_check=True
        )

    def tracer(self, name: str) -> trace.Tracer:
        return self.provider.get_tracer(name)

    def middleware(self) -> Middleware:
        """The outermost of the app's middleware: a span per HTTP request, named after its
        route, continuing the caller's trace when the request carries ``traceparent``.
        Websockets to /graphql do not pass through it (``lifegraph.app.App``)."""
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        return Middleware(
            OpenTelemetryMiddleware,
            tracer_provider=self.provider,
            excluded_urls=os.environ.get("OTEL_PYTHON_ASGI_EXCLUDED_URLS", DEFAULT_EXCLUDED_URLS),
            default_span_details=route_span_details,
            # A span for every ASGI message would triple the spans of a request.
            exclude_spans=["receive", "send"],
        )

    def shutdown(self) -> None:
        """Sends what is still buffered and takes the instrumentation off."""
        from opentelemetry.instrumentation.botocore import BotocoreInstrumentor
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        SQLAlchemyInstrumentor().uninstrument()
        BotocoreInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
        self.provider.shutdown()


def tracing_enabled(settings: Settings) -> bool:
    if settings.tracing is not None:
        return settings.tracing
    return any(
        os.environ.get(name)
        for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def start_tracing(
    settings: Settings, engine: AsyncEngine, *, provider: TracerProvider | None = None
) -> Tracing | None:
    """This process's tracing, or None when it is off. ``provider`` (tests give one with
    their own exporter) is used as it is, whatever the settings say."""
    if provider is None:
        if not tracing_enabled(settings):
            return None
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider(resource=service_resource())
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return Tracing(provider, engine)


def service_resource() -> Resource:
    """The SDK's resource (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``), named
    ``lifegraph`` when neither names the service."""
    from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource

    resource = Resource.create()
    named = str(resource.attributes.get(SERVICE_NAME, ""))
    ours: dict[str, str] = {SERVICE_VERSION: _package_version()}
    if not named or named.startswith("unknown_service"):
        ours[SERVICE_NAME] = DEFAULT_SERVICE_NAME
    return resource.merge(Resource(ours))


def _package_version() -> str:
    try:
        return version("lifegraph")
    except PackageNotFoundError:
        return "unknown"


def route_span_details(scope: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """``POST /graphql``: the method and the matching route's template, never the raw
    path (a signed object link would make a span name per object)."""
    method = str(scope.get("method", "HTTP"))
    app = scope.get("app")
    routes: Sequence[Any] = getattr(app, "routes", ())
    matches = [(route.matches(scope)[0], str(route.path)) for route in routes]
    # A route of the path but of other methods (405) names the span if no route is whole.
    for wanted in (Match.FULL, Match.PARTIAL):
        for match, path in matches:
            if match is wanted:
                return f"{method} {path}", {"http.route": path}
    return method, {}
