"""Projects: named, coloured, ordered groups of a user's tasks."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at
from db.tasks import Task, TaskStatus


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (Index("ix_projects_user_position", "user_id", "position"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    color: Mapped[str | None] = mapped_column(String(7))
    archived: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int]
    """0-based rank among the user's projects (archived ones included), kept dense."""
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


async def owned(
    session: AsyncSession, user_id: uuid.UUID, record_id: uuid.UUID, *, lock: bool = False
) -> Project | None:
    """The user's project; with ``lock``, all the user's projects are locked first (a
    change of one moves the positions of others), in the order :func:`lock_all` takes."""
    if lock:
        await lock_all(session, user_id)
    statement = select(Project).where(Project.id == record_id, Project.user_id == user_id)
    return await session.scalar(statement.with_for_update() if lock else statement)


async def owned_many(
    session: AsyncSession, user_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Project]:
    rows = await session.scalars(
        select(Project).where(Project.id.in_(ids), Project.user_id == user_id)
    )
    return {row.id: row for row in rows}


async def listed(
    session: AsyncSession, user_id: uuid.UUID, *, include_archived: bool
) -> list[tuple[Project, int]]:
    """The user's projects by position, each with its number of open tasks: one statement."""
    open_tasks = (
        select(func.count())
        .where(Task.project_id == Project.id, Task.status != TaskStatus.DONE)
        .correlate(Project)
        .scalar_subquery()
    )
    statement = select(Project, open_tasks).where(Project.user_id == user_id)
    if not include_archived:
        statement = statement.where(Project.archived.is_(False))
    rows = await session.execute(statement.order_by(Project.position, Project.id))
    return [(project, count) for project, count in rows]


async def open_tasks(session: AsyncSession, project_id: uuid.UUID) -> int:
    return (await open_tasks_of(session, [project_id])).get(project_id, 0)


async def open_tasks_of(
    session: AsyncSession, project_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    statement = (
        select(Task.project_id, func.count())
        .where(Task.project_id.in_(project_ids), Task.status != TaskStatus.DONE)
        .group_by(Task.project_id)
    )
    rows = await session.execute(statement)
    return {project_id: count for project_id, count in rows if project_id}


async def lock_all(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Locks the user's projects (so positions change one writer at a time); their count."""
    rows = await session.scalars(
        select(Project.id).where(Project.user_id == user_id).order_by(Project.id).with_for_update()
    )
    return len(rows.all())


async def add(session: AsyncSession, project: Project) -> Project:
    session.add(project)
    await session.flush()
    await session.refresh(project)
    return project


@dataclass(frozen=True)
class Moved:
    """A project whose position changed, at its new version."""

    id: uuid.UUID
    version: int


async def shift(
    session: AsyncSession, user_id: uuid.UUID, start: int, end: int, by: int
) -> list[Moved]:
    """Moves the positions in ``start..end`` (inclusive) by ``by``; the projects moved."""
    moved = await session.execute(
        update(Project)
        .where(Project.user_id == user_id, Project.position.between(start, end))
        .values(position=Project.position + by, version=Project.version + 1)
        .returning(Project.id, Project.version)
        .execution_options(synchronize_session=False)
    )
    return [Moved(project_id, version) for project_id, version in moved]


async def save(session: AsyncSession, project: Project, **values: object) -> Project:
    for name, value in values.items():
        setattr(project, name, value)
    project.version += 1
    await session.flush()
    await session.refresh(project)
    return project


async def remove(session: AsyncSession, project: Project) -> tuple[Sequence[Task], list[Moved]]:
    """Deletes the project with its tasks (a subtask is in its parent's project, so all of
    them) and closes the gap in the positions; the tasks deleted and the projects moved."""
    removed = list(await session.scalars(select(Task).where(Task.project_id == project.id)))
    await session.execute(delete(Project).where(Project.id == project.id))
    moved = await session.execute(
        update(Project)
        .where(Project.user_id == project.user_id, Project.position > project.position)
        .values(position=Project.position - 1, version=Project.version + 1)
        .returning(Project.id, Project.version)
        .execution_options(synchronize_session=False)
    )
    return removed, [Moved(project_id, version) for project_id, version in moved]


async def exists(session: AsyncSession, record_id: uuid.UUID) -> bool:
    """Whether any user has a project of this ID."""
    return await session.scalar(select(Project.id).where(Project.id == record_id)) is not None


async def by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Project]:
    return {
        row.id: row for row in await session.scalars(select(Project).where(Project.id.in_(ids)))
    }
