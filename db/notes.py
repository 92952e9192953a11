"""Notes with Markdown content, tags, pins, images, and ranked full-text search."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Computed,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    Uuid,
    bindparam,
    delete,
    false,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at, uuid_pk
from db.pagination import Page, paginate
from db.search import CONFIG, matches, prefix_query


class Note(Base):
    __tablename__ = "notes"
    __table_args__ = (
        Index("ix_notes_user_updated", "user_id", "updated_at", "id"),
        Index("ix_notes_tags", "tags", postgresql_using="gin"),
        Index("ix_notes_search", "search_vector", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), default=list)
    pinned: Mapped[bool] = mapped_column(default=False)
    archived: Mapped[bool] = mapped_column(default=False, server_default=false())
    version: Mapped[int] = mapped_column(default=1)
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed(
            f"setweight(to_tsvector('{CONFIG}', title), 'A') || "
            f"setweight(to_tsvector('{CONFIG}', content), 'B')",
            persisted=True,
        ),
        deferred=True,
    )
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class NoteImage(Base):
    __tablename__ = "note_images"

    id: Mapped[uuid.UUID] = uuid_pk()
    note_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notes.id", ondelete="CASCADE"), index=True
    )
    object_key: Mapped[str] = mapped_column(String(300), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()


@dataclass(frozen=True)
class NoteFilter:
    tag: str | None = None
    pinned: bool | None = None
    search: str | None = None
    archived: bool = False


async def get(session: AsyncSession, note_id: uuid.UUID, *, lock: bool = False) -> Note | None:
    return await session.get(Note, note_id, with_for_update=lock)


async def owned(
    session: AsyncSession, user_id: uuid.UUID, record_id: uuid.UUID, *, lock: bool = False
) -> Note | None:
    statement = select(Note).where(Note.id == record_id, Note.user_id == user_id)
    return await session.scalar(statement.with_for_update() if lock else statement)


async def owned_many(
    session: AsyncSession, user_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Note]:
    rows = await session.scalars(select(Note).where(Note.id.in_(ids), Note.user_id == user_id))
    return {row.id: row for row in rows}


async def add(session: AsyncSession, note: Note) -> Note:
    session.add(note)
    await session.flush()
    await session.refresh(note)
    return note


async def save(session: AsyncSession, note: Note, **values: Any) -> Note:
    for name, value in values.items():
        setattr(note, name, value)
    note.version += 1
    note.updated_at = func.now()
    await session.flush()
    await session.refresh(note)
    return note


async def remove(session: AsyncSession, note: Note) -> list[str]:
    """Deletes the note and its image rows; returns the image keys left to delete."""
    keys = list(
        await session.scalars(select(NoteImage.object_key).where(NoteImage.note_id == note.id))
    )
    await session.execute(delete(Note).where(Note.id == note.id))
    return keys


async def page(
    session: AsyncSession, user_id: uuid.UUID, where: NoteFilter, *, first: int, after: str | None
) -> Page[Note]:
    """Most recently updated first; with a search, the best matches first."""
    statement = select(Note).where(Note.user_id == user_id, Note.archived.is_(where.archived))
    if where.tag:
        statement = statement.where(Note.tags.contains([where.tag]))
    if where.pinned is not None:
        statement = statement.where(Note.pinned == where.pinned)
    query = prefix_query(where.search) if where.search else None
    if query:
        rank = func.ts_rank_cd(Note.search_vector, func.to_tsquery(CONFIG, query), type_=Float)
        statement = statement.where(matches(Note.search_vector, query))
        return await paginate(
            session,
            statement,
            (rank.label("rank"), Note.updated_at, Note.id),
            first=first,
            after=after,
            descending=True,
        )
    return await paginate(
        session, statement, (Note.updated_at, Note.id), first=first, after=after, descending=True
    )


_IMAGES_OF = text(
    """SELECT note_images.* FROM unnest(:note_ids) WITH ORDINALITY AS wanted(note_id, rank)
    CROSS JOIN LATERAL (
        SELECT * FROM note_images WHERE note_images.note_id = wanted.note_id
        ORDER BY created_at, id
    ) AS note_images
    ORDER BY wanted.rank, note_images.created_at, note_images.id"""
).bindparams(bindparam("note_ids", type_=ARRAY(Uuid)))
"""Each note's images through the index on ``note_id``, however many notes are asked for
(a sync pull asks for up to 500, where a plain ``IN`` list tempts the planner to scan)."""


async def images_of(
    session: AsyncSession, note_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[NoteImage]]:
    rows = await session.scalars(
        select(NoteImage).from_statement(_IMAGES_OF), {"note_ids": list(note_ids)}
    )
    grouped: dict[uuid.UUID, list[NoteImage]] = defaultdict(list)
    for row in rows:
        grouped[row.note_id].append(row)
    return grouped


async def count_images(session: AsyncSession, note_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).select_from(NoteImage).where(NoteImage.note_id == note_id)
    )
    return count or 0


async def add_image(session: AsyncSession, image: NoteImage) -> None:
    session.add(image)
    await session.flush()


async def get_image(session: AsyncSession, image_id: uuid.UUID) -> NoteImage | None:
    return await session.get(NoteImage, image_id)


async def remove_image(session: AsyncSession, image: NoteImage) -> None:
    await session.execute(delete(NoteImage).where(NoteImage.id == image.id))


@dataclass(frozen=True)
class ImageFile:
    """Where a note's image lives in storage."""

    id: uuid.UUID
    note_id: uuid.UUID
    object_key: str
    content_type: str


async def image_files_of(session: AsyncSession, user_id: uuid.UUID) -> list[ImageFile]:
    """The stored images of every note of the user, by note, oldest first."""
    rows = await session.execute(
        select(NoteImage.id, NoteImage.note_id, NoteImage.object_key, NoteImage.content_type)
        .join(Note, Note.id == NoteImage.note_id)
        .where(Note.user_id == user_id)
        .order_by(NoteImage.note_id, NoteImage.created_at, NoteImage.id)
    )
    return [ImageFile(*row) for row in rows]
