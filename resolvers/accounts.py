"""Password recovery and email verification for built-in accounts.

A password-reset request does the same work whatever the address: it checks the
address's form, notes the request under a lock (the throttle) and queues one job with the
email. The job (:func:`mail_password_reset`) decides whether there is an account to mail.
So the answer and its time say nothing of which emails have accounts. A throttled request
answers ``ok`` too and queues nothing: a RATE_LIMITED answer would tell a prober that
someone else had been asking for that email.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from auth.account_tokens import hash_account_token
from auth.passwords import password_problem
from db import accounts, sessions, users
from db.accounts import AccountToken, TokenPurpose
from db.users import User
from resolvers import outbox
from resolvers import sessions as sign_in
from resolvers.errors import ErrorCode, UserErrors
from resolvers.messages import MessageKind, duration, language_of
from resolvers.validation import email_problem, normalise_email

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from resolvers.context import Context, Services
    from schema.accounts import ResetPasswordInput

RESET_REQUEST = "reset"
VERIFY_REQUEST = "verify"
INVALID_TOKEN = "This link is not valid; ask for a new one."
EXPIRED_TOKEN = "This link has expired; ask for a new one."
ALREADY_VERIFIED = "Your email address is verified already."
VERIFY_TOO_OFTEN = "A verification email was sent a moment ago; try again later."
VERIFY_TOO_MANY = "Too many verification emails today; try again tomorrow."
DAY = timedelta(days=1)


async def request_password_reset(ctx: Context, email: str) -> None:
    email = normalise_email(email)
    if problem := email_problem(email):
        raise UserErrors.one(("email",), problem, ErrorCode.INVALID)
    settings = ctx.settings
    now = ctx.services.clock()
    since = now - timedelta(seconds=settings.password_reset_window_seconds)
    address = ctx.client_address
    async with ctx.sessionmaker.begin() as session:
        await accounts.lock_requests(session, RESET_REQUEST, email)
        here = await accounts.count_requests(
            session, RESET_REQUEST, email, since=since, address=address
        )
        anywhere = await accounts.count_requests(session, RESET_REQUEST, email, since=since)
        if (
            here >= settings.password_reset_max_requests
            or anywhere >= settings.password_reset_max_requests_per_email
        ):
            return
        await accounts.add_request(session, RESET_REQUEST, email, at=now, address=address)
    await ctx.services.jobs.password_reset(email)


async def mail_password_reset(services: Services, email: str) -> None:
    """The job behind a reset request: mails the account of ``email`` a reset link, or,
    when it signs in only through the OpenID issuer, where to recover its password
    instead; mails nobody when there is no such account."""
    async with services.sessionmaker.begin() as session:
        user = await users.by_email(session, email)
        if user is None:
            return
        if user.password_hash is None:
            mail_id = await outbox.write(
                services, session, user, MessageKind.PASSWORD_RESET_EXTERNAL
            )
        else:
            ttl = timedelta(seconds=services.settings.password_reset_ttl_seconds)
            token = await outbox.new_token(services, session, user, TokenPurpose.RESET, ttl)
            mail_id = await outbox.write(
                services,
                session,
                user,
                MessageKind.PASSWORD_RESET,
                link=f"{services.settings.app_link_base}/reset-password?token={token}",
                token=token,
                valid_for=duration(ttl, language_of(user.settings.locale)),
            )
    await services.jobs.send_mail(mail_id)


async def reset_password(ctx: Context, data: ResetPasswordInput) -> sign_in.SignedIn:
    """Sets the password, ends every session, spends every outstanding reset token of the
    user and signs in afresh. The token proves the mailbox, so the email is verified too,
    and the sign-in throttle of the email is lifted."""
    if problem := password_problem(data.new_password):
        raise UserErrors.one(("input", "newPassword"), problem, ErrorCode.INVALID)
    new_hash = await ctx.services.passwords.hash_async(data.new_password)
    async with ctx.sessionmaker.begin() as session:
        now = ctx.services.clock()
        token = await _usable(session, data.token, TokenPurpose.RESET, now, ("input", "token"))
        user = await users.get(session, token.user_id, lock=True)
        assert user is not None, "tokens are deleted with their user"
        await users.save(session, user, password_hash=new_hash, email_verified=True)
        await sessions.revoke_all(session, user.id)
        await sessions.remove_failures(session, user.email)
        await accounts.use_tokens(session, user.id, TokenPurpose.RESET, at=now)
        return await sign_in.begin(ctx, session, user)


async def request_email_verification(ctx: Context) -> None:
    """Mails the signed-in user another verification link: one a minute, a few a day."""
    principal = await ctx.principal()
    settings = ctx.settings
    now = ctx.services.clock()
    key = str(principal.user_id)
    async with ctx.sessionmaker.begin() as session:
        user = await users.get(session, principal.user_id, lock=True)
        if user is None:
            raise UserErrors.one(None, "Your account no longer exists.", ErrorCode.NOT_FOUND)
        if user.email_verified:
            raise UserErrors.one(None, ALREADY_VERIFIED, ErrorCode.CONFLICT)
        interval = timedelta(seconds=settings.email_verification_interval_seconds)
        if interval and await accounts.count_requests(
            session, VERIFY_REQUEST, key, since=now - interval
        ):
            raise UserErrors.one(None, VERIFY_TOO_OFTEN, ErrorCode.RATE_LIMITED)
        today = await accounts.count_requests(session, VERIFY_REQUEST, key, since=now - DAY)
        if today >= settings.email_verification_max_per_day:
            raise UserErrors.one(None, VERIFY_TOO_MANY, ErrorCode.RATE_LIMITED)
        await accounts.add_request(session, VERIFY_REQUEST, key, at=now)
        mail_id = await outbox.write_verification(ctx.services, session, user)
    await ctx.services.jobs.send_mail(mail_id)


async def verify_email(ctx: Context, token: str) -> User:
    """Marks the email of the token's user verified; no sign-in needed, the token says who.
    It spends every verification token of the user."""
    async with ctx.sessionmaker.begin() as session:
        now = ctx.services.clock()
        row = await _usable(session, token, TokenPurpose.VERIFY, now, ("token",))
        user = await users.get(session, row.user_id, lock=True)
        assert user is not None, "tokens are deleted with their user"
        await accounts.use_tokens(session, user.id, TokenPurpose.VERIFY, at=now)
        return await users.save(session, user, email_verified=True)


async def _usable(
    session: AsyncSession,
    token: str,
    purpose: TokenPurpose,
    now: datetime,
    field: tuple[str, ...],
) -> AccountToken:
    """The token's row, locked, if it can still be used; otherwise one userError, INVALID
    (the contract has no code of its own for an expired token: the message tells)."""
    row = await accounts.get_token(session, hash_account_token(token), purpose, lock=True)
    if row is None or row.used_at is not None:
        raise UserErrors.one(field, INVALID_TOKEN, ErrorCode.INVALID)
    if row.expires_at <= now:
        raise UserErrors.one(field, EXPIRED_TOKEN, ErrorCode.INVALID)
    return row
