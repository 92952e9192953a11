"""Every password check the API makes (sign-in, password change, account deletion) goes
through :func:`check`:

- at most one per request, so aliases cannot turn one request into many guesses;
- the check is noted before the slow comparison, under a lock per email, so concurrent
  guesses are counted one after the other and none slips past the limit;
- per email and client address first (``sign_in_max_failures`` in the window), so a
  stranger elsewhere cannot lock the owner out, then per email from anywhere
  (``sign_in_max_failures_per_email``), a slower ceiling for guesses from many addresses;
- a right password removes the notes of its email and address.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from db import sessions
from resolvers.errors import ErrorCode, UserErrors

if TYPE_CHECKING:
    from resolvers.context import Context

TOO_MANY = "Too many password attempts; try again later."
ONE_PER_REQUEST = "Only one password can be checked per request."


async def check(
    ctx: Context,
    *,
    email: str,
    password_hash: str | None,
    password: str,
    field: tuple[str, ...] | None,
) -> bool:
    """Whether ``password`` matches ``password_hash`` (None: no such account, checked at the
    same cost); raises RATE_LIMITED when no check may be made now."""
    if ctx.password_checked:
        raise UserErrors.one(field, ONE_PER_REQUEST, ErrorCode.RATE_LIMITED)
    ctx.password_checked = True
    settings = ctx.settings
    since = datetime.now(UTC) - timedelta(seconds=settings.sign_in_window_seconds)
    address = ctx.client_address
    async with ctx.sessionmaker.begin() as session:
        await sessions.lock_failures(session, email)
        here = await sessions.count_failures(session, email, since, address=address)
        anywhere = await sessions.count_failures(session, email, since)
        if here >= settings.sign_in_max_failures or (
            anywhere >= settings.sign_in_max_failures_per_email
        ):
            raise UserErrors.one(field, TOO_MANY, ErrorCode.RATE_LIMITED)
        await sessions.add_failure(session, email, address)
    matches = await ctx.services.passwords.verify_async(password_hash, password)
    if matches:
        async with ctx.sessionmaker.begin() as session:
            await sessions.remove_failures(session, email, address=address)
    return matches
