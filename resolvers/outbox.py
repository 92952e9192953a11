"""Mail through the outbox: a message is written in the transaction that decides to send
it, and a job sends it (:func:`send`), so none is lost with a failed request or a crashed
worker, and none goes twice for one decision.

The job holds the message's row (``FOR UPDATE SKIP LOCKED``) while the transport takes
it: a second job for the same message skips it meanwhile and finds it sent afterwards.
The ``Message-ID`` is the row's id, so that if a worker dies between the server's
acceptance and the mark, the receiving server can drop the copy sent on the retry.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from auth.account_tokens import new_account_token
from db import accounts
from db.accounts import TokenPurpose
from db.users import User
from resolvers.messages import MessageKind, compose, duration, language_of
from storage.mail import Letter, build_message

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from resolvers.context import Services

logger = logging.getLogger("lifegraph.mail")


class MailNotSent(Exception):
    """The transport refused the message or could not be reached; the job retries."""


async def write(
    services: Services,
    session: AsyncSession,
    user: User,
    kind: MessageKind,
    *,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> uuid.UUID:
    """Composes a message to ``user`` in their language and puts it in the outbox; queue
    :meth:`JobQueue.send_mail` with the id once the transaction commits."""
    composed = compose(
        kind, user.settings.locale, name=user.display_name, email=user.email, **values
    )
    return await accounts.add_mail(
        session,
        user.id,
        recipient=user.email,
        subject=composed.subject,
        text=composed.text,
        html=composed.html,
        created_at=services.clock(),
        headers=headers,
    )


async def write_verification(services: Services, session: AsyncSession, user: User) -> uuid.UUID:
    """A new verification token for ``user`` and the message that carries it."""
    settings = services.settings
    ttl = timedelta(seconds=settings.email_verification_ttl_seconds)
    token = await new_token(services, session, user, TokenPurpose.VERIFY, ttl)
    return await write(
        services,
        session,
        user,
        MessageKind.VERIFY_EMAIL,
        link=f"{settings.app_link_base}/verify-email?token={token}",
        token=token,
        valid_for=duration(ttl, language_of(user.settings.locale)),
    )


async def new_token(
    services: Services,
    session: AsyncSession,
    user: User,
    purpose: TokenPurpose,
    ttl: timedelta,
) -> str:
    token, token_hash = new_account_token()
    now = services.clock()
    await accounts.add_token(
        session, user.id, purpose, token_hash=token_hash, created_at=now, expires_at=now + ttl
    )
    return token


async def send(services: Services, mail_id: uuid.UUID) -> None:
    """Sends one message of the outbox unless it is sent (or being sent) already; raises
    :class:`MailNotSent` after noting the failure on the message."""
    failure: Exception | None = None
    async with services.sessionmaker.begin() as session:
        mail = await accounts.claim_mail(session, mail_id)
        if mail is None or mail.sent_at is not None:
            return
        message = build_message(
            Letter(
                message_id=str(mail.id),
                recipient=mail.recipient,
                subject=mail.subject,
                text=mail.text,
                html=mail.html,
                date=mail.created_at,
                headers=mail.headers,
            ),
            services.settings.mail_from,
        )
        try:
            await services.mail.send(message)
        except Exception as error:
            failure = error
            await accounts.mark_failed(session, mail, f"{type(error).__name__}: {error}")
        else:
            await accounts.mark_sent(session, mail, at=services.clock())
    if failure is not None:
        logger.warning("mail %s not sent: %s", mail_id, type(failure).__name__)
        raise MailNotSent(str(failure)) from failure


async def unsent(services: Services, *, written_before: datetime) -> list[uuid.UUID]:
    """Messages still unsent, written before the cutoff and within the last week: their
    job may be lost. Older ones are given up on (the tokens in them expired long ago)."""
    async with services.sessionmaker() as session:
        found = await accounts.unsent_mail(
            session, after=written_before - timedelta(days=7), before=written_before
        )
    return list(found)
