"""Where email goes: an SMTP server, or (with none configured) a folder of ``.eml`` files,
so that the flows that send mail work on a laptop.

``smtp://[user:pass@]host[:587]`` speaks STARTTLS (required when there are credentials,
used when offered otherwise); ``smtps://[user:pass@]host[:465]`` is TLS from the start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

logger = logging.getLogger("lifegraph.mail")


class MailTransport(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Hands the message over; raises when it was not accepted."""


@dataclass(frozen=True)
class Letter:
    """What a message says, to whom, and the id that names it everywhere."""

    message_id: str
    """Unique and stable: the same message sent twice carries the same one."""
    recipient: str
    subject: str
    text: str
    html: str
    date: datetime
    headers: Mapping[str, str] = field(default_factory=dict)
    """More headers, such as ``List-Unsubscribe``, beside those :func:`build_message` sets."""


def build_message(letter: Letter, sender: str) -> EmailMessage:
    """A multipart/alternative message: the plain text first, the HTML after."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = letter.recipient
    message["Subject"] = letter.subject
    message["Date"] = format_datetime(letter.date)
    message["Message-ID"] = f"<{letter.message_id}@{sender_domain(sender)}>"
    message["Auto-Submitted"] = "auto-generated"
    for name, value in letter.headers.items():
        message[name] = value
    message.set_content(letter.text)
    message.add_alternative(letter.html, subtype="html")
    return message


def sender_domain(sender: str) -> str:
    _, address = parseaddr(sender)
    return Address(addr_spec=address).domain or "localhost"


class SmtpTransport:
    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("an SMTP URL is smtp://[user:pass@]host[:port] or smtps://...")
        self._implicit_tls = parts.scheme == "smtps"
        self._hostname = parts.hostname
        self._port = parts.port or (465 if self._implicit_tls else 587)
        self._username = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        credentials = self._username is not None
        await aiosmtplib.send(
            message,
            hostname=self._hostname,
            port=self._port,
            username=self._username,
            password=self._password,
            use_tls=self._implicit_tls,
            # With credentials, never send them in the clear; without, use TLS if offered.
            start_tls=None if self._implicit_tls or not credentials else True,
            timeout=self._timeout,
        )


class FolderTransport:
    """Writes each message to ``folder/<message id>.eml`` and logs its subject (never its
    body, which holds the tokens). Writing the same message again replaces its file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, message: EmailMessage) -> None:
        path = await asyncio.to_thread(self._write, message)
        logger.info("mail written to %s: %s", path.name, message["Subject"])

    def _write(self, message: EmailMessage) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = str(message["Message-ID"]).strip("<>").partition("@")[0] or "message"
        path = self.folder / f"{name}.eml"
        handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        with os.fdopen(handle, "wb") as file:
            file.write(message.as_bytes())
        Path(temporary).replace(path)
        return path
