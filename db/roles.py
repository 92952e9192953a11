"""Roles, their permissions and the links between users and roles."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, delete, func, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, uuid_pk

user_roles = Table(
    "user_roles",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True),
    Column(
        "created_at", Base.type_annotation_map[datetime], server_default=func.now(), nullable=False
    ),
)


class Role(Base):
    __tablename__ = "roles"

    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(50), unique=True)
    description: Mapped[str] = mapped_column(String(300))
    permissions: Mapped[list[str]] = mapped_column(ARRAY(String(100)))


async def get_all(session: AsyncSession) -> Sequence[Role]:
    return (await session.scalars(select(Role).order_by(Role.name))).all()


async def by_name(session: AsyncSession, name: str, *, lock: bool = False) -> Role | None:
    """With ``lock``, changes to who holds the role are serialised (the last-admin rule)."""
    statement = select(Role).where(Role.name == name)
    return await session.scalar(statement.with_for_update() if lock else statement)


async def by_users(
    session: AsyncSession, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Role]]:
    rows = await session.execute(
        select(user_roles.c.user_id, Role)
        .join(Role, Role.id == user_roles.c.role_id)
        .where(user_roles.c.user_id.in_(user_ids))
        .order_by(Role.name)
    )
    grouped: dict[uuid.UUID, list[Role]] = defaultdict(list)
    for user_id, role in rows:
        grouped[user_id].append(role)
    return grouped


async def holds(session: AsyncSession, user_id: uuid.UUID, role_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(user_roles.c.user_id).where(
            user_roles.c.user_id == user_id, user_roles.c.role_id == role_id
        )
    )
    return found is not None


async def count_holders(session: AsyncSession, role_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).select_from(user_roles).where(user_roles.c.role_id == role_id)
    )
    return count or 0


async def grant(session: AsyncSession, user_id: uuid.UUID, role_id: uuid.UUID) -> None:
    await session.execute(
        insert(user_roles).values(user_id=user_id, role_id=role_id).on_conflict_do_nothing()
    )


async def revoke(session: AsyncSession, user_id: uuid.UUID, role_id: uuid.UUID) -> None:
    await session.execute(
        delete(user_roles).where(user_roles.c.user_id == user_id, user_roles.c.role_id == role_id)
    )
