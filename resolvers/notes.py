"""Notes: validation, versions, ranked search, images, and their part in offline sync."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from db import notes, objects
from db.events import ActivityKind
from db.notes import Note, NoteFilter, NoteImage
from db.pagination import Page
from db.sync import Collection
from resolvers import ids, records, uploads
from resolvers.errors import ErrorCode, Problems, UserErrors
from resolvers.pagination import cursor_checked, page_size
from resolvers.validation import search_text
from storage.objects import PresignedPost

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from starlette.datastructures import UploadFile

    from resolvers.context import Context
    from schema.notes import CreateNoteInput, NoteFilterInput, UpdateNoteInput

KIND = "note"
IMAGE_KIND = "noteimage"
PURPOSE = "notes"
MAX_IMAGES = 5
MAX_CONTENT = 100_000
FIELDS = frozenset({"title", "content", "tags", "pinned", "archived"})
READ_ONLY = frozenset({"images"})
"""Pulled with the note; changed only by the image mutations (a push may echo it back)."""
NOT_FOUND = "No such note."


def clean(
    values: Mapping[str, Any], problems: Problems, path: records.Path, *, creating: bool
) -> dict[str, Any]:
    records.unknown_fields(values, FIELDS | READ_ONLY | {"id"}, problems, path)
    cleaned: dict[str, Any] = {}
    if creating or "title" in values:
        cleaned["title"] = records.text(values, "title", problems, path, limit=200)
    if creating or "content" in values:
        cleaned["content"] = (
            records.text(values, "content", problems, path, limit=MAX_CONTENT, trim=False) or ""
        )
    if creating or "tags" in values:
        cleaned["tags"] = records.tags(values, "tags", problems, path)
    if "pinned" in values and values["pinned"] is not None:
        cleaned["pinned"] = records.flag(values, "pinned", problems, path)
    elif creating:
        cleaned["pinned"] = False
    if "archived" in values and values["archived"] is not None:
        cleaned["archived"] = records.flag(values, "archived", problems, path)
    elif creating:
        cleaned["archived"] = False
    return cleaned


async def create_row(
    session: AsyncSession, user_id: uuid.UUID, record_id: uuid.UUID, cleaned: dict[str, Any]
) -> Note:
    row = await notes.add(session, Note(id=record_id, user_id=user_id, **cleaned))
    await records.changed(session, Collection.NOTES, row, ActivityKind.NOTE_CREATED)
    return row


async def update_row(session: AsyncSession, row: Note, cleaned: dict[str, Any]) -> Note:
    row = await notes.save(session, row, **cleaned)
    await records.changed(session, Collection.NOTES, row, ActivityKind.NOTE_UPDATED)
    return row


async def delete_row(session: AsyncSession, row: Note) -> list[str]:
    """Deletes the note; its images are listed for deletion from storage by a job."""
    keys = await notes.remove(session, row)
    await objects.schedule_deletion(session, keys)
    await records.changed(session, Collection.NOTES, row, ActivityKind.NOTE_DELETED, deleted=True)
    return keys


def fields_of(row: Note, images: Sequence[NoteImage]) -> dict[str, Any]:
    """The note as a sync pull sends it, with its images (their links come from queries:
    they expire)."""
    return {
        "title": row.title,
        "content": row.content,
        "tags": list(row.tags),
        "pinned": row.pinned,
        "archived": row.archived,
        "images": [
            {
                "id": ids.encode(IMAGE_KIND, image.id),
                "contentType": image.content_type,
                "size": image.size,
            }
            for image in images
        ],
    }


async def fields_of_many(
    session: AsyncSession, rows: Sequence[Note]
) -> dict[uuid.UUID, dict[str, Any]]:
    images = await notes.images_of(session, [row.id for row in rows]) if rows else {}
    return {row.id: fields_of(row, images.get(row.id, [])) for row in rows}


async def note(ctx: Context, global_id: str) -> Note | None:
    return await records.read(ctx, global_id, KIND, notes.owned)


async def note_image(ctx: Context, global_id: str) -> NoteImage | None:
    principal = await ctx.principal()
    image_id = ids.decode_as(IMAGE_KIND, global_id)
    if image_id is None:
        return None
    async with ctx.sessionmaker() as session:
        image = await notes.get_image(session, image_id)
        row = await notes.get(session, image.note_id) if image else None
    return image if row is not None and row.user_id == principal.user_id else None


async def note_page(
    ctx: Context, first: int | None, after: str | None, where: NoteFilterInput | None
) -> Page[Note]:
    principal = await ctx.principal()
    size = page_size(first)
    criteria = NoteFilter()
    if where is not None:
        criteria = NoteFilter(
            tag=records.tag_filter(where.tag),
            pinned=where.pinned,
            search=search_text(where.search),
            archived=bool(where.archived),
        )
    async with ctx.sessionmaker() as session:
        with cursor_checked():
            return await notes.page(session, principal.user_id, criteria, first=size, after=after)


async def create(ctx: Context, data: CreateNoteInput) -> Note:
    principal = await ctx.principal()
    record_id, cleaned = records.creation(KIND, data, clean)
    async with ctx.sessionmaker.begin() as session:
        await records.ensure_new(session, Collection.NOTES, record_id, "note")
        return await create_row(session, principal.user_id, record_id, cleaned)


async def update(
    ctx: Context, global_id: str, data: UpdateNoteInput, expected_version: int | None
) -> Note:
    """Refuses a stale write: with ``expectedVersion``, only that version is changed."""
    principal = await ctx.principal()
    cleaned = records.changes(data, clean)
    async with ctx.sessionmaker.begin() as session:
        row = await _locked(session, principal.user_id, global_id)
        if expected_version is not None and row.version != expected_version:
            raise UserErrors.one(
                ("expectedVersion",),
                f"The note changed since version {expected_version}; it is at {row.version}.",
                ErrorCode.CONFLICT,
            )
        return await update_row(session, row, cleaned)


async def delete(ctx: Context, global_id: str) -> str:
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        keys = await delete_row(session, await _locked(session, principal.user_id, global_id))
    await ctx.services.jobs.delete_objects(keys)
    return global_id


async def add_image(ctx: Context, global_id: str, file: UploadFile) -> Note:
    principal = await ctx.principal()
    async with ctx.sessionmaker() as session:
        await _image_room(session, principal.user_id, global_id, field=("noteId",))
    stored = await uploads.store_upload(ctx, file, purpose=PURPOSE, allowed=uploads.IMAGE_TYPES)
    try:
        async with ctx.sessionmaker.begin() as session:
            return await _attach(session, principal.user_id, global_id, stored)
    except BaseException:
        await ctx.services.storage.delete(stored.key)
        raise


async def create_image_upload(
    ctx: Context, global_id: str, filename: str, content_type: str, size: int
) -> PresignedPost:
    principal = await ctx.principal()
    async with ctx.sessionmaker() as session:
        await _image_room(session, principal.user_id, global_id, field=("noteId",))
    return await uploads.presign(
        ctx,
        purpose=PURPOSE,
        filename=filename,
        content_type=content_type,
        size=size,
        allowed=uploads.IMAGE_TYPES,
    )


async def complete_image_upload(ctx: Context, global_id: str, key: str) -> Note:
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        stored = await uploads.take_completed(
            ctx, session, key=key, purpose=PURPOSE, allowed=uploads.IMAGE_TYPES
        )
        return await _attach(session, principal.user_id, global_id, stored)


async def remove_image(ctx: Context, global_id: str) -> Note:
    """Detaches the image now; a job deletes the file from storage."""
    principal = await ctx.principal()
    image_id = ids.decode_as(IMAGE_KIND, global_id)
    async with ctx.sessionmaker.begin() as session:
        image = await notes.get_image(session, image_id) if image_id else None
        row = (
            await notes.owned(session, principal.user_id, image.note_id, lock=True)
            if image
            else None
        )
        if image is None or row is None:
            raise UserErrors.one(("id",), "No such image.", ErrorCode.NOT_FOUND)
        await notes.remove_image(session, image)
        await objects.schedule_deletion(session, [image.object_key])
        row = await update_row(session, row, {})
    await ctx.services.jobs.delete_objects([image.object_key])
    return row


async def image_urls(ctx: Context, images: Sequence[NoteImage]) -> list[str]:
    """Links to the images (``resolvers.links``: reused while valid long enough)."""
    return await ctx.services.links.urls(
        ctx.services.storage,
        [image.object_key for image in images],
        ctx.settings.image_url_ttl_seconds,
    )


async def _attach(
    session: AsyncSession, user_id: uuid.UUID, global_id: str, stored: uploads.StoredFile
) -> Note:
    row = await _image_room(session, user_id, global_id, field=("noteId",), lock=True)
    await notes.add_image(
        session,
        NoteImage(
            note_id=row.id,
            object_key=stored.key,
            content_type=stored.content_type,
            size=stored.size,
            sha256=stored.sha256,
        ),
    )
    return await update_row(session, row, {})


async def _image_room(
    session: AsyncSession,
    user_id: uuid.UUID,
    global_id: str,
    *,
    field: records.Path,
    lock: bool = False,
) -> Note:
    """The user's note, if it can take one more image (LIMIT_REACHED otherwise)."""
    record_id = ids.decode_as(KIND, global_id)
    row = None
    if record_id is not None:
        row = (
            await notes.owned(session, user_id, record_id, lock=True)
            if lock
            else await notes.get(session, record_id)
        )
    if row is None or row.user_id != user_id:
        raise UserErrors.one(field, NOT_FOUND, ErrorCode.NOT_FOUND)
    if await notes.count_images(session, row.id) >= MAX_IMAGES:
        raise UserErrors.one(
            field, f"A note holds at most {MAX_IMAGES} images.", ErrorCode.LIMIT_REACHED
        )
    return row


async def _locked(session: AsyncSession, user_id: uuid.UUID, global_id: str) -> Note:
    return await records.locked(session, user_id, global_id, KIND, notes.owned, NOT_FOUND)
