"""Member accounts: sign-up, a first external sign-in and create-admin all start with one."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from auth.permissions import RoleName
from db import roles, users
from db.users import User


async def add_member(
    session: AsyncSession,
    *,
    email: str,
    password_hash: str | None,
    display_name: str | None = None,
    email_verified: bool = False,
) -> User:
    """A new user holding the member role. Without a password hash the account signs in only
    through an external issuer; without a display name it is the email's local part."""
    member = await roles.by_name(session, RoleName.MEMBER)
    assert member is not None, "the member role is seeded by a migration"
    return await users.add(
        session,
        email=email,
        password_hash=password_hash,
        display_name=display_name or email.split("@", 1)[0][:100],
        role=member,
        email_verified=email_verified,
    )
