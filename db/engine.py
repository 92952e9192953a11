"""Engine and session factory. Every resolver opens its own session from the factory."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import traceback
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import asyncpg
from sqlalchemy import exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

Sessionmaker = async_sessionmaker[AsyncSession]


class SessionFactory(Protocol):
    """What opens sessions: a Sessionmaker, or a request's bounded share of one."""

    def __call__(self) -> AbstractAsyncContextManager[AsyncSession]: ...

    def begin(self) -> AbstractAsyncContextManager[AsyncSession]: ...


class BoundedSessions:
    """One request's sessions: at most ``limit`` open at once, so no shape of request can
    take the pool from everyone else. A task that holds one may open more inside it (a
    nested use) without waiting, so nesting never deadlocks."""

    def __init__(self, factory: Sessionmaker, limit: int) -> None:
        self._factory = factory
        self._slots = asyncio.Semaphore(limit)
        self._holders: set[asyncio.Task[Any]] = set()

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        if task is None or task in self._holders:
            yield
            return
        async with self._slots:
            self._holders.add(task)
            try:
                yield
            finally:
                self._holders.discard(task)

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        async with self._slot(), self._factory() as session:
            yield session

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        async with self._slot(), self._factory.begin() as session:
            yield session


def async_url(url: str) -> str:
    """Accept ``postgresql://`` URLs as operators write them and pick the asyncpg driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(
        async_url(url), pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def create_sessionmaker(engine: AsyncEngine) -> Sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


_UNREACHABLE = (
    ConnectionError,  # refused, reset, broken pipe
    socket.gaierror,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)


def is_unavailable(error: BaseException) -> bool:
    """Whether the error says the database cannot be reached now (worth retrying later),
    rather than that a statement was wrong."""
    if isinstance(error, exc.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    cause: BaseException | None = error
    for _ in range(5):
        if cause is None:
            return False
        if isinstance(cause, _UNREACHABLE) or _raised_by_the_driver(cause):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _raised_by_the_driver(error: BaseException) -> bool:
    """An OS error while the driver connects: such as a Unix socket that is not there
    while the server restarts."""
    return isinstance(error, OSError) and any(
        "/asyncpg/" in frame.f_code.co_filename
        for frame, _ in traceback.walk_tb(error.__traceback__)
    )
