"""Tasks: validation, status rules, listing, and their part in offline sync."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from db import projects, tasks
from db.events import ActivityKind
from db.pagination import Page
from db.sync import Collection
from db.tasks import Task, TaskCompletion, TaskFilter, TaskPriority, TaskStatus
from resolvers import ids, records, recurrence
from resolvers.dates import format_instant
from resolvers.errors import ErrorCode, Problems, UserErrors
from resolvers.pagination import cursor_checked, page_size
from resolvers.validation import search_text

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from resolvers.context import Context
    from schema.tasks import CreateTaskInput, TaskFilterInput, UpdateTaskInput

KIND = "task"
FIELDS = frozenset(
    {
        "title",
        "description",
        "status",
        "priority",
        "dueAt",
        "remindAt",
        "tags",
        "projectId",
        "parentId",
        "recurrence",
    }
)
NOT_FOUND = "No such task."
NO_PROJECT = "No such project."
NO_PARENT = "No such task to be the parent."
MAX_DEPTH = 3
"""Levels of tasks: a task, its subtasks and theirs."""


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
    for name, kind, message in (
        ("projectId", "project", NO_PROJECT),
        ("parentId", KIND, NO_PARENT),
    ):
        if values.get(name) is not None:
            decoded = ids.decode_as(kind, str(values[name]))
            if decoded is None:
                problems.add((*path, name), message, ErrorCode.NOT_FOUND)
            cleaned[_column(name)] = decoded
        elif name in values:
            cleaned[_column(name)] = None
    if values.get("recurrence") is not None:
        rule = values["recurrence"]
        problem = recurrence.problem_of(rule) if isinstance(rule, str) else "Use text."
        if problem:
            problems.add((*path, "recurrence"), problem)
        cleaned["recurrence"] = recurrence.normal(rule) if not problem else None
    elif "recurrence" in values:
        cleaned["recurrence"] = None
    return cleaned


def _column(field: str) -> str:
    return "project_id" if field == "projectId" else "parent_id"


async def _check_links(
    session: AsyncSession, user_id: uuid.UUID, row: Task | None, cleaned: dict[str, Any]
) -> None:
    """The checks that read the database, every problem reported at once: the project and
    parent are the user's, a subtask is in its parent's project (it takes the parent's
    when none is given), at most :data:`MAX_DEPTH` levels, no cycle; a recurring task has
    a due date."""
    problems = Problems()
    path = ("input",)
    parent_id = cleaned.get("parent_id", row.parent_id if row else None)
    project_id = cleaned.get("project_id", row.project_id if row else None)
    wanted = cleaned.get("project_id")
    if wanted is not None and await projects.owned(session, user_id, wanted) is None:
        problems.add((*path, "projectId"), NO_PROJECT, ErrorCode.NOT_FOUND)
    if "parent_id" in cleaned and parent_id is not None:
        parent = await tasks.owned(session, user_id, parent_id)
        if parent is None:
            problems.add((*path, "parentId"), NO_PARENT, ErrorCode.NOT_FOUND)
        else:
            chain = await tasks.ancestors(session, parent.id)
            below = await tasks.depth_below(session, row.id) if row else 0
            if row is not None and row.id in chain:
                problems.add((*path, "parentId"), "A task cannot be below itself.")
            elif len(chain) + 1 + below > MAX_DEPTH:
                problems.add((*path, "parentId"), f"Tasks nest at most {MAX_DEPTH} levels deep.")
            if "project_id" not in cleaned:
                cleaned["project_id"] = project_id = parent.project_id
            elif parent.project_id != project_id:
                problems.add((*path, "parentId"), "A subtask is in its parent's project.")
    elif "project_id" in cleaned and parent_id is not None and row is not None:
        parent = await tasks.owned(session, user_id, parent_id)
        if parent is not None and parent.project_id != project_id:
            problems.add((*path, "projectId"), "A subtask is in its parent's project.")
    rule = cleaned.get("recurrence", row.recurrence if row else None)
    due_at = cleaned.get("due_at", row.due_at if row else None)
    if rule and due_at is None:
        problems.add((*path, "recurrence"), "A recurring task needs a dueAt.")
    problems.raise_if_any()
    if rule and ("recurrence" in cleaned or "due_at" in cleaned):
        cleaned["recurrence_start"] = due_at  # the series starts again from here
    elif not rule:
        cleaned["recurrence_start"] = None


async def create_row(
    session: AsyncSession, user_id: uuid.UUID, record_id: uuid.UUID, cleaned: dict[str, Any]
) -> Task:
    await _check_links(session, user_id, None, cleaned)
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


async def update_row(
    session: AsyncSession, row: Task, cleaned: dict[str, Any], *, now: datetime | None = None
) -> Task:
    """Applies the changes; ``completedAt`` follows the status into and out of DONE, and a
    moved ``remindAt`` re-arms the reminder. A
    change that makes the task DONE is its completion (TASK_COMPLETED, not TASK_UPDATED),
    whichever way it comes (a mutation or a sync push); on a recurring task it completes
    the occurrence (:func:`complete_row`). A task moved to another project takes its
    subtasks along."""
    await _check_links(session, row.user_id, row, cleaned)
    status = cleaned.get("status", row.status)
    if status is TaskStatus.DONE and row.status is not TaskStatus.DONE:
        cleaned.pop("status")
        row, _ = await complete_row(session, row, now=now, changes=cleaned)
        return row
    if status is not TaskStatus.DONE:
        cleaned["completed_at"] = None
    moved = "project_id" in cleaned and cleaned["project_id"] != row.project_id
    row = await _saved(session, row, cleaned)
    if moved:
        for below in await tasks.descendants(session, [row.id]):
            await tasks.save(session, below, project_id=row.project_id)
            await records.changed(session, Collection.TASKS, below, ActivityKind.TASK_UPDATED)
    await records.changed(session, Collection.TASKS, row, ActivityKind.TASK_UPDATED)
    return row


async def _saved(session: AsyncSession, row: Task, cleaned: dict[str, Any]) -> Task:
    if "remind_at" in cleaned and cleaned["remind_at"] != row.remind_at:
        cleaned["reminded_at"] = None  # moved: the reminder goes again, at the new time
    return await tasks.save(session, row, **cleaned)


async def complete_row(
    session: AsyncSession,
    row: Task,
    *,
    now: datetime | None = None,
    changes: dict[str, Any] | None = None,
) -> tuple[Task, TaskCompletion]:
    """Records the completed occurrence. A recurring task moves to its next occurrence
    after both the one completed and now (occurrences missed while it was overdue are
    skipped, not recorded), ``remindAt`` moved by as much; a task whose rule has ended,
    or that does not recur, becomes DONE. Open subtasks are left as they are. ``changes``
    (of an update that sets DONE) are saved with it, in one version."""
    now = now or datetime.now(UTC)
    values = dict(changes or {})
    due_at = values.get("due_at", row.due_at)
    rule = values.get("recurrence", row.recurrence)
    remind_at = values.get("remind_at", row.remind_at)
    completion = await tasks.record_completion(session, row, due_at, now)
    following = None
    if rule and due_at is not None:
        timezone = await tasks.timezone_of(session, row.user_id)
        start = values.get("recurrence_start", row.recurrence_start) or due_at
        following = recurrence.next_occurrence(rule, start, max(due_at, now), timezone)
    if following is not None and due_at is not None:
        values |= {"due_at": following, "completed_at": None, "status": TaskStatus.TODO}
        if remind_at is not None:
            values["remind_at"] = remind_at + (following - due_at)
    else:
        values |= {"status": TaskStatus.DONE, "completed_at": now}
    row = await _saved(session, row, values)
    await records.changed(session, Collection.TASKS, row, ActivityKind.TASK_COMPLETED)
    return row, completion


async def delete_row(session: AsyncSession, row: Task) -> None:
    """Deletes the task with its subtasks, each leaving its tombstone."""
    for below in await tasks.remove(session, row):
        await deleted(session, below)
    await deleted(session, row)


async def deleted(session: AsyncSession, row: Task) -> None:
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
        "projectId": ids.encode("project", row.project_id) if row.project_id else None,
        "parentId": ids.encode(KIND, row.parent_id) if row.parent_id else None,
        "recurrence": row.recurrence,
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
            project_id=_project_filter(where.project_id),
            top_level=where.top_level,
        )
    async with ctx.sessionmaker() as session:
        with cursor_checked():
            return await tasks.page(session, principal.user_id, criteria, first=size, after=after)


def _project_filter(global_id: str | None) -> uuid.UUID | None:
    """The project filtered on; an ID of no project matches no task."""
    if global_id is None:
        return None
    return ids.decode_as("project", global_id) or uuid.UUID(int=0)


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
        return await update_row(session, row, cleaned, now=ctx.services.clock())


async def delete(ctx: Context, global_id: str) -> str:
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        await delete_row(session, await _locked(session, principal.user_id, global_id))
    return global_id


async def complete(ctx: Context, global_id: str) -> tuple[Task, TaskCompletion]:
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        row = await _locked(session, principal.user_id, global_id)
        if row.status is TaskStatus.DONE:
            raise UserErrors.one(("id",), "The task is done already.", ErrorCode.INVALID)
        return await complete_row(session, row, now=ctx.services.clock())


async def _locked(session: AsyncSession, user_id: uuid.UUID, global_id: str) -> Task:
    return await records.locked(session, user_id, global_id, KIND, tasks.owned, NOT_FOUND)
