"""Uvicorn's websocket protocol (websockets' sans-I/O implementation), lighter on memory
for the thousands of long-lived sockets of live updates."""

from __future__ import annotations

import sys
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from db.events import Inbox


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """The same protocol, without two things each socket would keep for its lifetime:
    an ``asyncio.Queue`` of received messages (four deques, about 3 KiB; a list does), and
    the parsed handshake request and response (their headers, about 4 KiB), which are
    needed only until the handshake's answer is sent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox(sys.maxsize)  # type: ignore[assignment]
        self._handshake_kept = True

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self._handshake_kept and self.handshake_complete and hasattr(self, "response"):
            # websockets' parser keeps the request too (a local of its generator), so
            # the headers are emptied rather than let go; the scope has its own copy.
            self.request.headers.clear()
            self.response.headers.clear()
            self._handshake_kept = False
