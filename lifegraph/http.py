"""Small HTTP pieces of the app: the request body limit and the health endpoints."""

from __future__ import annotations

import logging

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from resolvers.errors import ApiErrorCode

logger = logging.getLogger("lifegraph.http")


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
        response = PlainTextResponse("Request body too large.", status_code=413)
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
                response = JSONResponse(
                    {
                        "errors": [
                            {
                                "message": "Multipart requests need the header "
                                "'Apollo-Require-Preflight: true'.",
                                "extensions": {"code": ApiErrorCode.BAD_USER_INPUT},
                            }
                        ]
                    },
                    status_code=400,
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
    except Exception:
        logger.exception("readiness check failed")
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})
