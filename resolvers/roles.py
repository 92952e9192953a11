"""Roles: listing them and granting or taking them from users."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from auth.permissions import RoleName
from db import roles, users
from db.roles import Role
from db.users import User
from resolvers import ids
from resolvers.errors import ErrorCode, UserErrors
from resolvers.validation import clean_text

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from resolvers.context import Context


async def all_roles(ctx: Context) -> Sequence[Role]:
    async with ctx.sessionmaker() as session:
        return await roles.get_all(session)


async def assign(ctx: Context, user_global_id: str, role_name: str) -> User:
    async with ctx.sessionmaker.begin() as session:
        user, role = await _user_and_role(session, user_global_id, role_name)
        await roles.grant(session, user.id, role.id)
        return user


async def revoke(ctx: Context, user_global_id: str, role_name: str) -> User:
    async with ctx.sessionmaker.begin() as session:
        if role_name == RoleName.ADMIN:
            await roles.by_name(session, RoleName.ADMIN, lock=True)
        user, role = await _user_and_role(session, user_global_id, role_name)
        if (
            role.name == RoleName.ADMIN
            and await roles.holds(session, user.id, role.id)
            and await roles.count_holders(session, role.id) <= 1
        ):
            raise UserErrors.one(
                ("role",), "The last admin cannot lose the admin role.", ErrorCode.CONFLICT
            )
        await roles.revoke(session, user.id, role.id)
        return user


async def _user_and_role(
    session: AsyncSession, user_global_id: str, role_name: str
) -> tuple[User, Role]:
    user_id = ids.decode_as("user", user_global_id)
    user = await users.get(session, user_id) if user_id else None
    if user is None:
        raise UserErrors.one(("userId",), "No such user.", ErrorCode.NOT_FOUND)
    name, problem = clean_text(role_name, max_length=50)
    if problem:
        raise UserErrors.one(("role",), problem, ErrorCode.INVALID)
    role = await roles.by_name(session, name)
    if role is None:
        raise UserErrors.one(("role",), f"No role is named '{name}'.", ErrorCode.NOT_FOUND)
    return user, role
