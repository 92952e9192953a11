"""Checks and storage of uploaded files, shared by receipts and note images.

The type of a file is decided by its first bytes, never by its name or the client's
header; the key is generated here under the user's folder.
"""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import puremagic
from starlette.datastructures import UploadFile

from db import uploads
from db.uploads import PendingUpload
from resolvers.errors import ErrorCode, UserErrors
from resolvers.validation import storable
from storage.objects import PresignedPost
from storage.ocr.images import pixel_problem

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from resolvers.context import Context

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/heic"})
RECEIPT_TYPES = IMAGE_TYPES | {"application/pdf"}
_ALIASES = {"image/heif": "image/heic", "image/jpg": "image/jpeg"}


@dataclass(frozen=True)
class StoredFile:
    key: str
    filename: str
    content_type: str
    size: int
    sha256: str


def parse_upload(value: object) -> UploadFile:
    """An ``Upload`` argument must be a file part of a multipart request; a string or any
    other JSON in its place is refused like any value of the wrong type."""
    if not isinstance(value, UploadFile):
        raise ValueError("Upload must be a file sent as a part of a multipart request")
    return value


def sniff(data: bytes) -> str | None:
    """The MIME type the file's magic bytes show, or None."""
    try:
        matches = puremagic.magic_string(data[:8192])
    except (puremagic.PureError, ValueError):
        return None
    for match in matches:
        mime = str(match.mime_type)
        if mime:
            return _ALIASES.get(mime, mime)
    return None


def check(data: bytes, *, allowed: frozenset[str], max_bytes: int, field: tuple[str, ...]) -> str:
    """The file's content type; raises TOO_LARGE or UNSUPPORTED_MEDIA_TYPE."""
    if len(data) > max_bytes:
        raise UserErrors.one(
            field, f"The file is larger than {max_bytes // (1024 * 1024)} MiB.", ErrorCode.TOO_LARGE
        )
    content_type = sniff(data) if data else None
    if content_type not in allowed:
        names = ", ".join(sorted(t.split("/")[1].upper() for t in allowed))
        raise UserErrors.one(
            field, f"The file is not a supported image ({names}).", ErrorCode.UNSUPPORTED_MEDIA_TYPE
        )
    problem = pixel_problem(data, content_type)
    if problem is not None:
        raise UserErrors.one(field, problem, ErrorCode.TOO_LARGE)
    return content_type


def new_key(purpose: str, user_id: uuid.UUID) -> str:
    return f"{purpose}/{user_id}/{uuid.uuid4()}"


def safe_filename(name: str | None) -> str:
    """A display name only: path parts and characters that are not printable (control
    characters, NUL, surrogates) are dropped; the rest is in NFC like all stored text."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = unicodedata.normalize("NFC", "".join(ch for ch in base if ch.isprintable()))
    return cleaned.strip()[:255] or "upload"


async def store_upload(
    ctx: Context, file: UploadFile, *, purpose: str, allowed: frozenset[str]
) -> StoredFile:
    """Reads a multipart upload, checks it, and puts it in object storage."""
    principal = await ctx.principal()
    limit = ctx.settings.max_upload_bytes
    data = await file.read(limit + 1)
    content_type = check(data, allowed=allowed, max_bytes=limit, field=("file",))
    key = new_key(purpose, principal.user_id)
    await ctx.services.storage.put(key, data, content_type)
    return StoredFile(
        key, safe_filename(file.filename), content_type, len(data), hashlib.sha256(data).hexdigest()
    )


async def presign(
    ctx: Context,
    *,
    purpose: str,
    filename: str,
    content_type: str,
    size: int,
    allowed: frozenset[str],
) -> PresignedPost:
    """Signs a direct upload to object storage and remembers it until it is completed."""
    principal = await ctx.principal()
    limit = ctx.settings.max_upload_bytes
    declared = _ALIASES.get(content_type.lower(), content_type.lower())
    if declared not in allowed:
        raise UserErrors.one(
            ("input", "contentType"),
            "This type of file is not accepted.",
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        )
    if size > limit:
        raise UserErrors.one(
            ("input", "size"),
            f"The file is larger than {limit // (1024 * 1024)} MiB.",
            ErrorCode.TOO_LARGE,
        )
    if size < 1:
        raise UserErrors.one(("input", "size"), "The file is empty.", ErrorCode.INVALID)
    key = new_key(purpose, principal.user_id)
    ttl = ctx.settings.upload_url_ttl_seconds
    post = await ctx.services.storage.presigned_post(
        key, content_type=declared, max_size=limit, expires_in=ttl
    )
    async with ctx.sessionmaker.begin() as session:
        await uploads.add(
            session,
            PendingUpload(
                key=key,
                user_id=principal.user_id,
                purpose=purpose,
                filename=safe_filename(filename),
                content_type=declared,
                declared_size=size,
                expires_at=datetime.now(UTC) + timedelta(seconds=ttl * 2),
            ),
        )
    return post


async def take_completed(
    ctx: Context, session: AsyncSession, *, key: str, purpose: str, allowed: frozenset[str]
) -> StoredFile:
    """Claims the user's signed upload of ``key`` inside the caller's transaction and checks
    the uploaded bytes. A refused file is deleted from storage at once."""
    principal = await ctx.principal()
    pending = (
        await uploads.take(session, principal.user_id, key, purpose=purpose)
        if storable(key)
        else None
    )
    if pending is None:
        raise UserErrors.one(("key",), "No upload with this key is waiting.", ErrorCode.NOT_FOUND)
    limit = ctx.settings.max_upload_bytes
    storage = ctx.services.storage
    info = await storage.head(key)
    if info is None:
        raise UserErrors.one(("key",), "The file has not been uploaded yet.", ErrorCode.NOT_FOUND)
    data = await storage.get(key, max_bytes=limit)
    try:
        content_type = check(data, allowed=allowed, max_bytes=limit, field=("key",))
    except UserErrors:
        await storage.delete(key)
        raise
    return StoredFile(
        key, pending.filename, content_type, len(data), hashlib.sha256(data).hexdigest()
    )
