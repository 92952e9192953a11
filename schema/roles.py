"""Roles and their permissions; granting and revoking them (admins only)."""

from __future__ import annotations

from typing import Self

import strawberry

from auth.permissions import Permission
from db import roles as rows
from resolvers import ids
from resolvers import roles as resolvers
from resolvers.context import Info
from schema.permissions import Allowed, requires
from schema.users import UserPayload


@strawberry.type
class Role:
    id: strawberry.ID
    name: str
    description: str
    permissions: list[str]

    @classmethod
    def from_row(cls, row: rows.Role) -> Self:
        return cls(
            id=strawberry.ID(ids.encode("role", row.id)),
            name=row.name,
            description=row.description,
            permissions=list(row.permissions),
        )


@strawberry.type
class Query:
    @strawberry.field(extensions=requires(Allowed(Permission.ROLES_READ)))
    async def roles(self, info: Info) -> list[Role]:
        return [Role.from_row(row) for row in await resolvers.all_roles(info.context)]


@strawberry.type
class Mutation:
    @strawberry.mutation(extensions=requires(Allowed(Permission.ROLES_WRITE)))
    async def assign_role(self, info: Info, user_id: strawberry.ID, role: str) -> UserPayload:
        return await UserPayload.run(resolvers.assign(info.context, user_id, role))

    @strawberry.mutation(extensions=requires(Allowed(Permission.ROLES_WRITE)))
    async def revoke_role(self, info: Info, user_id: strawberry.ID, role: str) -> UserPayload:
        return await UserPayload.run(resolvers.revoke(info.context, user_id, role))
