"""Uploads the server has signed but the client has not confirmed yet (presigned POST)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at


class PendingUpload(Base):
    __tablename__ = "pending_uploads"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(30))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    declared_size: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = created_at()


async def add(session: AsyncSession, upload: PendingUpload) -> None:
    session.add(upload)
    await session.flush()


async def take(
    session: AsyncSession, user_id: uuid.UUID, key: str, *, purpose: str
) -> PendingUpload | None:
    """Removes and returns the user's pending upload of ``key``, so it completes only once."""
    return await session.scalar(
        delete(PendingUpload)
        .where(
            PendingUpload.key == key,
            PendingUpload.user_id == user_id,
            PendingUpload.purpose == purpose,
        )
        .returning(PendingUpload)
    )


async def expired_keys(session: AsyncSession, limit: int = 500) -> list[str]:
    rows = await session.scalars(
        select(PendingUpload.key)
        .where(PendingUpload.expires_at < func.now())
        .order_by(PendingUpload.expires_at)
        .limit(limit)
    )
    return list(rows)


async def remove_many(session: AsyncSession, keys: list[str]) -> None:
    await session.execute(delete(PendingUpload).where(PendingUpload.key.in_(keys)))


async def keys_of(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    """The keys of the user's uploads not confirmed yet (their files may be stored)."""
    return list(
        await session.scalars(select(PendingUpload.key).where(PendingUpload.user_id == user_id))
    )
