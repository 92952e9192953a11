"""Object storage in a local folder, with signed upload and download URLs served by the app.

This is the embedded default: it behaves like :class:`storage.s3.S3ObjectStore`, and its
presigned POST is a browser form like S3's, posted to ``/storage/upload`` (see
:mod:`storage.local_routes`).

Layout: an object lives at ``<root>/<h[:2]>/<h>`` where ``h`` is the SHA-256 of its key,
next to ``<h>.json`` holding the key and the content type. File names never come from the
key itself, so no key can reach outside ``root``, and keys such as ``a/b`` and ``a/b/c``
coexist as they do in S3. Writes go to a temporary file that is then renamed over the
final name, so readers see the old object or the new one, never a partial file.

Signatures are HMAC-SHA256 with a key derived from ``secret`` for this purpose alone, so
the app's token secret can be passed in without the two uses ever signing the same bytes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import io
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO
from urllib.parse import quote, urlencode

from storage.objects import (
    ObjectInfo,
    ObjectNotFound,
    PresignedPost,
    validate_content_type,
    validate_expires_in,
    validate_key,
    validate_max_size,
)

__all__ = ["DEFAULT_MAX_UPLOAD_SIZE", "LocalObjectStore", "UploadPolicy"]

DEFAULT_MAX_UPLOAD_SIZE = 50 * 1024 * 1024
_COPY_CHUNK = 1024 * 1024


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class UploadPolicy:
    """What a presigned POST allows: one upload of 1 to ``max_size`` bytes of
    ``content_type`` to ``key``, until ``expires`` (Unix seconds)."""

    key: str
    content_type: str
    max_size: int
    expires: int

    def encode(self) -> str:
        document = {
            "content_type": self.content_type,
            "expires": self.expires,
            "key": self.key,
            "max_size": self.max_size,
        }
        canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
        return _b64encode(canonical.encode())

    @classmethod
    def decode(cls, encoded: str) -> UploadPolicy:
        """Raises ValueError when ``encoded`` is not a policy (only call it once signed)."""
        try:
            document = json.loads(_b64decode(encoded))
        except ValueError as error:  # bad base64, UTF-8 or JSON
            raise ValueError("malformed policy") from error
        if not isinstance(document, dict):
            raise ValueError("malformed policy")
        key, content_type = document.get("key"), document.get("content_type")
        max_size, expires = document.get("max_size"), document.get("expires")
        if not (isinstance(key, str) and isinstance(content_type, str)):
            raise ValueError("malformed policy")
        if type(max_size) is not int or type(expires) is not int:
            raise ValueError("malformed policy")
        return cls(key=key, content_type=content_type, max_size=max_size, expires=expires)


class LocalObjectStore:
    def __init__(
        self,
        root: Path,
        base_url: str,
        secret: bytes,
        *,
        max_upload_size: int = DEFAULT_MAX_UPLOAD_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``base_url`` is where clients reach the app (``http://127.0.0.1:8000``).
        ``max_upload_size`` caps every presigned POST and the body the upload route reads.
        """
        if not secret:
            raise ValueError("secret must not be empty")
        self.root = root
        self.base_url = base_url.rstrip("/")
        self.max_upload_size = validate_max_size(max_upload_size)
        self._clock = clock
        self._signing_key = hmac.new(secret, b"lifegraph object storage", hashlib.sha256).digest()

    # Paths

    def _paths(self, key: str) -> tuple[Path, Path]:
        digest = hashlib.sha256(validate_key(key).encode()).hexdigest()
        folder = self.root / digest[:2]
        return folder / digest, folder / f"{digest}.json"

    def data_path(self, key: str) -> Path:
        """Where the object's bytes live (whether or not it exists)."""
        return self._paths(key)[0]

    # The ObjectStore interface

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self.put_file(key, io.BytesIO(data), content_type)

    async def put_file(self, key: str, source: IO[bytes], content_type: str) -> None:
        """Stores what remains of ``source`` without holding it in memory."""
        data_path, meta_path = self._paths(key)
        validate_content_type(content_type)
        await asyncio.to_thread(self._write, key, data_path, meta_path, source, content_type)

    def _write(
        self, key: str, data_path: Path, meta_path: Path, source: IO[bytes], content_type: str
    ) -> None:
        data_path.parent.mkdir(parents=True, exist_ok=True)
        metadata = json.dumps({"key": key, "content_type": content_type}).encode()
        # Metadata first: a reader that finds the new bytes also finds their content type.
        _write_atomically(meta_path, lambda file: file.write(metadata))
        _write_atomically(data_path, lambda file: shutil.copyfileobj(source, file, _COPY_CHUNK))

    async def get(self, key: str, *, max_bytes: int | None = None) -> bytes:
        if max_bytes is not None and max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        data_path = self.data_path(key)
        try:
            return await asyncio.to_thread(_read, data_path, max_bytes)
        except FileNotFoundError as error:
            raise ObjectNotFound(key) from error

    async def head(self, key: str) -> ObjectInfo | None:
        return await asyncio.to_thread(_head, *self._paths(key))

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(_delete, *self._paths(key))

    async def presigned_post(
        self, key: str, *, content_type: str, max_size: int, expires_in: int
    ) -> PresignedPost:
        validate_key(key)
        validate_content_type(content_type)
        validate_max_size(max_size)
        validate_expires_in(expires_in)
        if max_size > self.max_upload_size:
            raise ValueError(f"max_size must be at most {self.max_upload_size} bytes")
        expires = int(self._clock()) + expires_in
        policy = UploadPolicy(key, content_type, max_size, expires).encode()
        return PresignedPost(
            url=f"{self.base_url}/storage/upload",
            fields={
                "key": key,
                "Content-Type": content_type,
                "policy": policy,
                "signature": self._sign(b"upload", policy),
            },
            key=key,
            expires_at=datetime.fromtimestamp(expires, UTC),
            max_size=max_size,
        )

    async def presigned_get(self, key: str, *, expires_in: int) -> str:
        validate_key(key)
        validate_expires_in(expires_in)
        expires = int(self._clock()) + expires_in
        query = urlencode({"expires": expires, "signature": self._download_signature(key, expires)})
        return f"{self.base_url}/storage/objects/{quote(key, safe='/')}?{query}"

    async def presigned_get_many(self, keys: Sequence[str], *, expires_in: int) -> list[str]:
        return [await self.presigned_get(key, expires_in=expires_in) for key in keys]

    # Signatures, checked by storage.local_routes

    def verify_upload(self, policy: str, signature: str) -> UploadPolicy | None:
        """The signed policy if ``signature`` is right and the policy has not expired."""
        if not _same(self._sign(b"upload", policy), signature):
            return None
        try:
            decoded = UploadPolicy.decode(policy)
        except ValueError:
            return None
        return decoded if decoded.expires > self._clock() else None

    def verify_download(self, key: str, expires: str, signature: str) -> bool:
        """Whether ``signature`` signs ``key`` until ``expires``, and that is still ahead."""
        if not expires.isascii() or not expires.isdigit():
            return False
        expected = self._download_signature(key, int(expires))
        return _same(expected, signature) and int(expires) > self._clock()

    def _download_signature(self, key: str, expires: int) -> str:
        return self._sign(b"download", json.dumps([key, expires]))

    def _sign(self, purpose: bytes, message: str) -> str:
        mac = hmac.new(self._signing_key, purpose + b"\0" + message.encode(), hashlib.sha256)
        return _b64encode(mac.digest())


def _same(expected: str, given: str) -> bool:
    """Constant-time comparison that also takes non-ASCII input (a client may send any)."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogateescape"))


def _write_atomically(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _read(path: Path, max_bytes: int | None) -> bytes:
    with path.open("rb") as file:
        return file.read() if max_bytes is None else file.read(max_bytes + 1)


def _head(data_path: Path, meta_path: Path) -> ObjectInfo | None:
    try:
        size = data_path.stat().st_size
    except FileNotFoundError:
        return None
    try:
        metadata = json.loads(meta_path.read_bytes())
    except (FileNotFoundError, ValueError):
        metadata = None
    content_type = metadata.get("content_type") if isinstance(metadata, dict) else None
    return ObjectInfo(
        size=size, content_type=content_type if isinstance(content_type, str) else None
    )


def _delete(data_path: Path, meta_path: Path) -> None:
    # Bytes first: once they are gone the object is gone, whatever happens to the metadata.
    data_path.unlink(missing_ok=True)
    meta_path.unlink(missing_ok=True)
