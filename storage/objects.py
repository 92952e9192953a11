"""The object storage interface shared by the S3 and the local folder implementations.

Keys are chosen by the server (``receipts/<user uuid>/<uuid>``), never taken from client
file names; :func:`validate_key` still refuses anything that could escape a folder or
confuse a URL, so a bug upstream cannot turn into a path traversal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Protocol

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
# type/subtype, optionally with parameters: it ends up in HTTP headers, so no CR or LF.
_CONTENT_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}(?:[ \t]*;[\x20-\x7e]*)?")

__all__ = [
    "MAX_EXPIRES_IN",
    "MAX_KEY_BYTES",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "PresignedPost",
    "key_folder",
    "validate_content_type",
    "validate_expires_in",
    "validate_key",
    "validate_max_size",
]

# S3's own limits: keys of at most 1024 bytes (UTF-8), signatures valid for at most 7 days.
MAX_KEY_BYTES = 1024
MAX_EXPIRES_IN = 7 * 24 * 3600


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    content_type: str | None


@dataclass(frozen=True)
class PresignedPost:
    """A browser-style POST upload: send ``fields`` as form fields, then the file as ``file``."""

    url: str
    fields: dict[str, str]
    key: str
    expires_at: datetime  # aware, UTC
    max_size: int


class ObjectNotFound(Exception):
    """No object has this key."""


class ObjectStore(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def put_file(self, key: str, source: IO[bytes], content_type: str) -> None:
        """Stores what remains of ``source`` without holding it all in memory."""
        ...

    async def get(self, key: str, *, max_bytes: int | None = None) -> bytes:
        """The object's bytes, or at most ``max_bytes + 1`` of them, so that callers can
        tell "exactly the limit" from "over the limit" without reading a huge object.

        Raises :class:`ObjectNotFound`.
        """
        ...

    async def head(self, key: str) -> ObjectInfo | None: ...

    async def delete(self, key: str) -> None:
        """Removes the object; a missing object is not an error."""
        ...

    async def presigned_post(
        self, key: str, *, content_type: str, max_size: int, expires_in: int
    ) -> PresignedPost:
        """Lets a client upload 1 to ``max_size`` bytes of ``content_type`` to ``key``."""
        ...

    async def presigned_get(self, key: str, *, expires_in: int) -> str:
        """A URL that downloads the object until ``expires_in`` seconds from now."""
        ...

    async def presigned_get_many(self, keys: Sequence[str], *, expires_in: int) -> list[str]:
        """``presigned_get`` for each key, in one go."""
        ...


def validate_key(key: str) -> str:
    """Returns ``key`` if it is a safe object key, else raises ValueError.

    Refused: empty keys, keys over 1024 UTF-8 bytes, a leading ``/``, backslashes,
    control characters, and empty, ``.`` or ``..`` segments (``a//b``, ``a/./b``,
    ``a/../b``, a trailing ``/``).
    """
    if not key:
        raise ValueError("object key must not be empty")
    if key.startswith("/"):
        raise ValueError("object key must not start with '/'")
    if "\\" in key:
        raise ValueError("object key must not contain backslashes")
    if any(ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 for char in key):
        raise ValueError("object key must not contain control characters")
    if any(0xD800 <= ord(char) <= 0xDFFF for char in key):
        raise ValueError("object key must be valid Unicode")
    if len(key.encode()) > MAX_KEY_BYTES:
        raise ValueError(f"object key must be at most {MAX_KEY_BYTES} bytes")
    if any(segment in ("", ".", "..") for segment in key.split("/")):
        raise ValueError("object key must not contain empty, '.' or '..' segments")
    return key


def key_folder(key: str) -> str:
    """The folder part of ``key`` with its trailing ``/`` (``receipts/u1/`` for
    ``receipts/u1/x``), or ``""`` for a key without a folder."""
    folder, slash, _ = key.rpartition("/")
    return folder + slash


def validate_expires_in(expires_in: int) -> int:
    if not 1 <= expires_in <= MAX_EXPIRES_IN:
        raise ValueError(f"expires_in must be between 1 and {MAX_EXPIRES_IN} seconds")
    return expires_in


def validate_max_size(max_size: int) -> int:
    if max_size < 1:
        raise ValueError("max_size must be at least 1 byte")
    return max_size


def validate_content_type(content_type: str) -> str:
    if len(content_type) > 255 or not _CONTENT_TYPE.fullmatch(content_type):
        raise ValueError(f"not a valid content type: {content_type!r}")
    return content_type
