"""What built-in accounts keep beside the user: single-use tokens sent by email (password
reset, email verification), the outbox of messages to send, and notes of requests for
throttling them.

Only SHA-256 hashes of tokens are stored. A message is written to the outbox in the
transaction that decides to send it; a job sends it and marks it sent, once.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    delete,
    func,
    select,
    update,
)
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at, uuid_pk


class TokenPurpose(enum.StrEnum):
    RESET = "RESET"
    VERIFY = "VERIFY"


class AccountToken(Base):
    __tablename__ = "account_tokens"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[TokenPurpose] = mapped_column(Enum(TokenPurpose, name="account_token_purpose"))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = created_at()
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class OutgoingMail(Base):
    """A message to send. ``sent_at`` is set once the transport accepted it."""

    __tablename__ = "outgoing_mail"
    __table_args__ = (
        Index("ix_outgoing_mail_unsent", "created_at", postgresql_where=sql("sent_at IS NULL")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, str]] = mapped_column(
        JSONB, default=dict, server_default=sql("'{}'::jsonb")
    )
    """Headers beside the usual ones, such as ``List-Unsubscribe``."""
    created_at: Mapped[datetime] = created_at()
    sent_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0, server_default=sql("0"))
    last_error: Mapped[str | None] = mapped_column(Text)


class AccountRequest(Base):
    """A request that sends mail (a password reset, a verification), noted to throttle
    them: ``key`` is the email or the user it was for, ``address`` the client's."""

    __tablename__ = "account_requests"
    __table_args__ = (Index("ix_account_requests_kind_key_at", "kind", "key", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(String(64), server_default="")
    at: Mapped[datetime]


async def add_token(
    session: AsyncSession,
    user_id: uuid.UUID,
    purpose: TokenPurpose,
    *,
    token_hash: bytes,
    created_at: datetime,
    expires_at: datetime,
) -> AccountToken:
    token = AccountToken(
        user_id=user_id,
        purpose=purpose,
        token_hash=token_hash,
        created_at=created_at,
        expires_at=expires_at,
    )
    session.add(token)
    await session.flush()
    return token


async def get_token(
    session: AsyncSession, token_hash: bytes, purpose: TokenPurpose, *, lock: bool = False
) -> AccountToken | None:
    statement = select(AccountToken).where(
        AccountToken.token_hash == token_hash, AccountToken.purpose == purpose
    )
    return await session.scalar(statement.with_for_update() if lock else statement)


async def use_tokens(
    session: AsyncSession, user_id: uuid.UUID, purpose: TokenPurpose, *, at: datetime
) -> None:
    """Marks every unused token of the user for ``purpose`` used."""
    await session.execute(
        update(AccountToken)
        .where(
            AccountToken.user_id == user_id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=at)
    )


async def remove_tokens(session: AsyncSession, *, expired_before: datetime) -> None:
    await session.execute(delete(AccountToken).where(AccountToken.expires_at < expired_before))


async def add_mail(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    recipient: str,
    subject: str,
    text: str,
    html: str,
    created_at: datetime,
    headers: dict[str, str] | None = None,
) -> uuid.UUID:
    mail = OutgoingMail(
        id=uuid.uuid4(),
        user_id=user_id,
        recipient=recipient,
        subject=subject,
        text=text,
        html=html,
        headers=headers or {},
        created_at=created_at,
    )
    session.add(mail)
    await session.flush()
    return mail.id


async def claim_mail(session: AsyncSession, mail_id: uuid.UUID) -> OutgoingMail | None:
    """The message, locked until the transaction ends; None while another transaction
    holds it (a worker sending it) or once it is gone."""
    return await session.scalar(
        select(OutgoingMail).where(OutgoingMail.id == mail_id).with_for_update(skip_locked=True)
    )


async def mark_sent(session: AsyncSession, mail: OutgoingMail, *, at: datetime) -> None:
    mail.sent_at = at
    mail.attempts += 1
    mail.last_error = None
    await session.flush()


async def mark_failed(session: AsyncSession, mail: OutgoingMail, error: str) -> None:
    mail.attempts += 1
    mail.last_error = error[:2000]
    await session.flush()


async def get_mail(session: AsyncSession, mail_id: uuid.UUID) -> OutgoingMail | None:
    return await session.get(OutgoingMail, mail_id)


async def unsent_mail(
    session: AsyncSession, *, after: datetime, before: datetime
) -> Sequence[uuid.UUID]:
    """Messages still unsent that were written between ``after`` and ``before``."""
    return (
        await session.scalars(
            select(OutgoingMail.id)
            .where(
                OutgoingMail.sent_at.is_(None),
                OutgoingMail.created_at >= after,
                OutgoingMail.created_at < before,
            )
            .order_by(OutgoingMail.created_at)
        )
    ).all()


async def lock_requests(session: AsyncSession, kind: str, key: str) -> None:
    """Serialises the requests of one key until the transaction ends, so concurrent ones
    are counted one after the other."""
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtext(f"account-request:{kind}:{key}")))
    )


async def count_requests(
    session: AsyncSession, kind: str, key: str, *, since: datetime, address: str | None = None
) -> int:
    statement = (
        select(func.count())
        .select_from(AccountRequest)
        .where(AccountRequest.kind == kind, AccountRequest.key == key, AccountRequest.at >= since)
    )
    if address is not None:
        statement = statement.where(AccountRequest.address == address[:64])
    return await session.scalar(statement) or 0


async def add_request(
    session: AsyncSession, kind: str, key: str, *, at: datetime, address: str = ""
) -> None:
    session.add(AccountRequest(kind=kind, key=key, address=address[:64], at=at))
    await session.flush()


async def remove_requests(session: AsyncSession, *, before: datetime) -> None:
    await session.execute(delete(AccountRequest).where(AccountRequest.at < before))
