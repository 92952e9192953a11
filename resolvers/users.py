"""Profiles and accounts: reading users, updating oneself, deleting accounts."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from strawberry import UNSET

from auth.passwords import password_problem
from auth.permissions import Permission, RoleName
from db import exports, notes, objects, receipts, roles, sessions, uploads, users
from db.pagination import Page
from db.users import User
from resolvers import ids, passwords
from resolvers.errors import ErrorCode, NotFound, Problems, UserErrors
from resolvers.pagination import cursor_checked, page_size
from resolvers.validation import (
    MAX_DISPLAY_NAME_LENGTH,
    canonical_locale,
    checked_text,
    is_currency,
    is_timezone,
    search_text,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from resolvers.context import Context
    from schema.users import ChangePasswordInput, UpdateProfileInput


async def me(ctx: Context) -> User:
    principal = await ctx.principal()
    async with ctx.sessionmaker() as session:
        user = await users.get(session, principal.user_id)
    if user is None:
        raise NotFound("Your account no longer exists.")
    return user


async def user(ctx: Context, global_id: str) -> User | None:
    """Admins read anyone; a member reads only itself."""
    principal = await ctx.principal()
    user_id = ids.decode_as("user", global_id)
    if user_id is None:
        return None
    if user_id != principal.user_id and Permission.USERS_READ not in principal.permissions:
        return None
    async with ctx.sessionmaker() as session:
        return await users.get(session, user_id)


async def user_page(
    ctx: Context, first: int | None, after: str | None, search: str | None
) -> Page[User]:
    size = page_size(first)
    search = search_text(search)
    async with ctx.sessionmaker() as session:
        with cursor_checked():
            return await users.page(session, search=search, first=size, after=after)


async def update_profile(ctx: Context, data: UpdateProfileInput) -> User:
    principal = await ctx.principal()
    problems = Problems()
    profile: dict[str, object] = {}
    if data.display_name is not UNSET:
        profile["display_name"] = checked_text(
            data.display_name,
            ("input", "displayName"),
            problems,
            min_length=1,
            max_length=MAX_DISPLAY_NAME_LENGTH,
        )
    changes = _settings_changes(data, problems)
    problems.raise_if_any()
    async with ctx.sessionmaker.begin() as session:
        row = await users.get(session, principal.user_id, lock=True)
        if row is None:
            raise UserErrors.one(None, "Your account no longer exists.", ErrorCode.NOT_FOUND)
        await users.save(session, row, **profile)
        await users.save_settings(session, row, **changes)
        return row


def _settings_changes(data: UpdateProfileInput, problems: Problems) -> dict[str, object]:
    settings = data.settings
    if settings is UNSET or settings is None:
        return {}
    changes: dict[str, object] = {}

    def path(name: str) -> tuple[str, ...]:
        return ("input", "settings", name)

    if settings.week_start is not UNSET:
        if settings.week_start is None or not 0 <= settings.week_start <= 6:
            problems.add(path("weekStart"), "Use 0 (Sunday) to 6 (Saturday).")
        changes["week_start"] = settings.week_start
    if settings.locale is not UNSET:
        locale = canonical_locale(settings.locale or "")
        if locale is None:
            problems.add(path("locale"), "Use a known locale such as 'en-US'.")
        changes["locale"] = locale
    if settings.timezone is not UNSET:
        if settings.timezone is None or not is_timezone(settings.timezone):
            problems.add(path("timezone"), "Use an IANA time zone such as 'Europe/Paris'.")
        changes["timezone"] = settings.timezone
    if settings.currency is not UNSET:
        currency = (settings.currency or "").upper()
        if not is_currency(currency):
            problems.add(path("currency"), "Use an ISO 4217 currency code such as 'EUR'.")
        changes["currency"] = currency
    if settings.notifications_email_enabled is not UNSET:
        if settings.notifications_email_enabled is None:
            problems.add(path("notificationsEmailEnabled"), "Use true or false.")
        changes["notifications_email_enabled"] = settings.notifications_email_enabled
    if settings.daily_digest_hour is not UNSET:
        hour = settings.daily_digest_hour
        if hour is not None and not 0 <= hour <= 23:
            problems.add(path("dailyDigestHour"), "Use an hour from 0 to 23, or null for none.")
        changes["daily_digest_hour"] = hour
    return changes


async def change_password(ctx: Context, data: ChangePasswordInput) -> None:
    """Changes the password and ends every other session of the user."""
    principal = await ctx.principal()
    if problem := password_problem(data.new_password):
        raise UserErrors.one(("input", "newPassword"), problem, ErrorCode.INVALID)
    field = ("input", "currentPassword")
    checked = await _checked_password(ctx, principal.user_id, data.current_password, field)
    new_hash = await ctx.services.passwords.hash_async(data.new_password)
    async with ctx.sessionmaker.begin() as session:
        row = await _unchanged(session, principal.user_id, checked, field)
        await users.save(session, row, password_hash=new_hash)
        await sessions.revoke_all(session, row.id, keep=principal.session_id)


async def delete_my_account(ctx: Context, password: str) -> None:
    principal = await ctx.principal()
    field = ("password",)
    checked = await _checked_password(ctx, principal.user_id, password, field)
    async with ctx.sessionmaker.begin() as session:
        row = await _unchanged(session, principal.user_id, checked, field)
        keys = await _delete(session, row, field=field)
    await ctx.services.jobs.delete_objects(keys)


async def _checked_password(
    ctx: Context, user_id: uuid.UUID, password: str, field: tuple[str, ...]
) -> str | None:
    """The user's password hash once ``password`` matched it (a throttled check)."""
    async with ctx.sessionmaker() as session:
        row = await users.get(session, user_id)
    if row is None:
        raise UserErrors.one(None, "Your account no longer exists.", ErrorCode.NOT_FOUND)
    matches = await passwords.check(
        ctx, email=row.email, password_hash=row.password_hash, password=password, field=field
    )
    if not matches:
        raise UserErrors.one(field, "The password is wrong.", ErrorCode.INVALID)
    return row.password_hash


