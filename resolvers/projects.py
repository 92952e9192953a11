"""Projects: validation, ordering by a dense ``position``, and deletion with their tasks."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from db import events, projects
from db.events import ActivityKind
from db.projects import Project
from resolvers import records
from resolvers import tasks as task_resolvers
from resolvers.errors import ErrorCode, Problems, UserErrors

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


async def create(ctx: Context, data: CreateProjectInput) -> Listed:
    """A new project goes last."""
    principal = await ctx.principal()
    record_id, cleaned = records.creation(KIND, data, clean)
    async with ctx.sessionmaker.begin() as session:
        if await projects.exists(session, record_id):
            raise UserErrors.one(
                ("input", "id"), "A project with this ID exists.", ErrorCode.CONFLICT
            )
        count = await projects.lock_all(session, principal.user_id)
        row = await projects.add(
            session, Project(id=record_id, user_id=principal.user_id, position=count, **cleaned)
        )
        await events.publish(session, row.user_id, ActivityKind.PROJECT_CREATED, row.id)
        return Listed(row, 0)


async def update(ctx: Context, global_id: str, data: UpdateProjectInput) -> Listed:
    """A new ``position`` moves the project there, the ones between shifting by one; past
    the end it goes last."""
    principal = await ctx.principal()
    cleaned = records.changes(data, clean)
    async with ctx.sessionmaker.begin() as session:
        count = await projects.lock_all(session, principal.user_id)
        row = await _locked(session, principal.user_id, global_id)
        if "position" in cleaned:
            target = min(cleaned["position"], count - 1)
            cleaned["position"] = target
            if target < row.position:
                await projects.shift(session, row.user_id, target, row.position - 1, 1)
            elif target > row.position:
                await projects.shift(session, row.user_id, row.position + 1, target, -1)
        row = await projects.save(session, row, **cleaned)
        await events.publish(session, row.user_id, ActivityKind.PROJECT_UPDATED, row.id)
        return Listed(row, await projects.open_tasks(session, row.id))


async def delete(ctx: Context, global_id: str) -> str:
    """Deletes the project with its tasks, each task leaving its sync tombstone."""
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        await projects.lock_all(session, principal.user_id)
        row = await _locked(session, principal.user_id, global_id)
        for task in await projects.remove(session, row):
            await task_resolvers.deleted(session, task)
        await events.publish(session, row.user_id, ActivityKind.PROJECT_DELETED, row.id)
    return global_id


async def _locked(session: AsyncSession, user_id: uuid.UUID, global_id: str) -> Project:
    return await records.locked(session, user_id, global_id, KIND, projects.owned, NOT_FOUND)


async def project(ctx: Context, global_id: str) -> Project | None:
    """The user's project of this global ID (for ``node(id:)``); None for anyone else's."""
    return await records.read(ctx, global_id, KIND, projects.owned)
