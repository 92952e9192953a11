"""Sign-in sessions. A session is a family of refresh tokens; each token is used once.

Only SHA-256 hashes of refresh tokens are stored. A token presented a second time means it
leaked, so the whole family is revoked.

A session notes the device that holds it (user agent and client address) when it starts
and each time it refreshes; ``last_used_at`` moves only then, so that authenticating a
request stays one read.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    and_,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, created_at, uuid_pk

MAX_USER_AGENT_LENGTH = 500
MAX_ADDRESS_LENGTH = 64


@dataclass(frozen=True)
class Device:
    """What a request tells of the device signing in or refreshing."""

    user_agent: str | None
    ip_address: str | None

    @classmethod
    def of(cls, user_agent: str | None, ip_address: str | None) -> Device:
        """Cut to the columns' lengths; blank values are None."""
        agent = (user_agent or "").strip()[:MAX_USER_AGENT_LENGTH]
        address = (ip_address or "").strip()[:MAX_ADDRESS_LENGTH]
        return cls(agent or None, address or None)


class AuthSession(Base):
    __tablename__ = "auth_sessions"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = created_at()
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime] = mapped_column(server_default=func.now())
    user_agent: Mapped[str | None] = mapped_column(String(MAX_USER_AGENT_LENGTH))
    ip_address: Mapped[str | None] = mapped_column(String(MAX_ADDRESS_LENGTH))


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = uuid_pk()
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    created_at: Mapped[datetime] = created_at()
    used_at: Mapped[datetime | None]

    session: Mapped[AuthSession] = relationship(lazy="joined")


async def add(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    expires_at: datetime,
    token_hash: bytes,
    device: Device,
) -> AuthSession:
    """A session with its first refresh token."""
    auth_session = AuthSession(
        id=uuid.uuid4(),
        user_id=user_id,
        expires_at=expires_at,
        user_agent=device.user_agent,
        ip_address=device.ip_address,
    )
    session.add(auth_session)
    session.add(RefreshToken(session_id=auth_session.id, token_hash=token_hash))
    await session.flush()
    return auth_session


async def owned(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID, *, lock: bool = False
) -> AuthSession | None:
    """The owner's session if it is neither revoked nor expired."""
    statement = select(AuthSession).where(
        AuthSession.id == session_id, AuthSession.user_id == user_id, _live()
    )
    return await session.scalar(statement.with_for_update() if lock else statement)


async def owned_all(session: AsyncSession, user_id: uuid.UUID) -> Sequence[AuthSession]:
    """The owner's sessions that are neither revoked nor expired, newest first."""
    statement = (
        select(AuthSession)
        .where(AuthSession.user_id == user_id, _live())
        .order_by(AuthSession.created_at.desc(), AuthSession.id.desc())
    )
    return (await session.scalars(statement)).all()


def _live() -> ColumnElement[bool]:
    return and_(AuthSession.revoked_at.is_(None), AuthSession.expires_at > func.now())


async def get_token(
    session: AsyncSession, token_hash: bytes, *, lock: bool = False
) -> RefreshToken | None:
    statement = select(RefreshToken).where(RefreshToken.token_hash == token_hash)
    return await session.scalar(statement.with_for_update(of=RefreshToken) if lock else statement)


async def rotate(
    session: AsyncSession, token: RefreshToken, new_hash: bytes, device: Device
) -> None:
    """Uses the token up for a new one; the session was last used now, by this device
    (what the device does not tell is kept)."""
    token.used_at = func.now()
    session.add(RefreshToken(session_id=token.session_id, token_hash=new_hash))
    await session.flush()
    seen = {"user_agent": device.user_agent, "ip_address": device.ip_address}
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == token.session_id)
        .values(last_used_at=func.now(), **{k: v for k, v in seen.items() if v is not None})
    )


async def revoke(session: AsyncSession, session_id: uuid.UUID) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )


async def revoke_all(
    session: AsyncSession, user_id: uuid.UUID, *, keep: uuid.UUID | None = None
) -> None:
    statement = update(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    if keep is not None:
        statement = statement.where(AuthSession.id != keep)
    await session.execute(statement.values(revoked_at=func.now()))


class SignInFailure(Base):
    """Password checks per email and client address, for throttling guesses across all
    processes. A check is noted before it is made; a right password removes its note."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_email_at", "email", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(String(64), server_default="")
    at: Mapped[datetime] = mapped_column(server_default=func.now())


async def lock_failures(session: AsyncSession, email: str) -> None:
    """Serialises the checks of one email until the transaction ends, so concurrent
    guesses are counted one after the other."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtext("sign-in:" + email))))


async def count_failures(
    session: AsyncSession, email: str, since: datetime, *, address: str | None = None
) -> int:
    statement = (
        select(func.count())
        .select_from(SignInFailure)
        .where(SignInFailure.email == email, SignInFailure.at >= since)
    )
    if address is not None:
        statement = statement.where(SignInFailure.address == address)
    return await session.scalar(statement) or 0


async def add_failure(session: AsyncSession, email: str, address: str = "") -> int:
    row = SignInFailure(email=email, address=address[:64])
    session.add(row)
    await session.flush()
    return row.id


async def remove_failures(
    session: AsyncSession,
    email: str | None = None,
    *,
    address: str | None = None,
    before: datetime | None = None,
) -> None:
    statement = delete(SignInFailure)
    if email is not None:
        statement = statement.where(SignInFailure.email == email)
    if address is not None:
        statement = statement.where(SignInFailure.address == address)
    if before is not None:
        statement = statement.where(SignInFailure.at < before)
    await session.execute(statement)