async def _unchanged(
    session: AsyncSession, user_id: uuid.UUID, password_hash: str | None, field: tuple[str, ...]
) -> User:
    """The user's row, locked, if the password checked is still theirs."""
    row = await users.get(session, user_id, lock=True)
    if row is None or row.password_hash != password_hash:
        raise UserErrors.one(field, "The password changed meanwhile; try again.", ErrorCode.INVALID)
    return row


async def delete_user(ctx: Context, global_id: str) -> str:
    user_id = ids.decode_as("user", global_id)
    async with ctx.sessionmaker.begin() as session:
        row = await users.get(session, user_id, lock=True) if user_id else None
        if row is None:
            raise UserErrors.one(("id",), "No such user.", ErrorCode.NOT_FOUND)
        keys = await _delete(session, row, field=("id",))
    await ctx.services.jobs.delete_objects(keys)
    return global_id


async def _delete(session: AsyncSession, user: User, *, field: tuple[str, ...]) -> list[str]:
    """Deletes a user with everything they own (foreign keys cascade), keeping one admin.

    Their stored files (receipt and note images, exports, unconfirmed uploads) are listed
    for deletion in the same transaction, so a job lost after it commits leaves them to
    the maintenance pass, never forgotten; what OCR read from their images goes too,
    unless another user's receipt has the same image. Returns the keys to delete.
    """
    admin = await roles.by_name(session, RoleName.ADMIN, lock=True)
    if (
        admin is not None
        and await roles.holds(session, user.id, admin.id)
        and await roles.count_holders(session, admin.id) <= 1
    ):
        raise UserErrors.one(
            field,
            "The last admin cannot be deleted; make someone else admin first.",
            ErrorCode.CONFLICT,
        )
    keys = [
        *(stored.object_key for stored in await receipts.files_of(session, user.id)),
        *(image.object_key for image in await notes.image_files_of(session, user.id)),
        *await exports.object_keys_of(session, user.id),
        *await uploads.keys_of(session, user.id),
    ]
    await receipts.remove_unshared_ocr(session, user.id)
    await objects.schedule_deletion(session, keys)
    await users.remove(session, user)
    return keys
