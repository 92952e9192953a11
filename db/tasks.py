"""Tasks, with tags, due dates and full-text search."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Computed, Enum, ForeignKey, Index, String, Text, delete, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at
from db.pagination import Page, paginate
from db.search import CONFIG, matches, prefix_query


class TaskStatus(enum.StrEnum):
    TODO = "TODO"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"


class TaskPriority(enum.StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    URGENT = "URGENT"


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_user_due", "user_id", "due_key", "created_at", "id"),
        Index("ix_tasks_tags", "tags", postgresql_using="gin"),
        Index("ix_tasks_search", "search_vector", postgresql_using="gin"),
        Index(
            "ix_tasks_reminder_due",
            "remind_at",
            postgresql_where=text("remind_at IS NOT NULL AND reminded_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[TaskStatus] = mapped_column(Enum(TaskStatus, name="task_status"))
    priority: Mapped[TaskPriority] = mapped_column(Enum(TaskPriority, name="task_priority"))
    due_at: Mapped[datetime | None]
    due_key: Mapped[datetime] = mapped_column(
        Computed("coalesce(due_at, '9999-12-31 00:00:00+00'::timestamptz)", persisted=True)
    )
    completed_at: Mapped[datetime | None]
    remind_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    """When the reminder for this ``remind_at`` was dealt with (mailed, or dropped because
    the task was done or the user takes no email); moving ``remind_at`` clears it."""
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(50)), default=list)
    version: Mapped[int] = mapped_column(default=1)
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed(
            f"to_tsvector('{CONFIG}', title || ' ' || coalesce(description, ''))", persisted=True
        ),
        deferred=True,
    )
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


@dataclass(frozen=True)
class TaskFilter:
    statuses: Sequence[TaskStatus] | None = None
    priorities: Sequence[TaskPriority] | None = None
    tag: str | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    search: str | None = None


async def owned(
    session: AsyncSession, user_id: uuid.UUID, record_id: uuid.UUID, *, lock: bool = False
) -> Task | None:
    statement = select(Task).where(Task.id == record_id, Task.user_id == user_id)
    return await session.scalar(statement.with_for_update() if lock else statement)


async def owned_many(
    session: AsyncSession, user_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Task]:
    rows = await session.scalars(select(Task).where(Task.id.in_(ids), Task.user_id == user_id))
    return {row.id: row for row in rows}


async def add(session: AsyncSession, task: Task) -> Task:
    session.add(task)
    await session.flush()
    await session.refresh(task)
    return task


async def save(session: AsyncSession, task: Task, **values: Any) -> Task:
    for name, value in values.items():
        setattr(task, name, value)
    task.version += 1
    await session.flush()
    await session.refresh(task)
    return task


async def remove(session: AsyncSession, task: Task) -> None:
    await session.execute(delete(Task).where(Task.id == task.id))


async def page(
    session: AsyncSession, user_id: uuid.UUID, where: TaskFilter, *, first: int, after: str | None
) -> Page[Task]:
    """Soonest due first (tasks without a due date last), then oldest first."""
    statement = select(Task).where(Task.user_id == user_id)
    if where.statuses:
        statement = statement.where(Task.status.in_(where.statuses))
    if where.priorities:
        statement = statement.where(Task.priority.in_(where.priorities))
    if where.tag:
        statement = statement.where(Task.tags.contains([where.tag]))
    if where.due_before is not None:
        statement = statement.where(Task.due_at < where.due_before)
    if where.due_after is not None:
        statement = statement.where(Task.due_at >= where.due_after)
    if where.search and (query := prefix_query(where.search)):
        statement = statement.where(matches(Task.search_vector, query))
    return await paginate(
        session, statement, (Task.due_key, Task.created_at, Task.id), first=first, after=after
    )
