"""The ASGI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

from cross_web import AsyncHTTPRequestAdapter
from cross_web import HTTPException as RefusedRequest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult
from strawberry.types.execution import SubscriptionExecutionResult

from lifegraph.dashboard_page import dashboard_routes
from lifegraph.graphiql import contract_tabs, graphiql_page, graphiql_routes
from lifegraph.http import (
    BodySizeLimit,
    GraphQLShapedCORS,
    RequirePreflightForUploads,
    SecurityHeaders,
    encode_response_json,
    error_response,
    healthz,
    http_error,
    parse_request_json,
    readyz,
    server_fault,
)
from lifegraph.logs import RequestLog, ensure_logging, log_operation
from lifegraph.metrics import metrics_endpoint, record_operation
from lifegraph.services import build_services, opened
from lifegraph.settings import Settings
from lifegraph.tracing import Tracing, start_tracing
from lifegraph.unsubscribe_page import unsubscribe_routes
from lifegraph.websockets import OPEN_WEBSOCKETS, TextFrames, TransportWSHandler, on_connect
from lifegraph.worker import run_worker
from lifegraph.ws_protocol import WebSocketProtocol
from resolvers.context import Context, Services
from resolvers.documents import DocumentRefused
from schema.limits import Limits
from schema.observe import Observer
from schema.root import build_schema
from storage.local import LocalObjectStore
from storage.local_routes import local_storage_routes


class GraphQLApp(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    websocket_adapter_class = TextFrames

    def __init__(
        self,
        services: Services,
        observers: Sequence[Observer] = (),
        tracing: Tracing | None = None,
    ) -> None:
        settings = services.settings
        schema = build_schema(
            query_limits(settings),
            introspection=settings.introspection_enabled,
            suggestions=settings.introspection_enabled,
            compiled_plans=settings.compiled_plans,
            observers=observers,
            tracer=tracing.tracer("schema.tracing") if tracing else None,
        )
        self.graphql_schema = schema._schema
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.is_development else None,
            allow_queries_via_get=settings.is_development,
            multipart_uploads_enabled=True,
            connection_init_wait_timeout=timedelta(seconds=settings.ws_init_timeout_seconds),
        )
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strawberry refuses malformed HTTP requests in plain text; ours answer in
        GraphQL's shape, as every other error does."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive))
        except RefusedRequest as error:
            response = error_response(f"{error.reason.rstrip('.')}.", error.status_code)
        except DocumentRefused as error:
            # Apollo's persisted-query link reads this answer, in GraphQL's shape, as its
            # cue to send the document's text.
            response = error_response(str(error), 200, error.code)
        await response(scope, receive, send)

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_page()

    def parse_json(self, data: str | bytes) -> Any:
        return parse_request_json(data)

    def encode_json(self, data: object) -> bytes:
        return encode_response_json(data)

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> ExecutionResult | list[ExecutionResult] | SubscriptionExecutionResult:
        """The request's database connection goes back to the pool as soon as the
        operation has run, before the response is written."""
        try:
            return await super().execute_operation(
                request, request_adapter, request_data, context, root_value, sub_response
            )
        finally:
            await context.close()

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """The request, with a persisted document's hash turned into its text."""
        data = await super().parse_http_body(request)
        if isinstance(data, list):
            return data
        query = await self.services.documents.resolve(data.query, data.extensions)
        return dataclasses.replace(data, query=query)

    async def on_ws_connect(self, context: Context) -> None:
        await on_connect(context)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context(
            services=self.services,
            request=request,
            authorization=request.headers.get("authorization"),
            response=response if isinstance(response, Response) else None,
        )


