"""Tasks: validation, status rules, listing, and their part in offline sync."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from db import tasks
from db.events import ActivityKind
from db.pagination import Page
from db.sync import Collection
from db.tasks import Task, TaskFilter, TaskPriority, TaskStatus
from resolvers import records
from resolvers.dates import format_instant
from resolvers.errors import Problems
from resolvers.pagination import cursor_checked, page_size
from resolvers.validation import search_text

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from resolvers.context import Context
    from schema.tasks import CreateTaskInput, TaskFilterInput, UpdateTaskInput

KIND = "task"
FIELDS = frozenset({"title", "description", "status", "priority", "dueAt", "remindAt", "tags"})
NOT_FOUND = "No such task."


def clean(
    values: Mapping[str, Any], problems: Problems, path: records.Path, *, creating: bool
) -> dict[str, Any]:
    """Checked column values of the fields present in ``values`` (all of them to create)."""
    records.unknown_fields(values, FIELDS | {"id"}, problems, path)
    cleaned: dict[str, Any] = {}
    if creating or "title" in values:
        cleaned["title"] = records.text(values, "title", problems, path, minimum=1, limit=200)
    if "description" in values:
        cleaned["description"] = records.text(
            values, "description", problems, path, limit=10_000, nullable=True
        )
    if ("status" in values and values["status"] is not None) or creating:
        given = {"status": values.get("status") or TaskStatus.TODO.value}
        cleaned["status"] = records.choice(given, "status", TaskStatus, problems, path)
    if ("priority" in values and values["priority"] is not None) or creating:
        given = {"priority": values.get("priority") or TaskPriority.MEDIUM.value}
        cleaned["priority"] = records.choice(given, "priority", TaskPriority, problems, path)
    if "dueAt" in values:
        cleaned["due_at"] = records.moment(values, "dueAt", problems, path)
    if "remindAt" in values:
        # A time already past is taken: the reminder goes with the next run of the job
        # (an offline client may push it late).
        cleaned["remind_at"] = records.moment(values, "remindAt", problems, path)
    if creating or "tags" in values:
        cleaned["tags"] = records.tags(values, "tags", problems, path)
    return cleaned


async def create_row(
    session: AsyncSession, user_id: uuid.UUID, record_id: uuid.UUID, cleaned: dict[str, Any]
) -> Task:
    status = cleaned["status"]
    row = await tasks.add(
        session,
        Task(
            id=record_id,
            user_id=user_id,
            completed_at=datetime.now(UTC) if status is TaskStatus.DONE else None,
            **cleaned,
        ),
    )
    await records.changed(session, Collection.TASKS, row, ActivityKind.TASK_CREATED)
    return row


async def update_row(session: AsyncSession, row: Task, cleaned: dict[str, Any]) -> Task:
    """Applies the changes; ``completedAt`` follows the status into and out of DONE, and a
    moved ``remindAt`` re-arms the reminder. A
    change that makes the task DONE is its completion (TASK_COMPLETED, not TASK_UPDATED),
    whichever way it comes (a mutation or a sync push)."""
    status = cleaned.get("status", row.status)
    completed = status is TaskStatus.DONE and row.status is not TaskStatus.DONE
    if completed:
        cleaned["completed_at"] = datetime.now(UTC)
    elif status is not TaskStatus.DONE:
        cleaned["completed_at"] = None
    if "remind_at" in cleaned and cleaned["remind_at"] != row.remind_at:
        cleaned["reminded_at"] = None  # moved: the reminder goes again, at the new time
    row = await tasks.save(session, row, **cleaned)
    kind = ActivityKind.TASK_COMPLETED if completed else ActivityKind.TASK_UPDATED
    await records.changed(session, Collection.TASKS, row, kind)
    return row


async def delete_row(session: AsyncSession, row: Task) -> None:
    await tasks.remove(session, row)
    await records.changed(session, Collection.TASKS, row, ActivityKind.TASK_DELETED, deleted=True)


def fields_of(row: Task) -> dict[str, Any]:
    """The record as a sync pull sends it: the create input's fields."""
    return {
        "title": row.title,
        "description": row.description,
        "status": row.status.value,
        "priority": row.priority.value,
        "dueAt": format_instant(row.due_at) if row.due_at else None,
        "remindAt": format_instant(row.remind_at) if row.remind_at else None,
        "tags": list(row.tags),
    }


async def task(ctx: Context, global_id: str) -> Task | None:
    return await records.read(ctx, global_id, KIND, tasks.owned)


async def task_page(
    ctx: Context, first: int | None, after: str | None, where: TaskFilterInput | None
) -> Page[Task]:
    principal = await ctx.principal()
    size = page_size(first)
    criteria = TaskFilter()
    if where is not None:
        criteria = TaskFilter(
            statuses=list(dict.fromkeys(where.status or [])) or None,
            priorities=list(dict.fromkeys(where.priority or [])) or None,
            tag=records.tag_filter(where.tag),
            due_before=where.due_before,
            due_after=where.due_after,
            search=search_text(where.search),
        )
    async with ctx.sessionmaker() as session:
        with cursor_checked():
            return await tasks.page(session, principal.user_id, criteria, first=size, after=after)


async def create(ctx: Context, data: CreateTaskInput) -> Task:
    principal = await ctx.principal()
    record_id, cleaned = records.creation(KIND, data, clean)
    async with ctx.sessionmaker.begin() as session:
        await records.ensure_new(session, Collection.TASKS, record_id, "task")
        return await create_row(session, principal.user_id, record_id, cleaned)


async def update(ctx: Context, global_id: str, data: UpdateTaskInput) -> Task:
    principal = await ctx.principal()
    cleaned = records.changes(data, clean)
    async with ctx.sessionmaker.begin() as session:
        row = await _locked(session, principal.user_id, global_id)
        return await update_row(session, row, cleaned)


async def delete(ctx: Context, global_id: str) -> str:
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        await delete_row(session, await _locked(session, principal.user_id, global_id))
    return global_id


async def _locked(session: AsyncSession, user_id: uuid.UUID, global_id: str) -> Task:
    return await records.locked(session, user_id, global_id, KIND, tasks.owned, NOT_FOUND)
