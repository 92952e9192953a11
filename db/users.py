"""Users, their settings and their external identities."""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Select,
    SmallInteger,
    String,
    UniqueConstraint,
    Uuid,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, core_rows, created_at, uuid_pk
from db.pagination import Page, paginate
from db.roles import Role, user_roles
from db.sessions import AuthSession


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        # The admin list: pages in sign-up order, and a search of any part of the email
        # or name (ILIKE '%…%'), which only trigram indexes serve. The migration also sets
        # finer statistics on both columns, so the planner sees how few rows a search
        # matches and reads these rather than walking the first index.
        Index("ix_users_created", "created_at", "id"),
        Index(
            "ix_users_email_trgm",
            "email",
            postgresql_using="gin",
            postgresql_ops={"email": "gin_trgm_ops"},
        ),
        Index(
            "ix_users_display_name_trgm",
            "display_name",
            postgresql_using="gin",
            postgresql_ops={"display_name": "gin_trgm_ops"},
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(100))
    email_verified: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    settings: Mapped[UserSettings] = relationship(
        lazy="joined", innerjoin=True, cascade="all, delete-orphan", passive_deletes=True
    )


class UserSettings(Base):
    __tablename__ = "user_settings"
    __table_args__ = (
        CheckConstraint("week_start BETWEEN 0 AND 6", name="week_start_range"),
        CheckConstraint("char_length(currency) = 3", name="currency_code"),
        CheckConstraint("daily_digest_hour BETWEEN 0 AND 23", name="daily_digest_hour_range"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    week_start: Mapped[int] = mapped_column(default=1, server_default=text("1"))
    locale: Mapped[str] = mapped_column(String(35), default="en-US", server_default="en-US")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    notifications_email_enabled: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=text("true")
    )
    daily_digest_hour: Mapped[int | None] = mapped_column(SmallInteger)
    """The local hour of the daily digest email; None sends none."""
    last_digest_on: Mapped[date | None]
    """The local date of the last daily digest dealt with (sent, or nothing to list)."""


class UserIdentity(Base):
    """A user's account at an external OpenID issuer, found by the issuer's ``sub``."""

    __tablename__ = "user_identities"
    __table_args__ = (
        UniqueConstraint("issuer", "subject", name="uq_user_identities_issuer_subject"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = created_at()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the user and what their roles allow, read in one statement per request."""

    user_id: uuid.UUID
    session_id: uuid.UUID | None
    permissions: frozenset[str]
    timezone: str = "UTC"
    currency: str = "USD"
    week_start: int = 1
    expires_at: datetime | None = None  # of the credentials; a live subscription ends then
    locale: str = "en-US"


async def get(session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False) -> User | None:
    return await session.get(User, user_id, with_for_update=lock)


async def by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


async def add(
    session: AsyncSession,
    *,
    email: str,
    password_hash: str | None,
    display_name: str,
    role: Role,
    email_verified: bool = False,
) -> User:
    user = User(
        id=uuid.uuid4(),
        email=email,
        password_hash=password_hash,
        display_name=display_name,
        email_verified=email_verified,
        settings=UserSettings(),
    )
    session.add(user)
    await session.flush()
    await session.execute(user_roles.insert().values(user_id=user.id, role_id=role.id))
    await session.refresh(user)
    return user


async def save(session: AsyncSession, user: User, **values: Any) -> User:
    for name, value in values.items():
        setattr(user, name, value)
    await session.flush()
    await session.refresh(user)
    return user


async def save_settings(session: AsyncSession, user: User, **values: Any) -> User:
    for name, value in values.items():
        setattr(user.settings, name, value)
    user.updated_at = func.now()
    await session.flush()
    await session.refresh(user)
    return user


async def remove(session: AsyncSession, user: User) -> None:
    await session.execute(delete(User).where(User.id == user.id))


async def page(
    session: AsyncSession, *, search: str | None, first: int, after: str | None
) -> Page[User]:
    statement = select(User)
    if search:
        pattern = f"%{_escape_like(search.strip())}%"
        statement = statement.where(
            or_(
                User.email.ilike(pattern, escape="\\"),
                User.display_name.ilike(pattern, escape="\\"),
            )
        )
    return await paginate(session, statement, (User.created_at, User.id), first=first, after=after)


async def by_identity(session: AsyncSession, issuer: str, subject: str) -> User | None:
    return await session.scalar(
        select(User)
        .join(UserIdentity, UserIdentity.user_id == User.id)
        .where(UserIdentity.issuer == issuer, UserIdentity.subject == subject)
    )


async def add_identity(
    session: AsyncSession, user_id: uuid.UUID, issuer: str, subject: str
) -> None:
    session.add(UserIdentity(user_id=user_id, issuer=issuer, subject=subject))
    await session.flush()


def _principal_statement(*, with_session: bool) -> Select[list[str], str, str, int, str]:
    """Built once: every request runs it, and a built statement keeps its cache key."""
    user_id = bindparam("user_id", type_=Uuid)
    statement = (
        select(
            Role.permissions,
            UserSettings.timezone,
            UserSettings.currency,
            UserSettings.week_start,
            UserSettings.locale,
        )
        .select_from(User)
        .join(UserSettings, UserSettings.user_id == User.id)
        .outerjoin(user_roles, user_roles.c.user_id == User.id)
        .outerjoin(Role, Role.id == user_roles.c.role_id)
        .where(User.id == user_id)
    )
    if not with_session:
        return statement
    return statement.where(
        select(AuthSession.id)
        .where(
            AuthSession.id == bindparam("session_id", type_=Uuid),
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > func.now(),
        )
        .exists()
    )


_PRINCIPAL = _principal_statement(with_session=False)
_PRINCIPAL_OF_SESSION = _principal_statement(with_session=True)


async def principal(
    session: AsyncSession, user_id: uuid.UUID, session_id: uuid.UUID | None
) -> Principal | None:
    """The user and the union of their roles' permissions; None once the user or session is gone."""
    if session_id is None:
        rows = await core_rows(session, _PRINCIPAL, {"user_id": user_id})
    else:
        rows = await core_rows(
            session, _PRINCIPAL_OF_SESSION, {"user_id": user_id, "session_id": session_id}
        )
    if not rows:
        return None
    granted = _shared(frozenset(p for perms, *_ in rows if perms for p in perms))
    _, timezone, currency, week_start, locale = rows[0]
    return Principal(
        user_id,
        session_id,
        granted,
        sys.intern(timezone),
        sys.intern(currency),
        week_start,
        locale=sys.intern(locale),
    )


_PERMISSION_SETS: dict[frozenset[str], frozenset[str]] = {}


def _shared(permissions: frozenset[str]) -> frozenset[str]:
    """One object per distinct set of permissions: every live websocket keeps its
    principal, and a set costs more than the rest of it. Sets are few (the roles')."""
    if len(_PERMISSION_SETS) >= 1024:
        _PERMISSION_SETS.clear()
    return _PERMISSION_SETS.setdefault(permissions, permissions)


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
