"""Websocket sign-in for subscriptions: the access token comes in ``connection_init``."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from prometheus_client import Gauge
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

from lifegraph.http import encode_response_json
from resolvers.context import Context
from resolvers.errors import ApiErrorCode, Unauthenticated

UNAUTHORIZED = 4401
FORBIDDEN = 4403
TOO_MANY_CONNECTIONS = 4429

OPEN_WEBSOCKETS = Gauge(
    "lifegraph_websockets_open",
    "Websockets open to /graphql, signed in or not yet.",
    multiprocess_mode="livesum",
)


def authorization_of(params: object) -> str | None:
    if not isinstance(params, dict):
        return None
    value = params.get("Authorization", params.get("authorization"))
    return value if isinstance(value, str) else None


class TooManyConnections(Exception):
    pass


_SHARED_VARIABLES: dict[str, Mapping[str, Any]] = {}
SHARED_VARIABLES_MAX = 1024
SHARED_VARIABLES_MAX_CHARS = 512


def shared_variables(variables: dict[str, Any]) -> Mapping[str, Any]:
    """Small variables as one read-only copy for every subscription that sends the same
    (mappings frozen, lists made tuples: GraphQL reads them and copies what it coerces), so
    that none can change another's; larger ones as they are."""
    key = json.dumps(variables, sort_keys=True, separators=(",", ":"))
    if len(key) > SHARED_VARIABLES_MAX_CHARS:
        return variables
    shared = _SHARED_VARIABLES.get(key)
    if shared is None:
        if len(_SHARED_VARIABLES) >= SHARED_VARIABLES_MAX:
            _SHARED_VARIABLES.clear()
        shared = _SHARED_VARIABLES[key] = _frozen(variables)
    return shared


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({key: _frozen(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    return value


async def authenticate(context: Context, params: object) -> None:
    """Signs the connection in with the token of its ``connection_init`` payload, once the
    client's address may open another."""
    if not context.socket_admitted:
        if not await context.services.rate_limiter.connect(context.client_address):
            raise TooManyConnections
        context.socket_admitted = True
    authorization = authorization_of(params)
    if authorization != context.authorization:
        context.reauthenticate(authorization)
    await context.principal()


def _codes(message: Any) -> set[str]:
    payload = message.get("payload")
    errors = payload if message.get("type") == "error" else (payload or {}).get("errors")
    return {
        (error.get("extensions") or {}).get("code", "")
        for error in errors or ()
        if isinstance(error, dict)
    }


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, closing with 4401 when the token is missing or bad, 4403 when
    the user subscribes to what they may not see, and 4429 when the client's address has
    opened too many connections this minute."""

    async def send_message(self, message: Any) -> None:
        if message.get("type") in ("next", "error") and ApiErrorCode.FORBIDDEN in _codes(message):
            await self.websocket.close(code=FORBIDDEN, reason="Forbidden")
            return
        await super().send_message(message)

    async def handle_connection_init(self, message: Any) -> None:
        payload = message.get("payload") or {}
        if not self.connection_init_received and isinstance(payload, dict):
            try:
                await authenticate(self.context, payload)
            except (Unauthenticated, TooManyConnections) as error:
                self.connection_init_received = True
                if self.connection_init_timeout_task:
                    self.connection_init_timeout_task.cancel()
                if isinstance(error, TooManyConnections):
                    await self.websocket.close(code=TOO_MANY_CONNECTIONS, reason="Too many")
                else:
                    await self.websocket.close(code=UNAUTHORIZED, reason="Unauthorized")
                return
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            # Signed in: the socket need not keep the parameters (the token is in the
            # context), nor the cancelled timeout's task and its error.
            self.context.connection_params = None
            self.connection_init_timeout_task = None

    async def handle_subscribe(self, message: Any) -> None:
        """The subscription keeps its document's text, name, id and variables as long as it
        lives: sockets that send the same ones share one copy."""
        payload = message.get("payload")
        if isinstance(payload, dict):
            for key in ("query", "operationName"):
                if isinstance(payload.get(key), str):
                    payload[key] = sys.intern(payload[key])
            if isinstance(payload.get("variables"), dict):
                payload["variables"] = shared_variables(payload["variables"])
        if isinstance(message.get("id"), str):
            message["id"] = sys.intern(message["id"])
        await super().handle_subscribe(message)
        # The operation has what it needs; the message stays referenced from Strawberry's
        # reading loop until the next one arrives, which may be never.
        message.clear()


async def on_connect(context: Context) -> None:
    """For the legacy graphql-ws protocol, which can only reject a connection."""
    try:
        await authenticate(context, context.connection_params)
    except Unauthenticated as error:
        raise ConnectionRejectionError({"message": str(error)}) from error
    except TooManyConnections as error:
        raise ConnectionRejectionError({"message": "Too many connections."}) from error


class TextFrames(ASGIWebSocketAdapter):
    """Messages go out as text frames, as graphql-transport-ws requires (browsers hand a
    binary frame to the page as a Blob): the view encodes JSON to bytes for HTTP."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(encode_response_json(message).decode())
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error
