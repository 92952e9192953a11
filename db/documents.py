"""Trusted documents: the operations a deployment runs, registered by their SHA-256."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import String, Text, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at


class TrustedDocument(Base):
    __tablename__ = "trusted_documents"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_at()


async def get(session: AsyncSession, sha256: str) -> str | None:
    found: str | None = await session.scalar(
        select(TrustedDocument.body).where(TrustedDocument.sha256 == sha256)
    )
    return found


async def add_many(session: AsyncSession, documents: Mapping[str, tuple[str, str]]) -> int:
    """Registers ``{sha256: (name, body)}``; a document already there stays as it is.
    Returns how many were new."""
    if not documents:
        return 0
    statement = (
        insert(TrustedDocument)
        .values(
            [
                {"sha256": digest, "name": name[:200], "body": body}
                for digest, (name, body) in documents.items()
            ]
        )
        .on_conflict_do_nothing(index_elements=[TrustedDocument.sha256])
        .returning(TrustedDocument.sha256)
    )
    return len((await session.scalars(statement)).all())
