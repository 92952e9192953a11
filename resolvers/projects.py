"""Projects: validation, ordering by a dense ``position``, and deletion with their tasks."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from db import projects, sync
from db.events import ActivityKind
from db.projects import Project
from db.sync import Collection
from resolvers import records
from resolvers import tasks as task_resolvers
from resolvers.errors import Problems

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from resolvers.context import Context
    from schema.projects import CreateProjectInput, UpdateProjectInput

KIND = "project"
FIELDS = frozenset({"name", "color", "archived", "position"})
NOT_FOUND = "No such project."
_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")


@dataclass(frozen=True)
class Listed:
    row: Project
    open_tasks: int


def clean(
    values: Mapping[str, Any], problems: Problems, path: records.Path, *, creating: bool
) -> dict[str, Any]:
    records.unknown_fields(values, FIELDS | {"id"}, problems, path)
    cleaned: dict[str, Any] = {}
    if creating or values.get("name") is not None:
        cleaned["name"] = records.text(values, "name", problems, path, minimum=1, limit=100)
    if "color" in values:
        color = values.get("color")
        if color is not None and not (isinstance(color, str) and _COLOR.fullmatch(color)):
            problems.add((*path, "color"), "Use a colour like '#3FA34D'.")
        cleaned["color"] = color.upper() if isinstance(color, str) else None
    if values.get("archived") is not None:
        cleaned["archived"] = records.flag(values, "archived", problems, path)
    if values.get("position") is not None:
        cleaned["position"] = records.whole(values, "position", problems, path, low=0, high=10_000)
    return cleaned


async def listed(ctx: Context, include_archived: bool) -> list[Listed]:
    principal = await ctx.principal()
    async with ctx.sessionmaker() as session:
        found = await projects.listed(session, principal.user_id, include_archived=include_archived)
    return [Listed(row, count) for row, count in found]


async def create_row(
    session: AsyncSession, user_id: uuid.UUID, record_id: uuid.UUID, cleaned: dict[str, Any]
) -> Project:
    """A new project goes last, or to the ``position`` given."""
    count = await projects.lock_all(session, user_id)
    target = cleaned.pop("position", None)
    row = await projects.add(
        session, Project(id=record_id, user_id=user_id, position=count, **cleaned)
    )
    if target is not None and target < count:
        await _shifted(
            session, row.user_id, await projects.shift(session, user_id, target, count - 1, 1)
        )
        row = await projects.save(session, row, position=target)
    await records.changed(session, Collection.PROJECTS, row, ActivityKind.PROJECT_CREATED)
    return row


async def update_row(session: AsyncSession, row: Project, cleaned: dict[str, Any]) -> Project:
    """A new ``position`` moves the project there, the ones between shifting by one; past
    the end it goes last."""
    count = await projects.lock_all(session, row.user_id)
    if "position" in cleaned:
        target = min(cleaned["position"], count - 1)
        cleaned["position"] = target
        moved: list[projects.Moved] = []
        if target < row.position:
            moved = await projects.shift(session, row.user_id, target, row.position - 1, 1)
        elif target > row.position:
            moved = await projects.shift(session, row.user_id, row.position + 1, target, -1)
        await _shifted(session, row.user_id, moved)
    row = await projects.save(session, row, **cleaned)
    await records.changed(session, Collection.PROJECTS, row, ActivityKind.PROJECT_UPDATED)
    return row


async def delete_row(session: AsyncSession, row: Project) -> None:
    """Deletes the project with its tasks, each task leaving its sync tombstone."""
    await projects.lock_all(session, row.user_id)
    removed, moved = await projects.remove(session, row)
    for task in removed:
        await task_resolvers.deleted(session, task)
    await _shifted(session, row.user_id, moved)
    await records.changed(
        session, Collection.PROJECTS, row, ActivityKind.PROJECT_DELETED, deleted=True
    )


async def _shifted(session: AsyncSession, user_id: uuid.UUID, moved: list[projects.Moved]) -> None:
    """Projects whose position changed as another moved: pulled again, with no event."""
    for project in moved:
        await sync.record(
            session,
            collection=Collection.PROJECTS,
            record_id=project.id,
            user_id=user_id,
            version=project.version,
        )


def fields_of(row: Project) -> dict[str, Any]:
    return {
        "name": row.name,
        "color": row.color,
        "archived": row.archived,
        "position": row.position,
    }


async def create(ctx: Context, data: CreateProjectInput) -> Listed:
    principal = await ctx.principal()
    record_id, cleaned = records.creation(KIND, data, clean)
    async with ctx.sessionmaker.begin() as session:
        await records.ensure_new(session, Collection.PROJECTS, record_id, "project")
        return Listed(await create_row(session, principal.user_id, record_id, cleaned), 0)


async def update(ctx: Context, global_id: str, data: UpdateProjectInput) -> Listed:
    principal = await ctx.principal()
    cleaned = records.changes(data, clean)
    async with ctx.sessionmaker.begin() as session:
        row = await update_row(
            session, await _locked(session, principal.user_id, global_id), cleaned
        )
        return Listed(row, await projects.open_tasks(session, row.id))


async def delete(ctx: Context, global_id: str) -> str:
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        await delete_row(session, await _locked(session, principal.user_id, global_id))
    return global_id


async def _locked(session: AsyncSession, user_id: uuid.UUID, global_id: str) -> Project:
    return await records.locked(session, user_id, global_id, KIND, projects.owned, NOT_FOUND)


async def project(ctx: Context, global_id: str) -> Project | None:
    """The user's project of this global ID (for ``node(id:)``); None for anyone else's."""
    return await records.read(ctx, global_id, KIND, projects.owned)
