"""The change log behind offline sync: one row per record, its latest change, ordered by
the id of the transaction that wrote it.

A pull returns only rows written by transactions older than the oldest transaction still
running when its snapshot was taken (the horizon). Every such transaction has finished, so
nothing can later appear behind a cursor. A transaction still running holds back its own
rows and those of every younger transaction until it ends; then they are pulled in order.

Transaction ids are the whole server's, so the snapshot's own ``xmin`` would let a long
transaction in another database of the server, or an autovacuum worker analysing a table
here (ANALYZE takes a transaction id), hold every pull back. The horizon leaves out the
transactions known to be such (``pg_stat_activity``), which write no row of the log; one
that ended meanwhile, or that the role may not see, still counts, so the horizon only
errs on the safe side.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    String,
    func,
    literal,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at

CURRENT_TXID = text("(pg_current_xact_id()::text)::bigint")
SYNC_HORIZON = text(
    """(SELECT coalesce(
        (
            SELECT min((running::text)::bigint)
            FROM pg_snapshot_xip(snapshot.taken) AS running
            WHERE NOT EXISTS (
                SELECT FROM pg_stat_activity AS unrelated
                WHERE (
                    unrelated.datname <> current_database()
                    OR unrelated.backend_type = 'autovacuum worker'
                )
                AND (unrelated.backend_xid::text)::bigint = (running::text)::bigint % 4294967296
            )
        ),
        (pg_snapshot_xmax(snapshot.taken)::text)::bigint
    )
    FROM (SELECT pg_current_snapshot() AS taken) AS snapshot)"""
)
"""The oldest transaction of this database running at the snapshot, as a 64-bit id; the
snapshot's ``xmax`` when there is none (the 32-bit ids of ``pg_stat_activity`` are the low
half of the 64-bit ones)."""


class Collection(enum.StrEnum):
    """Ordered as the database's enum, which orders pulls: new values go last."""

    NOTES = "NOTES"
    TASKS = "TASKS"
    HABITS = "HABITS"
    PROJECTS = "PROJECTS"
    CHECK_INS = "CHECK_INS"
    PURCHASES = "PURCHASES"


class SyncChange(Base):
    __tablename__ = "sync_changes"
    __table_args__ = (
        Index("ix_sync_changes_user_position", "user_id", "txid", "collection", "record_id"),
    )

    collection: Mapped[Collection] = mapped_column(
        Enum(Collection, name="sync_collection"), primary_key=True
    )
    record_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    txid: Mapped[int] = mapped_column(BigInteger, server_default=CURRENT_TXID)
    version: Mapped[int]
    deleted: Mapped[bool]
    changed_at: Mapped[datetime] = mapped_column(server_default=func.now())


class SyncPush(Base):
    """The stored answer to a push, so that a retried push is applied once."""

    __tablename__ = "sync_pushes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    mutation_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = created_at()


async def record(
    session: AsyncSession,
    *,
    collection: Collection,
    record_id: uuid.UUID,
    user_id: uuid.UUID,
    version: int,
    deleted: bool = False,
) -> None:
    """Notes the latest change of a record, in the transaction that makes it."""
    statement = insert(SyncChange).values(
        collection=collection,
        record_id=record_id,
        user_id=user_id,
        version=version,
        deleted=deleted,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[SyncChange.collection, SyncChange.record_id],
            set_={
                "version": statement.excluded.version,
                "deleted": statement.excluded.deleted,
                "txid": CURRENT_TXID,
                "changed_at": func.now(),
            },
            where=SyncChange.user_id == statement.excluded.user_id,
        )
    )


async def owner_of(
    session: AsyncSession, collection: Collection, record_id: uuid.UUID
) -> uuid.UUID | None:
    return await session.scalar(
        select(SyncChange.user_id).where(
            SyncChange.collection == collection, SyncChange.record_id == record_id
        )
    )


async def changes_after(
    session: AsyncSession,
    user_id: uuid.UUID,
    position: tuple[int, str, uuid.UUID] | None,
    collections: Sequence[Collection],
    limit: int,
) -> list[SyncChange]:
    """Up to ``limit`` changes after ``position``, oldest first, from finished transactions."""
    statement = (
        select(SyncChange)
        .where(
            SyncChange.user_id == user_id,
            SyncChange.collection.in_(collections),
            SyncChange.txid < SYNC_HORIZON,
        )
        .order_by(SyncChange.txid, SyncChange.collection, SyncChange.record_id)
        .limit(limit)
    )
    if position is not None:
        statement = statement.where(
            tuple_(SyncChange.txid, SyncChange.collection, SyncChange.record_id)
            > tuple_(
                literal(position[0], BigInteger),
                literal(Collection(position[1]), SyncChange.collection.type),
                literal(position[2], SyncChange.record_id.type),
            )
        )
    return list(await session.scalars(statement))


async def claim_push(
    session: AsyncSession, user_id: uuid.UUID, client_id: str, mutation_id: int
) -> tuple[bool, dict[str, Any] | None]:
    """(True, None) when this push is new; (False, its stored answer) when it was applied.

    The insert waits for a concurrent identical push to finish, so only one applies it.
    """
    inserted = await session.scalar(
        insert(SyncPush)
        .values(user_id=user_id, client_id=client_id, mutation_id=mutation_id)
        .on_conflict_do_nothing()
        .returning(SyncPush.mutation_id)
    )
    if inserted is not None:
        return True, None
    stored = await session.scalar(
        select(SyncPush.response).where(
            SyncPush.user_id == user_id,
            SyncPush.client_id == client_id,
            SyncPush.mutation_id == mutation_id,
        )
    )
    return False, stored


async def save_push(
    session: AsyncSession,
    user_id: uuid.UUID,
    client_id: str,
    mutation_id: int,
    response: dict[str, Any],
) -> None:
    push = await session.get(SyncPush, (user_id, client_id, mutation_id))
    assert push is not None
    push.response = response
    await session.flush()
