"""Sign-up, sign-in, the refresh-token sessions behind them, and the devices holding them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from auth.accounts import add_member
from auth.passwords import password_problem
from auth.tokens import hash_refresh_token, new_refresh_token
from db import sessions, users
from db.sessions import AuthSession, Device
from db.users import User
from resolvers import ids, outbox, passwords
from resolvers.errors import ErrorCode, Problems, UserErrors
from resolvers.validation import (
    MAX_EMAIL_LENGTH,
    display_name_problem,
    email_problem,
    normalise_email,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from resolvers.context import Context
    from schema.sessions import LoginInput, RegisterInput

EMAIL_TAKEN = "An account with this email exists already."
SIGN_IN_FAILED = "The email or password is wrong."
SESSION_ENDED = "This session has ended; sign in again."
NO_SUCH_SESSION = "No such session."
KIND = "session"


@dataclass(frozen=True)
class SignedIn:
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    user: User


async def register(ctx: Context, data: RegisterInput) -> SignedIn:
    """Signs up and mails a link to verify the email (:mod:`resolvers.outbox`)."""
    email = normalise_email(data.email)
    display_name = data.display_name.strip()
    problems = Problems()
    if problem := email_problem(email):
        problems.add(("input", "email"), problem)
    if problem := password_problem(data.password):
        problems.add(("input", "password"), problem)
    if problem := display_name_problem(display_name):
        problems.add(("input", "displayName"), problem)
    problems.raise_if_any()
    password_hash = await ctx.services.passwords.hash_async(data.password)
    try:
        async with ctx.sessionmaker.begin() as session:
            if await users.by_email(session, email) is not None:
                raise UserErrors.one(("input", "email"), EMAIL_TAKEN, ErrorCode.CONFLICT)
            user = await add_member(
                session, email=email, password_hash=password_hash, display_name=display_name
            )
            mail_id = await outbox.write_verification(ctx.services, session, user)
            signed_in = await _start(ctx, session, user)
    except IntegrityError as error:
        raise UserErrors.one(("input", "email"), EMAIL_TAKEN, ErrorCode.CONFLICT) from error
    await ctx.services.jobs.send_mail(mail_id)
    return signed_in


async def login(ctx: Context, data: LoginInput) -> SignedIn:
    """Signs in; password checks are throttled (see :mod:`resolvers.passwords`)."""
    email = normalise_email(data.email)
    if len(email) > MAX_EMAIL_LENGTH:  # no account has it, and no note of a failure holds it
        raise UserErrors.one(("input", "email"), "Enter a valid email address.", ErrorCode.INVALID)
    async with ctx.sessionmaker() as session:
        user = await users.by_email(session, email)
    password_hash = user.password_hash if user is not None else None
    matches = await passwords.check(
        ctx, email=email, password_hash=password_hash, password=data.password, field=None
    )
    if user is None or not matches:
        raise UserErrors.one(None, SIGN_IN_FAILED, ErrorCode.UNAUTHENTICATED)
    async with ctx.sessionmaker.begin() as session:
        row = await users.get(session, user.id, lock=True)
        if row is None or row.password_hash != password_hash:  # changed meanwhile
            raise UserErrors.one(None, SIGN_IN_FAILED, ErrorCode.UNAUTHENTICATED)
        if password_hash and ctx.services.passwords.needs_rehash(password_hash):
            new_hash = await ctx.services.passwords.hash_async(data.password)
            await users.save(session, row, password_hash=new_hash)
        return await _start(ctx, session, row)


async def refresh(ctx: Context, refresh_token: str) -> SignedIn:
    """Rotates the refresh token. A token used twice revokes its whole session family."""
    reused = False
    async with ctx.sessionmaker.begin() as session:
        token = await sessions.get_token(session, hash_refresh_token(refresh_token), lock=True)
        if token is None or not _active(token.session):
            raise UserErrors.one(("refreshToken",), SESSION_ENDED, ErrorCode.UNAUTHENTICATED)
        if token.used_at is not None:
            await sessions.revoke(session, token.session_id)
            reused = True
        else:
            user = await users.get(session, token.session.user_id)
            assert user is not None, "sessions are deleted with their user"
            new_token = new_refresh_token()
            await sessions.rotate(session, token, hash_refresh_token(new_token), _device(ctx))
            access = ctx.services.tokens.issue_access(user.id, token.session_id)
            signed_in = SignedIn(access.token, access.expires_at, new_token, user)
    if reused:
        raise UserErrors.one(("refreshToken",), SESSION_ENDED, ErrorCode.UNAUTHENTICATED)
    return signed_in


async def logout(ctx: Context, refresh_token: str) -> bool:
    async with ctx.sessionmaker.begin() as session:
        token = await sessions.get_token(session, hash_refresh_token(refresh_token), lock=True)
        if token is None:
            return False
        await sessions.revoke(session, token.session_id)
        return True


async def logout_everywhere(ctx: Context) -> bool:
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        await sessions.revoke_all(session, principal.user_id)
    return True


async def begin(ctx: Context, session: AsyncSession, user: User) -> SignedIn:
    """A new session of ``user`` in the caller's transaction (a password reset's)."""
    return await _start(ctx, session, user)


@dataclass(frozen=True)
class OpenSession:
    """A signed-in device; ``current`` when it is the one asking."""

    row: AuthSession
    current: bool


async def my_sessions(ctx: Context) -> list[OpenSession]:
    """The caller's sessions that are neither revoked nor expired, newest first: one
    statement."""
    principal = await ctx.principal()
    async with ctx.sessionmaker() as session:
        rows = await sessions.owned_all(session, principal.user_id)
    return _marked(rows, principal.session_id)


async def my_session(ctx: Context, global_id: str) -> OpenSession | None:
    principal = await ctx.principal()
    session_id = ids.decode_as(KIND, global_id)
    if session_id is None:
        return None
    async with ctx.sessionmaker() as session:
        row = await sessions.owned(session, principal.user_id, session_id)
    return OpenSession(row, row.id == principal.session_id) if row is not None else None


async def revoke_session(ctx: Context, global_id: str) -> bool:
    """Ends one of the caller's sessions (the current one too: that signs out). Its refresh
    token is refused from now on, its access tokens from their next request."""
    principal = await ctx.principal()
    session_id = ids.decode_as(KIND, global_id)
    async with ctx.sessionmaker.begin() as session:
        row = (
            await sessions.owned(session, principal.user_id, session_id, lock=True)
            if session_id is not None
            else None
        )
        if row is None:
            raise UserErrors.one(("id",), NO_SUCH_SESSION, ErrorCode.NOT_FOUND)
        await sessions.revoke(session, row.id)
    return True


def _marked(rows: Sequence[AuthSession], current: uuid.UUID | None) -> list[OpenSession]:
    return [OpenSession(row, row.id == current) for row in rows]


def _device(ctx: Context) -> Device:
    return Device.of(ctx.request.headers.get("user-agent"), ctx.client_address)


async def _start(ctx: Context, session: AsyncSession, user: User) -> SignedIn:
    refresh_token = new_refresh_token()
    ttl = timedelta(seconds=ctx.settings.refresh_token_ttl_seconds)
    auth_session = await sessions.add(
        session,
        user.id,
        expires_at=datetime.now(UTC) + ttl,
        token_hash=hash_refresh_token(refresh_token),
        device=_device(ctx),
    )
    access = ctx.services.tokens.issue_access(user.id, auth_session.id)
    return SignedIn(access.token, access.expires_at, refresh_token, user)


def _active(auth_session: sessions.AuthSession) -> bool:
    return auth_session.revoked_at is None and auth_session.expires_at > datetime.now(UTC)
