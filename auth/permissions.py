"""Permissions, declared on schema fields: ``extensions=requires(Allowed(USERS_READ))``.

Checks run on root fields and relations only; scalar fields stay plain attributes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from strawberry.permission import BasePermission, PermissionExtension

from lifegraph.errors import Forbidden

if TYPE_CHECKING:
    from strawberry.extensions import FieldExtension

    from lifegraph.context import Info

PROFILE_READ = "profile:read"
PROFILE_WRITE = "profile:write"
USERS_READ = "users:read"
USERS_WRITE = "users:write"
ROLES_READ = "roles:read"
ROLES_WRITE = "roles:write"
RECEIPTS = "receipts:manage"
PURCHASES = "purchases:manage"
HABITS = "habits:manage"
TASKS = "tasks:manage"
NOTES = "notes:manage"

MEMBER_PERMISSIONS = (PROFILE_READ, PROFILE_WRITE, RECEIPTS, PURCHASES, HABITS, TASKS, NOTES)
ADMIN_PERMISSIONS = (*MEMBER_PERMISSIONS, USERS_READ, USERS_WRITE, ROLES_READ, ROLES_WRITE)

ADMIN_ROLE = "admin"
MEMBER_ROLE = "member"


class SignedIn(BasePermission):
    """Any signed-in user (raises UNAUTHENTICATED otherwise)."""

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        await info.context.principal()
        return True


class Allowed(BasePermission):
    """The signed-in user's roles grant ``permission`` (FORBIDDEN otherwise)."""

    def __init__(self, permission: str) -> None:
        self.permission = permission

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = await info.context.principal()
        if self.permission not in principal.permissions:
            raise Forbidden()
        return True


def requires(*permissions: BasePermission) -> list[FieldExtension]:
    """Field extensions checking ``permissions`` in order (no schema directives are printed)."""
    return [PermissionExtension(list(permissions), use_directives=False)]
