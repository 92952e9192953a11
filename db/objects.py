"""Objects waiting to be deleted from storage: written in the transaction that drops their
row, removed once storage confirms, so no object is forgotten if a job is lost."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import String, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at


class ObjectDeletion(Base):
    __tablename__ = "object_deletions"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    requested_at: Mapped[datetime] = created_at()


async def schedule_deletion(session: AsyncSession, keys: Sequence[str]) -> None:
    if keys:
        await session.execute(
            insert(ObjectDeletion).values([{"key": key} for key in keys]).on_conflict_do_nothing()
        )


async def done(session: AsyncSession, key: str) -> None:
    await session.execute(delete(ObjectDeletion).where(ObjectDeletion.key == key))


async def overdue(session: AsyncSession, requested_before: datetime, limit: int = 500) -> list[str]:
    rows = await session.scalars(
        select(ObjectDeletion.key)
        .where(ObjectDeletion.requested_at < requested_before)
        .order_by(ObjectDeletion.requested_at)
        .limit(limit)
    )
    return list(rows)
