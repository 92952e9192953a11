"""Data exports: one zip file of everything an account holds, built by a job and kept in
storage for a while. At most one export per user is waiting or being built at a time (a
partial unique index)."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Enum, ForeignKey, Index, String, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at, uuid_pk


class ExportStatus(enum.StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    READY = "READY"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"


ACTIVE = (ExportStatus.PENDING, ExportStatus.RUNNING)


class DataExport(Base):
    __tablename__ = "data_exports"
    __table_args__ = (
        Index("ix_data_exports_user_id", "user_id"),
        Index(
            "uq_data_exports_active_user",
            "user_id",
            unique=True,
            postgresql_where=text("status IN ('PENDING', 'RUNNING')"),
        ),
        Index(
            "ix_data_exports_ready_expires",
            "expires_at",
            postgresql_where=text("status = 'READY'"),
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[ExportStatus] = mapped_column(
        Enum(ExportStatus, name="export_status"), default=ExportStatus.PENDING
    )
    object_key: Mapped[str] = mapped_column(String(300), unique=True)
    size: Mapped[int | None] = mapped_column(BigInteger)
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = created_at()
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


async def add(session: AsyncSession, export: DataExport) -> DataExport:
    session.add(export)
    await session.flush()
    await session.refresh(export)
    return export


async def get(
    session: AsyncSession, export_id: uuid.UUID, *, lock: bool = False
) -> DataExport | None:
    return await session.get(DataExport, export_id, with_for_update=lock)


async def owned(
    session: AsyncSession, user_id: uuid.UUID, export_id: uuid.UUID, *, lock: bool = False
) -> DataExport | None:
    statement = select(DataExport).where(DataExport.id == export_id, DataExport.user_id == user_id)
    return await session.scalar(statement.with_for_update() if lock else statement)


async def active(session: AsyncSession, user_id: uuid.UUID) -> DataExport | None:
    """The user's export waiting or being built, if any (there is at most one)."""
    return await session.scalar(
        select(DataExport).where(DataExport.user_id == user_id, DataExport.status.in_(ACTIVE))
    )


async def save(session: AsyncSession, export: DataExport, **values: Any) -> DataExport:
    for name, value in values.items():
        setattr(export, name, value)
    await session.flush()
    return export


async def stale_pending(
    session: AsyncSession, older_than: datetime, limit: int = 500
) -> list[uuid.UUID]:
    """Exports still PENDING long after they were asked for: their job was lost before
    it was queued."""
    rows = await session.scalars(
        select(DataExport.id)
        .where(DataExport.status == ExportStatus.PENDING, DataExport.created_at < older_than)
        .order_by(DataExport.created_at)
        .limit(limit)
    )
    return list(rows)


async def expired(session: AsyncSession, now: datetime, limit: int = 500) -> Sequence[DataExport]:
    """READY exports past their time, locked (skipping those another pass holds)."""
    rows = await session.scalars(
        select(DataExport)
        .where(DataExport.status == ExportStatus.READY, DataExport.expires_at <= now)
        .order_by(DataExport.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(rows)


async def object_keys_of(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    """The storage keys of every export of the user, built or not."""
    return list(
        await session.scalars(select(DataExport.object_key).where(DataExport.user_id == user_id))
    )
