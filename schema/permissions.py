"""Permission checks, declared on schema fields: ``extensions=requires(Allowed(...))``.

Checks run on root fields and relations only; scalar fields stay plain attributes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from strawberry.permission import BasePermission, PermissionExtension

from auth.permissions import Permission
from resolvers.errors import Forbidden

if TYPE_CHECKING:
    from strawberry.extensions import FieldExtension

    from resolvers.context import Info


class SignedIn(BasePermission):
    """Any signed-in user (raises UNAUTHENTICATED otherwise)."""

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        await info.context.principal()
        return True


class Allowed(BasePermission):
    """The signed-in user's roles grant ``permission`` (FORBIDDEN otherwise)."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = await info.context.principal()
        if self.permission not in principal.permissions:
            raise Forbidden()
        return True


def requires(*permissions: BasePermission) -> list[FieldExtension]:
    """Field extensions checking ``permissions`` in order (no schema directives are printed)."""
    return [PermissionExtension(list(permissions), use_directives=False)]
