"""Sign-in sessions. A session is a family of refresh tokens; each token is used once.

Only SHA-256 hashes of refresh tokens are stored. A token presented a second time means it
leaked, so the whole family is revoked.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    delete,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, created_at, uuid_pk


class AuthSession(Base):
    __tablename__ = "auth_sessions"

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = created_at()
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


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
    session: AsyncSession, user_id: uuid.UUID, *, expires_at: datetime, token_hash: bytes
) -> AuthSession:
    """A session with its first refresh token."""
    auth_session = AuthSession(id=uuid.uuid4(), user_id=user_id, expires_at=expires_at)
    session.add(auth_session)
    session.add(RefreshToken(session_id=auth_session.id, token_hash=token_hash))
    await session.flush()
    return auth_session


async def get_token(
    session: AsyncSession, token_hash: bytes, *, lock: bool = False
) -> RefreshToken | None:
    statement = select(RefreshToken).where(RefreshToken.token_hash == token_hash)
    return await session.scalar(statement.with_for_update(of=RefreshToken) if lock else statement)


async def rotate(session: AsyncSession, token: RefreshToken, new_hash: bytes) -> None:
    token.used_at = func.now()
    session.add(RefreshToken(session_id=token.session_id, token_hash=new_hash))
    await session.flush()


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
