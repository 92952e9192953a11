"""Small HTTP pieces of the app: errors outside GraphQL in GraphQL's shape, security
headers, the request body limit, the CSRF check on uploads and the health endpoints."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from cross_web import HTTPException as RefusedRequest
from sqlalchemy import text
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db.engine import is_unavailable
from lifegraph.logs import current_request_id
from resolvers.errors import ApiErrorCode
from schema.extensions import UNAVAILABLE_MESSAGE, UNAVAILABLE_RETRY_SECONDS

logger = logging.getLogger("lifegraph.http")

STATUS_CODES = {404: ApiErrorCode.NOT_FOUND, 429: ApiErrorCode.RATE_LIMITED}
MAX_JSON_DEPTH = 64
"""Deeper request bodies are refused: no variable of the schema nests anywhere near it,
and graphql-core coerces values recursively."""


def error_response(
    message: str,
    status_code: int,
    code: ApiErrorCode | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: object,
) -> JSONResponse:
    """An error outside GraphQL, shaped as GraphQL's: clients read one format only."""
    code = code or STATUS_CODES.get(status_code, ApiErrorCode.BAD_USER_INPUT)
    body = {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
    return JSONResponse(body, status_code=status_code, headers=headers)


def encode_response_json(data: object) -> bytes:
    """Responses as compact UTF-8 JSON, by orjson (several times faster than the
    standard library's encoder); text orjson refuses (a lone surrogate in an echoed
    input) falls back to the standard encoder, which escapes it."""
    try:
        return orjson.dumps(data)
    except orjson.JSONEncodeError:
        return json.dumps(data, separators=(",", ":")).encode()


def parse_request_json(data: str | bytes) -> Any:
    """A request body as JSON, refusing malformed or too deeply nested ones (400)."""
    try:
        value = json.loads(data)
    except json.JSONDecodeError as error:
        raise RefusedRequest(400, "Unable to parse request body as JSON") from error
    except RecursionError as error:
        raise RefusedRequest(400, "The JSON is nested too deeply") from error
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise RefusedRequest(400, f"The JSON nests deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(item, dict):
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
    return value


async def http_error(request: Request, error: Exception) -> Response:
    """Starlette's own refusals (no such route, wrong method) in GraphQL's shape."""
    assert isinstance(error, HTTPException)
    return error_response(error.detail, error.status_code, headers=error.headers)


async def server_fault(request: Request, error: Exception) -> Response:
    """A fault outside GraphQL: logged with a correlation id the client gets too, the
    request's id (``X-Request-ID``)."""
    if is_unavailable(error):
        logger.warning("database unavailable on %s: %r", request.url.path, error)
        return error_response(
            UNAVAILABLE_MESSAGE,
            503,
            ApiErrorCode.SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(UNAVAILABLE_RETRY_SECONDS)},
            retryAfter=UNAVAILABLE_RETRY_SECONDS,
        )
    correlation_id = current_request_id() or uuid.uuid4().hex
    logger.error("unhandled error %s on %s", correlation_id, request.url.path, exc_info=error)
    return error_response(
        "Internal server error.",
        500,
        ApiErrorCode.INTERNAL_SERVER_ERROR,
        correlationId=correlation_id,
    )


class GraphQLShapedCORS(CORSMiddleware):
    """Starlette's CORS, answering a refused preflight in GraphQL's shape."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        headers.pop("content-type", None)
        reason = bytes(response.body).decode()
        return error_response(f"{reason}.", 400, ApiErrorCode.FORBIDDEN, headers=headers)


class SecurityHeaders:
    """Headers every response carries: no type sniffing, no referrer, never framed, and
    HSTS when the request came over HTTPS (``FORWARDED_ALLOW_IPS`` makes Uvicorn trust a
    proxy's scheme). A page that sets its own Content-Security-Policy keeps it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
                if secure:
                    headers.setdefault(
                        "Strict-Transport-Security", "max-age=63072000; includeSubDomains"
                    )
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """Refuses request bodies over the limit with 413, whether or not they declare a length.
    Multipart requests (file uploads) get the larger ``max_upload_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        multipart = headers.get(b"content-type", b"").startswith(b"multipart/form-data")
        limit = self.max_upload_bytes if multipart else self.max_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response("The request body is too large.", 413)
        await response(scope, receive, send)


class RequirePreflightForUploads:
    """CSRF protection for GraphQL multipart uploads: a browser sends a multipart form from
    any site without a preflight, so such requests must carry a header that forces one."""

    HEADERS = (b"apollo-require-preflight", b"x-apollo-operation-name", b"graphql-preflight")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/graphql":
            headers = dict(scope["headers"])
            multipart = headers.get(b"content-type", b"").startswith(b"multipart/form-data")
            if multipart and not any(headers.get(name) for name in self.HEADERS):
                response = error_response(
                    "Multipart requests need the header 'Apollo-Require-Preflight: true'.", 400
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def healthz(request: Request) -> Response:
    """The process is up."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """The database answers; load balancers send traffic only then."""
    try:
        async with request.app.state.services.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:
        if not is_unavailable(error):
            raise
        logger.warning("not ready: the database is unavailable (%r)", error)
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})