class App(Starlette):
    """Websockets to /graphql go straight to the GraphQL app: the middleware and routing
    do nothing for them, yet each would keep a frame on every open socket's stack. The
    request log wraps everything, so that even faults and websockets carry a request id."""

    def __init__(self, graphql: GraphQLApp, **options: Any) -> None:
        super().__init__(**options)
        self.graphql = graphql
        self.logged = RequestLog(self._dispatch)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.logged(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/graphql":
            scope["app"] = self
            with OPEN_WEBSOCKETS.track_inprogress():
                await self.graphql.run(WebSocket(scope, receive, send))
            return
        await super().__call__(scope, receive, send)


LOOPBACK_ORIGIN = r"http://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"
"""Any port on this machine: a development front end (Vite, Next, Expo web) may sit on any."""

CORS_ALLOWED_HEADERS = [
    "Accept",
    "Authorization",
    "Content-Type",
    # What RequirePreflightForUploads accepts, and what Apollo Client sends.
    *(name.decode() for name in RequirePreflightForUploads.HEADERS),
    "apollographql-client-name",
    "apollographql-client-version",
    "X-Request-ID",
]
CORS_EXPOSED_HEADERS = [  # what schema.limits and the request ids set
    "X-Request-ID",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
]


def cors_options(settings: Settings) -> dict[str, Any]:
    """Browsers may call from the configured origins, and in development from any port on
    localhost too."""
    return {
        "allow_origins": settings.cors_origins,
        "allow_origin_regex": LOOPBACK_ORIGIN if settings.is_development else None,
        "allow_methods": ["GET", "POST", "OPTIONS"],
        "allow_headers": CORS_ALLOWED_HEADERS,
        "expose_headers": CORS_EXPOSED_HEADERS,
        "max_age": 600,
    }


def server_options(settings: Settings) -> dict[str, Any]:
    """Uvicorn's options for this app, wherever it is served."""
    return {
        "proxy_headers": True,
        # Events are small: per-message compression would cost ~40 KiB per socket.
        "ws_per_message_deflate": False,
        "ws": WebSocketProtocol,
        "ws_max_size": settings.max_ws_message_bytes,
        # SIGTERM: stop accepting, finish what is in flight (at most this long), then stop.
        "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
        # Uvicorn's loggers go through ours (lifegraph.logs), and each request gets one
        # access line from the app in place of Uvicorn's.
        "log_config": None,
        "access_log": False,
    }


def query_limits(settings: Settings) -> Limits:
    return Limits(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_query_aliases,
        max_directives=settings.max_query_directives,
        max_tokens=settings.max_query_tokens,
        max_cost=settings.max_query_cost,
    )


def tune_garbage_collector() -> None:
    """Thousands of live websockets each keep hundreds of objects that every full
    collection scans, pausing the process for seconds. Start-up objects are frozen out of
    those passes, and collections run less often (p99 event delivery to 5,000 subscribers
    went from 1.8 s to 0.4 s in bench/subscriptions.py)."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def operation_observers(services: Services) -> list[Observer]:
    """Who hears what each GraphQL operation did (:mod:`schema.observe`)."""
    return [log_operation, record_operation]


def create_app(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    observers: Sequence[Observer] = (),
    tracing: Tracing | None = None,
) -> Starlette:
    """The app; ``services`` are built from ``settings`` unless given (tests inject them,
    and may add ``observers`` of their own, or their own ``tracing``). Tracing started
    here (:mod:`lifegraph.tracing`, off by default) stops with the app."""
    services = services or build_services(settings or Settings())
    ensure_logging(services.settings)
    own_tracing = tracing is None
    if tracing is None:
        tracing = start_tracing(services.settings, services.engine)
    graphql = GraphQLApp(services, [*operation_observers(services), *observers], tracing)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            async with opened(services):
                if services.settings.tune_gc:
                    tune_garbage_collector()
                worker = None
                if services.settings.in_process_worker:
                    worker = asyncio.create_task(run_worker(services), name="in-process worker")
                try:
                    yield
                finally:
                    if worker is not None:
                        worker.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await worker
        finally:
            if tracing is not None and own_tracing:
                tracing.shutdown()

    routes: list[BaseRoute] = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        *dashboard_routes,
        *unsubscribe_routes,
    ]
    if services.settings.metrics_served:
        routes.append(Route("/metrics", metrics_endpoint))
    if services.settings.is_development:
        routes += graphiql_routes(contract_tabs(graphql.graphql_schema))
    if isinstance(services.storage, LocalObjectStore):
        routes += local_storage_routes(services.storage)

    app = App(
        graphql,
        routes=routes,
        middleware=[
            *([tracing.middleware()] if tracing is not None else []),
            Middleware(SecurityHeaders),
            Middleware(GraphQLShapedCORS, **cors_options(services.settings)),
            Middleware(
                BodySizeLimit,
                max_bytes=services.settings.max_body_bytes,
                max_upload_bytes=services.settings.max_upload_bytes + 64 * 1024,
            ),
            Middleware(RequirePreflightForUploads),
        ],
        lifespan=lifespan,
        exception_handlers={HTTPException: http_error, Exception: server_fault},
    )
    app.state.services = services
    return app
