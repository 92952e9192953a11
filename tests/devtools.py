"""Headless Chromium driven over its DevTools protocol: one page, a few commands.

Only what the browser tests need: navigate, evaluate JavaScript, wait for a condition,
take a screenshot, and collect the page's errors (exceptions, console errors, and
Content-Security-Policy violations, which Chromium reports in its log).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

BINARIES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
    "--remote-debugging-port=0",
)


def find_chromium() -> str | None:
    """The browser named by ``CHROMIUM`` or found on PATH, or None."""
    named = os.environ.get("CHROMIUM")
    if named:
        return shutil.which(named)
    return next((path for name in BINARIES if (path := shutil.which(name))), None)


class DevToolsError(Exception):
    pass


class Page:
    """One browser tab, attached through a flat DevTools session on the browser's socket."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.session_id: str | None = None
        self.errors: list[str] = []
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read(), name="devtools reader")

    async def _read(self) -> None:
        try:
            with contextlib.suppress(ConnectionClosed):
                async for raw in self.connection:
                    message = json.loads(raw)
                    waiter = self._pending.pop(message.get("id", -1), None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(message)
                    elif "method" in message:
                        self._event(message["method"], message.get("params", {}))
        finally:
            for waiter in self._pending.values():
                if not waiter.done():
                    waiter.set_exception(DevToolsError("the browser closed its DevTools socket"))

    def _event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(details.get("exception", {}).get("description") or details["text"])
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            self.errors.append(params["entry"]["text"])
        elif method == "Runtime.consoleAPICalled" and params["type"] == "error":
            self.errors.append(" ".join(str(arg.get("value", "")) for arg in params["args"]))

    async def send(
        self, method: str, params: dict[str, Any] | None = None, *, browser: bool = False
    ) -> dict[str, Any]:
        """Sends a command to the page (or to the browser) and returns its result."""
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if not browser and self.session_id:
            message["sessionId"] = self.session_id
        waiter = asyncio.get_running_loop().create_future()
        self._pending[ident] = waiter
        await self.connection.send(json.dumps(message))
        try:
            answer = await asyncio.wait_for(waiter, 30)
        finally:
            self._pending.pop(ident, None)
        if "error" in answer:
            raise DevToolsError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer["result"]
        return result

    async def open(self) -> None:
        target = await self.send("Target.createTarget", {"url": "about:blank"}, browser=True)
        attached = await self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, browser=True
        )
        self.session_id = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            await self.send(f"{domain}.enable")

    async def navigate(self, url: str) -> None:
        result = await self.send("Page.navigate", {"url": url})
        if "errorText" in result:
            raise DevToolsError(f"cannot open {url}: {result['errorText']}")
        await self.wait_for("document.readyState === 'complete'")

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (awaited if it is a promise)."""
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise DevToolsError(details.get("exception", {}).get("description") or details["text"])
        return result["result"].get("value")

    async def wait_for(self, expression: str, within: float = 10) -> Any:
        """Evaluates ``expression`` until it is truthy, for at most ``within`` seconds."""
        value: Any = None
        try:
            async with asyncio.timeout(within):
                while True:
                    value = await self.evaluate(expression)
                    if value:
                        return value
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise AssertionError(
                f"still {value!r} after {within} s: {expression}; page errors: {self.errors}"
            ) from None

    async def screenshot(self, path: Path) -> bytes:
        """Saves the page as a PNG image at ``path``, and returns the image."""
        result = await self.send("Page.captureScreenshot", {"format": "png"})
        image = base64.b64decode(result["data"])
        await asyncio.to_thread(path.write_bytes, image)
        return image

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


def _read_port_file(profile: Path) -> list[str]:
    """The port and path that Chromium writes to its profile once DevTools listens."""
    port_file = profile / "DevToolsActivePort"
    return port_file.read_text().split() if port_file.exists() else []


async def _devtools_url(profile: Path, process: asyncio.subprocess.Process, log: Path) -> str:
    """The browser's DevTools socket, once Chromium has written where it listens."""
    async with asyncio.timeout(30):
        while True:
            if process.returncode is not None:
                output = await asyncio.to_thread(log.read_text, errors="replace")
                raise DevToolsError(f"Chromium exited with {process.returncode}: {output}")
            lines = await asyncio.to_thread(_read_port_file, profile)
            if len(lines) == 2:
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def chromium(binary: str, *flags: str) -> AsyncIterator[Page]:
    """A headless Chromium with one open page (``flags`` added to its command line); the
    browser and its profile go at the end."""
    with tempfile.TemporaryDirectory(prefix="chromium-", ignore_cleanup_errors=True) as folder:
        profile = Path(folder) / "profile"
        log = Path(folder) / "chromium.log"
        with log.open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                binary,
                *FLAGS,
                *flags,
                f"--user-data-dir={profile}",
                "about:blank",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                start_new_session=True,  # its own process group, to end its helpers too
            )
        try:
            url = await _devtools_url(profile, process, log)
            async with connect(url, max_size=None, open_timeout=10) as connection:
                page = Page(connection)
                try:
                    await page.open()
                    yield page
                finally:
                    with contextlib.suppress(DevToolsError, ConnectionClosed, TimeoutError):
                        await asyncio.wait_for(page.send("Browser.close", browser=True), 5)
                    await page.close()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await asyncio.wait_for(process.wait(), 10)
