"""Logs: one format for every logger of the process (ours, Uvicorn's, procrastinate's,
Alembic's), JSON lines in production and readable lines on a developer's terminal; each
request's lines carry its request id, and each request ends with one access line."""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time
import uuid
from collections.abc import Mapping
from typing import Any

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.typing import EventDict, Processor, WrappedLogger

from lifegraph.settings import Settings
from schema.observe import OperationReport

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")
_SECRET_WORDS = ("password", "token", "secret", "authorization", "cookie", "body")
REDACTED = "[redacted]"
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
"""Probed every few seconds by load balancers and scrapers: their lines are debug ones."""

access_log = structlog.stdlib.get_logger("lifegraph.access")
_operations: contextvars.ContextVar[list[OperationReport] | None] = contextvars.ContextVar(
    "lifegraph_operations", default=None
)


def redact_secrets(logger: WrappedLogger, method: str, event: EventDict) -> EventDict:
    """Whatever a line carries under a key naming a secret (a password, a token, an
    Authorization header, an email's body), at any depth, is replaced."""
    return {key: _redacted(key, value) for key, value in event.items()}


def _redacted(key: object, value: Any) -> Any:
    if isinstance(key, str) and any(word in key.lower() for word in _SECRET_WORDS):
        return REDACTED
    if isinstance(value, Mapping):
        return {k: _redacted(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(None, item) for item in value]
    return value


SHARED_PROCESSORS: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    redact_secrets,
]


def configure_structlog() -> None:
    """structlog's loggers hand their events to the standard library's, whose handler
    renders them (:func:`configure_logging`), or a host's handler (a test runner)."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *SHARED_PROCESSORS,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def uses_console(settings: Settings) -> bool:
    if settings.log_format == "auto":
        return settings.is_development and sys.stderr.isatty()
    return settings.log_format == "console"


def formatter(settings: Settings) -> structlog.stdlib.ProcessorFormatter:
    last: list[Processor]
    if uses_console(settings):
        # Plain tracebacks: rich's would print local variables, passwords among them.
        console = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
        last = [console]
    else:
        last = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=SHARED_PROCESSORS,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *last],
    )


def configure_logging(settings: Settings) -> None:
    """One handler on stderr for the whole process, in the format the settings choose."""
    configure_structlog()
    level = settings.log_level.upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(settings))
    handler.setLevel(level)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Uvicorn's loggers write through the root's handler; its access log is ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.asgi"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True


def ensure_logging(settings: Settings) -> None:
    """In each server process: logging as :func:`configure_logging` sets it, unless the
    process has set it up already (``lifegraph``'s command, a test runner). Uvicorn's
    worker processes (``serve --workers N``) start without any, and come here."""
    configure_structlog()
    if not logging.getLogger().handlers:
        configure_logging(settings)


def current_request_id() -> str | None:
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    return request_id if isinstance(request_id, str) else None


def request_id_of(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it is a sane one, else a new id."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given: str = value.decode("latin-1")
            if _SANE_REQUEST_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


class RequestLog:
    """Gives each HTTP request and websocket a request id (echoed in the response's
    ``X-Request-ID``) that every line logged meanwhile carries, and ends each HTTP request
    with one access line: what was asked, the answer's status, how long it took and, for
    GraphQL, the operations' names, kinds, user and error codes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        start = "http.response.start" if scope["type"] == "http" else "websocket.accept"
        status = 500

        async def echoing_send(message: Message) -> None:
            nonlocal status
            if message["type"] == start:
                status = message.get("status", status)
                message.setdefault("headers", [])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            if scope["type"] == "websocket":
                await self.app(scope, receive, echoing_send)
                return
            reports: list[OperationReport] = []
            token = _operations.set(reports)
            started = time.perf_counter()
            try:
                await self.app(scope, receive, echoing_send)
            finally:
                _operations.reset(token)
                access_log.log(
                    logging.DEBUG if scope["path"] in QUIET_PATHS else logging.INFO,
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=_milliseconds(time.perf_counter() - started),
                    client=scope["client"][0] if scope.get("client") else None,
                    **_graphql_facts(reports),
                )


def log_operation(report: OperationReport) -> None:
    """The operation observer: an HTTP request's operations go on its access line; the
    others (over a websocket) get a line each as they end."""
    reports = _operations.get()
    if reports is not None:
        reports.append(report)
        return
    access_log.info(
        "operation", duration_ms=_milliseconds(report.seconds), **_graphql_facts([report])
    )


def _graphql_facts(reports: list[OperationReport]) -> dict[str, object]:
    if not reports:
        return {}
    return {
        "operation": ",".join(report.name or "" for report in reports),
        "operation_kind": ",".join(report.kind for report in reports),
        "user_id": next((report.user_id for report in reports if report.user_id), None),
        "error_codes": [code for report in reports for code in report.error_codes],
    }


def _milliseconds(seconds: float) -> float:
    return round(seconds * 1000, 1)
