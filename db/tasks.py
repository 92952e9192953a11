"""Tasks, with tags, due dates and full-text search."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Computed,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    delete,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at
from db.pagination import Page, paginate
from db.search import CONFIG, matches, prefix_query
from db.users import UserSettings


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
    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), index=True
    )
    recurrence: Mapped[str | None] = mapped_column(String(500))
    """An RFC 5545 RRULE (no DTSTART): ``due_at`` is its current occurrence."""
    recurrence_start: Mapped[datetime | None]
    """The series' first occurrence, which the rule counts from (``COUNT``, ``INTERVAL``)."""
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


class TaskCompletion(Base):
    """One completed occurrence of a task (of a recurring task, one per occurrence)."""

    __tablename__ = "task_completions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), index=True
    )
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime]


@dataclass(frozen=True)
class TaskFilter:
    statuses: Sequence[TaskStatus] | None = None
    priorities: Sequence[TaskPriority] | None = None
    tag: str | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    search: str | None = None
    project_id: uuid.UUID | None = None
    top_level: bool | None = None


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


async def remove(session: AsyncSession, task: Task) -> list[Task]:
    """Deletes the task and its subtasks (the foreign key cascades); the subtasks deleted."""
    below = await descendants(session, [task.id])
    await session.execute(delete(Task).where(Task.id == task.id))
    return below


async def descendants(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Task]:
    """The subtasks, at any depth, of the tasks ``ids``: one recursive statement."""
    tree = select(Task.id).where(Task.parent_id.in_(ids)).cte("tree", recursive=True)
    tree = tree.union_all(select(Task.id).where(Task.parent_id == tree.c.id))
    return list(await session.scalars(select(Task).where(Task.id.in_(select(tree.c.id)))))


async def ancestors(session: AsyncSession, task_id: uuid.UUID) -> list[uuid.UUID]:
    """The task itself and its parents, up to the top: one recursive statement."""
    up = select(Task.id, Task.parent_id).where(Task.id == task_id).cte("up", recursive=True)
    up = up.union_all(select(Task.id, Task.parent_id).where(Task.id == up.c.parent_id))
    return list(await session.scalars(select(up.c.id)))


async def depth_below(session: AsyncSession, task_id: uuid.UUID) -> int:
    """How many levels of subtasks the task has (0 for none): one recursive statement."""
    down = (
        select(Task.id, literal(1).label("level"))
        .where(Task.parent_id == task_id)
        .cte("down", recursive=True)
    )
    down = down.union_all(
        select(Task.id, (down.c.level + 1).label("level")).where(Task.parent_id == down.c.id)
    )
    return int(await session.scalar(select(func.coalesce(func.max(down.c.level), 0))) or 0)


async def subtasks_of(
    session: AsyncSession, parent_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Task]]:
    found: dict[uuid.UUID, list[Task]] = {}
    statement = (
        select(Task).where(Task.parent_id.in_(parent_ids)).order_by(Task.created_at, Task.id)
    )
    for row in await session.scalars(statement):
        found.setdefault(row.parent_id, []).append(row)  # type: ignore[arg-type]
    return found


async def completions_of(
    session: AsyncSession, task_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[TaskCompletion]]:
    """Each task's completions, oldest first."""
    found: dict[uuid.UUID, list[TaskCompletion]] = {}
    statement = (
        select(TaskCompletion)
        .where(TaskCompletion.task_id.in_(task_ids))
        .order_by(TaskCompletion.completed_at, TaskCompletion.id)
    )
    for row in await session.scalars(statement):
        found.setdefault(row.task_id, []).append(row)
    return found


async def by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Task]:
    return {row.id: row for row in await session.scalars(select(Task).where(Task.id.in_(ids)))}


async def timezone_of(session: AsyncSession, user_id: uuid.UUID) -> str:
    zone = await session.scalar(
        select(UserSettings.timezone).where(UserSettings.user_id == user_id)
    )
    return zone or "UTC"


async def record_completion(
    session: AsyncSession, task: Task, due_at: datetime | None, completed_at: datetime
) -> TaskCompletion:
    completion = TaskCompletion(task_id=task.id, due_at=due_at, completed_at=completed_at)
    session.add(completion)
    await session.flush()
    return completion


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
    if where.project_id is not None:
        statement = statement.where(Task.project_id == where.project_id)
    if where.top_level is True:
        statement = statement.where(Task.parent_id.is_(None))
    elif where.top_level is False:
        statement = statement.where(Task.parent_id.is_not(None))
    if where.search and (query := prefix_query(where.search)):
        statement = statement.where(matches(Task.search_vector, query))
    return await paginate(
        session, statement, (Task.due_key, Task.created_at, Task.id), first=first, after=after
    )
