"""Uvicorn's websocket protocol (websockets' sans-I/O implementation), lighter on memory
for the thousands of long-lived sockets of live updates."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from db.events import Inbox


class Gate:
    """The part of ``asyncio.Event`` that the protocol uses (whether the transport can
    take more), without the deque an Event allocates up front (about 800 bytes)."""

    __slots__ = ("_open", "_waiters")

    def __init__(self) -> None:
        self._open = True
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._open

    def set(self) -> None:
        self._open = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._open = False

    async def wait(self) -> None:
        if self._open:
            return
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """The same protocol, without what each socket would keep for its lifetime and
    need not: an ``asyncio.Queue`` of received messages (four deques, about 3 KiB; a list
    does), an ``asyncio.Event`` for the transport's flow control, and the parsed handshake
    request and response and the scope's copy of the request's headers (about 5 KiB),
    needed only until the handshake's answer is sent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox(sys.maxsize)  # type: ignore[assignment]
        self.writable = Gate()  # type: ignore[assignment]
        self._handshake_kept = True

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self._handshake_kept and self.handshake_complete and hasattr(self, "response"):
            # websockets' parser keeps the request too (a local of its generator), so
            # the headers are emptied rather than let go; the scope has its own copy.
            self.request.headers.clear()
            self.response.headers.clear()
            # Read when the socket opens (its context, the origin check), never after.
            headers = self.scope["headers"]
            if isinstance(headers, list):
                headers.clear()
            self._handshake_kept = False
