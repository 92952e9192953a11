"""Projects: ordered, coloured groups of tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry

from auth.permissions import Permission
from db import projects as rows
from resolvers import ids
from resolvers import projects as resolvers
from resolvers.context import Info
from schema.errors import DeletePayload, Payload, UserError
from schema.node import Node, fetches_node
from schema.permissions import Allowed, requires


@strawberry.type
class Project(Node):
    id: strawberry.ID
    name: str
    color: str | None
    archived: bool
    position: int = strawberry.field(description="0-based, among all the user's projects.")
    created_at: datetime
    updated_at: datetime
    version: int = strawberry.field(description="Grows by one with every change.")
    open_tasks_known: strawberry.Private[int | None] = None
    row: strawberry.Private[rows.Project | None] = None

    @strawberry.field(description="Tasks not DONE, subtasks included.")
    async def open_tasks(self, info: Info) -> int:
        if self.open_tasks_known is not None:
            return self.open_tasks_known
        assert self.row is not None
        return await info.context.loaders.open_tasks.load(self.row.id)

    @classmethod
    def from_row(cls, row: rows.Project, open_tasks: int | None = None) -> Self:
        return cls(
            id=strawberry.ID(ids.encode(resolvers.KIND, row.id)),
            name=row.name,
            color=row.color,
            archived=row.archived,
            position=row.position,
            created_at=row.created_at,
            updated_at=row.updated_at,
            version=row.version,
            open_tasks_known=open_tasks,
            row=row,
        )

    @classmethod
    def of(cls, listed: resolvers.Listed) -> Self:
        return cls.from_row(listed.row, listed.open_tasks)


@fetches_node(resolvers.KIND)
async def _project_node(info: Info, global_id: str) -> Project | None:
    row = await resolvers.project(info.context, global_id)
    return Project.from_row(row) if row is not None else None


@strawberry.input
class CreateProjectInput:
    name: str
    color: str | None = strawberry.field(default=strawberry.UNSET, description="#RRGGBB.")
    id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="An ID minted offline: project_<uuid>."
    )


@strawberry.input
class UpdateProjectInput:
    name: str | None = strawberry.UNSET
    color: str | None = strawberry.field(
        default=strawberry.UNSET, description="#RRGGBB; null: none."
    )
    archived: bool | None = strawberry.UNSET
    position: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="Moves the project there (past the end: last); the others shift.",
    )


@strawberry.type
class ProjectPayload(Payload):
    project: Project | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: resolvers.Listed) -> Self:
        return cls(project=Project.of(result))


@strawberry.type
class Query:
    @strawberry.field(
        extensions=requires(Allowed(Permission.TASKS)),
        description="By position; archived ones only with includeArchived.",
    )
    async def projects(self, info: Info, include_archived: bool | None = False) -> list[Project]:
        return [
            Project.of(found)
            for found in await resolvers.listed(info.context, bool(include_archived))
        ]


@strawberry.type
class Mutation:
    @strawberry.mutation(
        extensions=requires(Allowed(Permission.TASKS)), description="It goes last."
    )
    async def create_project(self, info: Info, input: CreateProjectInput) -> ProjectPayload:
        return await ProjectPayload.run(resolvers.create(info.context, input))

    @strawberry.mutation(extensions=requires(Allowed(Permission.TASKS)))
    async def update_project(
        self, info: Info, id: strawberry.ID, input: UpdateProjectInput
    ) -> ProjectPayload:
        return await ProjectPayload.run(resolvers.update(info.context, id, input))

    @strawberry.mutation(
        extensions=requires(Allowed(Permission.TASKS)),
        description="Deletes its tasks (and their subtasks) with it.",
    )
    async def delete_project(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await DeletePayload.run(resolvers.delete(info.context, id))
