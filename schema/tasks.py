"""Tasks: statuses, priorities, due dates, tags, search."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Self

import strawberry

from auth.permissions import Permission
from db import tasks as rows
from db.tasks import TaskPriority, TaskStatus
from resolvers import ids
from resolvers import tasks as resolvers
from resolvers.context import Info
from schema.errors import DeletePayload, Payload, UserError
from schema.node import Node, fetches_node
from schema.pagination import Connection
from schema.permissions import Allowed, requires

if TYPE_CHECKING:
    from schema.projects import Project

strawberry.enum(TaskStatus)

strawberry.enum(TaskPriority)


@strawberry.type
class Task(Node):
    id: strawberry.ID
    title: str
    description: str | None
    status: TaskStatus
    priority: TaskPriority
    due_at: datetime | None
    remind_at: datetime | None = strawberry.field(
        description="When a reminder email goes out (again whenever it is moved)."
    )
    completed_at: datetime | None = strawberry.field(description="Set while the task is DONE.")
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    version: int = strawberry.field(description="Grows by one with every change.")
    recurrence: str | None = strawberry.field(
        description=(
            "An RFC 5545 RRULE read in the user's time zone from dueAt, the current "
            "occurrence; completing the task moves it to the next one."
        )
    )
    row: strawberry.Private[rows.Task]

    @strawberry.field
    async def project(
        self, info: Info
    ) -> Annotated[Project, strawberry.lazy("schema.projects")] | None:
        from schema.projects import Project

        if self.row.project_id is None:
            return None
        found = await info.context.loaders.project.load(self.row.project_id)
        return Project.from_row(found) if found else None

    @strawberry.field
    async def parent(self, info: Info) -> Task | None:
        if self.row.parent_id is None:
            return None
        found = await info.context.loaders.task.load(self.row.parent_id)
        return Task.from_row(found) if found else None

    @strawberry.field(
        description=(
            "Oldest first. Completing a task leaves its open subtasks open: each is "
            "completed on its own."
        )
    )
    async def subtasks(self, info: Info) -> list[Task]:
        found = await info.context.loaders.subtasks.load(self.row.id)
        return [Task.from_row(row) for row in found]

    @strawberry.field(
        description=(
            "Every completion, oldest first: for a recurring task, one per occurrence completed."
        )
    )
    async def completions(self, info: Info) -> list[TaskCompletion]:
        found = await info.context.loaders.task_completions.load(self.row.id)
        return [TaskCompletion.of(row) for row in found]

    @classmethod
    def from_row(cls, row: rows.Task) -> Self:
        return cls(
            id=strawberry.ID(ids.encode("task", row.id)),
            title=row.title,
            description=row.description,
            status=row.status,
            priority=row.priority,
            due_at=row.due_at,
            remind_at=row.remind_at,
            completed_at=row.completed_at,
            tags=list(row.tags),
            created_at=row.created_at,
            updated_at=row.updated_at,
            version=row.version,
            recurrence=row.recurrence,
            row=row,
        )


REMIND_AT = "A time past is taken: the reminder goes at once."
PROJECT_ID = "The project (null: none)."
PARENT_ID = (
    "The parent task (null: none): the user's, in the same project (a subtask without "
    "projectId takes its parent's), at most 3 levels deep, no cycle."
)
RECURRENCE = (
    'An RFC 5545 RRULE without DTSTART ("FREQ=WEEKLY;BYDAY=MO"), read in the user\'s time '
    "zone from dueAt, which it needs. null: no recurrence."
)


@strawberry.input
class CreateTaskInput:
    title: str
    description: str | None = strawberry.UNSET
    status: TaskStatus | None = strawberry.UNSET
    priority: TaskPriority | None = strawberry.UNSET
    due_at: datetime | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    remind_at: datetime | None = strawberry.field(default=strawberry.UNSET, description=REMIND_AT)
    id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="An ID minted offline: task_<uuid>."
    )
    project_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description=PROJECT_ID
    )
    parent_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description=PARENT_ID
    )
    recurrence: str | None = strawberry.field(default=strawberry.UNSET, description=RECURRENCE)


@strawberry.input
class UpdateTaskInput:
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    status: TaskStatus | None = strawberry.UNSET
    priority: TaskPriority | None = strawberry.UNSET
    due_at: datetime | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    remind_at: datetime | None = strawberry.field(default=strawberry.UNSET, description=REMIND_AT)
    project_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description=PROJECT_ID
    )
    parent_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description=PARENT_ID
    )
    recurrence: str | None = strawberry.field(default=strawberry.UNSET, description=RECURRENCE)


@strawberry.input(name="TaskFilter")
class TaskFilterInput:
    status: list[TaskStatus] | None = None
    priority: list[TaskPriority] | None = None
    tag: str | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    search: str | None = strawberry.field(
        default=None, description="Words or word prefixes of the title or description."
    )
    project_id: strawberry.ID | None = strawberry.field(
        default=None, description="The tasks of this project, at every level."
    )
    top_level: bool | None = strawberry.field(
        default=None, description="true: only tasks without a parent; false: only subtasks."
    )


@strawberry.type
class TaskPayload(Payload):
    task: Task | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: rows.Task) -> Self:
        return cls(task=Task.from_row(result))


@strawberry.type
class TaskCompletion:
    """A completed occurrence: its due time then, and when it was completed."""

    due_at: datetime | None
    completed_at: datetime

    @classmethod
    def of(cls, row: rows.TaskCompletion) -> Self:
        return cls(due_at=row.due_at, completed_at=row.completed_at)


@strawberry.type
class CompleteTaskPayload(Payload):
    task: Task | None = None
    completion: TaskCompletion | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: tuple[rows.Task, rows.TaskCompletion]) -> Self:
        row, completion = result
        return cls(
            task=Task.from_row(row),
            completion=TaskCompletion.of(completion),
        )


@fetches_node("task")
async def _task_node(info: Info, global_id: str) -> Task | None:
    row = await resolvers.task(info.context, global_id)
    return Task.from_row(row) if row else None


@strawberry.type
class Query:
    @strawberry.field(extensions=requires(Allowed(Permission.TASKS)))
    async def task(self, info: Info, id: strawberry.ID) -> Task | None:
        return await _task_node(info, id)

    @strawberry.field(
        extensions=requires(Allowed(Permission.TASKS)),
        description="Soonest due first (no due date last), then oldest first.",
    )
    async def tasks(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: TaskFilterInput | None = None,
    ) -> Connection[Task]:
        page = await resolvers.task_page(info.context, first, after, filter)
        return Connection.of(page, Task.from_row)


@strawberry.type
class Mutation:
    @strawberry.mutation(extensions=requires(Allowed(Permission.TASKS)))
    async def create_task(self, info: Info, input: CreateTaskInput) -> TaskPayload:
        return await TaskPayload.run(resolvers.create(info.context, input))

    @strawberry.mutation(extensions=requires(Allowed(Permission.TASKS)))
    async def update_task(
        self, info: Info, id: strawberry.ID, input: UpdateTaskInput
    ) -> TaskPayload:
        return await TaskPayload.run(resolvers.update(info.context, id, input))

    @strawberry.mutation(
        extensions=requires(Allowed(Permission.TASKS)),
        description=(
            "Records the occurrence completed. A recurring task moves to its next occurrence "
            "after both that one and now (missed occurrences are skipped), remindAt moved "
            "as much; any other task, or one whose rule has ended, becomes DONE. Open "
            "subtasks stay open."
        ),
    )
    async def complete_task(self, info: Info, id: strawberry.ID) -> CompleteTaskPayload:
        return await CompleteTaskPayload.run(resolvers.complete(info.context, id))

    @strawberry.mutation(
        extensions=requires(Allowed(Permission.TASKS)),
        description="Deletes its subtasks with it.",
    )
    async def delete_task(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await DeletePayload.run(resolvers.delete(info.context, id))
