"""Engine, session factory, and a request's share of them."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

import asyncpg
from prometheus_client import Gauge
from sqlalchemy import event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

Sessionmaker = async_sessionmaker[AsyncSession]

# Each process counts its own pools; across the processes of a server the live ones add up.
POOL_IN_USE = Gauge(
    "lifegraph_db_pool_connections_in_use",
    "Database connections checked out of the pool.",
    multiprocess_mode="livesum",
)
POOL_OPEN = Gauge(
    "lifegraph_db_pool_connections_open",
    "Database connections the pool holds open, in use or idle.",
    multiprocess_mode="livesum",
)
POOL_OVERFLOW = Gauge(
    "lifegraph_db_pool_overflow_connections",
    "Open database connections beyond the pool's size (its overflow, for bursts).",
    multiprocess_mode="livesum",
)
POOL_WAITING = Gauge(
    "lifegraph_db_pool_waiting_requests",
    "Requests waiting for a database connection.",
    multiprocess_mode="livesum",
)


class SessionFactory(Protocol):
    """What opens sessions: a Sessionmaker, or a request's ``RequestSessions``."""

    def __call__(self) -> AbstractAsyncContextManager[AsyncSession]: ...

    def begin(self) -> AbstractAsyncContextManager[AsyncSession]: ...


AfterCommit = Callable[[Mapping[str, Any]], Awaitable[None]]
"""Work that may start only once a transaction has committed, such as queueing the jobs
that read what it wrote."""


class RequestSessions:
    """One request's database access: one connection, taken from the pool on first use
    and given back when the request ends (``close``), that the root resolvers and the
    loaders use in turn, never two at once.

    Reads run in autocommit, so they cost their statements and nothing else (no BEGIN,
    no ROLLBACK); ``begin()`` runs a transaction on the same connection. A task that
    already holds the connection and opens another session inside (a nested use, such as
    a throttle that must commit whatever its caller does) gets a separate connection from
    the pool, as its own transaction, so nesting never waits on itself.

    ``keep=False`` gives the connection back after every use: a websocket's context lives
    for hours and must not hold a connection between events.

    While a task holds a session it must not wait on another task's use of the database
    (that task would wait for its turn forever): resolvers read what they need, such as
    the principal, before they open a session."""

    def __init__(
        self,
        engine: AsyncEngine,
        factory: Sessionmaker,
        *,
        keep: bool = True,
        after_commit: AfterCommit | None = None,
    ) -> None:
        self._engine = engine
        self._factory = factory
        self._keep = keep
        self._after_commit = after_commit
        self._turn = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None
        self._connection: AsyncConnection | None = None
        self._level: str | None = None

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        if self._nested():
            async with self._factory() as session:
                yield session
            return
        async with (
            self._held("AUTOCOMMIT") as connection,
            self._session(connection) as session,
        ):
            yield session

    @contextlib.asynccontextmanager
    async def begin(self, isolation: str | None = None) -> AsyncIterator[AsyncSession]:
        """A transaction, at the server's default isolation level unless one is named
        (``"REPEATABLE READ"`` for one snapshot across statements). Once it commits,
        ``after_commit`` gets what the transaction left in its session's ``info``."""
        if self._nested():
            async with self._factory.begin() as session:
                if isolation is not None:
                    await session.connection(execution_options={"isolation_level": isolation})
                yield session
        else:
            async with (
                self._held(isolation) as connection,
                self._session(connection) as session,
                session.begin(),
            ):
                yield session
        if self._after_commit is not None and session.info:
            await self._after_commit(session.info)

    async def close(self) -> None:
        """Give the connection back to the pool (the end of the request). What still
        uses the sessions after it (the events of a subscription streamed over HTTP)
        gives the connection back after every use."""
        async with self._turn:
            self._keep = False
            await self._release()

    def _nested(self) -> bool:
        task = asyncio.current_task()
        return task is not None and task is self._holder

    def _session(self, connection: AsyncConnection) -> AsyncSession:
        return self._factory(bind=connection)

    @contextlib.asynccontextmanager
    async def _held(self, isolation: str | None) -> AsyncIterator[AsyncConnection]:
        async with self._turn:
            self._holder = asyncio.current_task()
            try:
                connection = await self._connect()
                level = isolation or connection.default_isolation_level
                if level != self._level:
                    await connection.execution_options(isolation_level=level)
                    self._level = level
                yield connection
            finally:
                self._holder = None
                if not self._keep or (
                    self._connection is not None and self._connection.invalidated
                ):
                    await self._release()

    async def _connect(self) -> AsyncConnection:
        if self._connection is None:
            with POOL_WAITING.track_inprogress():
                self._connection = await self._engine.connect()
            self._level = self._connection.default_isolation_level
        return self._connection

    async def _release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()


def async_url(url: str) -> str:
    """Accept ``postgresql://`` URLs as operators write them and pick the asyncpg driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def create_engine(url: str, *, pool_size: int = 20) -> AsyncEngine:
    """A pool that holds enough connections for the load it serves (``pool_size``, as
    many as requests run at once: each request takes one), with some overflow for bursts.

    There is no pre-ping (a round trip on every checkout). A connection the server has
    closed while it sat in the pool (a restart, an idle timeout) is known to asyncpg
    already, and is replaced at checkout without a round trip; one that breaks during a
    request is invalidated, with the rest of the pool, and the request answers
    SERVICE_UNAVAILABLE with a retry delay."""
    engine = create_async_engine(
        async_url(url), pool_size=pool_size, max_overflow=max(2, pool_size // 2)
    )
    event.listen(engine.sync_engine, "checkout", _closed_by_the_server)
    PoolGauges(pool_size).listen(engine)
    return engine


class PoolGauges:
    """Keeps the pool gauges as the pool's events happen, so a scrape reads them in any
    process. In use counts each checkout until its checkin (a checkout refused by
    ``_closed_by_the_server``, registered first, is not counted); overflow counts the
    open connections beyond ``size``. Gauges are process-wide: they add up every pool of
    the process."""

    _OUT = "lifegraph_checked_out"

    def __init__(self, size: int) -> None:
        self.size = size
        self.open = 0

    def listen(self, engine: AsyncEngine) -> None:
        target = engine.sync_engine
        event.listen(target, "checkout", self._checkout)
        event.listen(target, "checkin", self._checkin)
        event.listen(target, "connect", self._connect)
        event.listen(target, "close", self._close)
        event.listen(target, "detach", self._detach)

    def _checkout(self, dbapi_connection: Any, record: Any, proxy: Any) -> None:
        record.record_info[self._OUT] = True
        POOL_IN_USE.inc()

    def _checkin(self, dbapi_connection: Any, record: Any) -> None:
        if record.record_info.pop(self._OUT, False):
            POOL_IN_USE.dec()

    def _connect(self, dbapi_connection: Any, record: Any) -> None:
        self.open += 1
        POOL_OPEN.inc()
        if self.open > self.size:
            POOL_OVERFLOW.inc()

    def _close(self, dbapi_connection: Any, record: Any) -> None:
        if self.open > self.size:
            POOL_OVERFLOW.dec()
        self.open -= 1
        POOL_OPEN.dec()

    def _detach(self, dbapi_connection: Any, record: Any) -> None:
        """A connection taken out of the pool for good (no checkin, no close follows)."""
        self._checkin(dbapi_connection, record)
        self._close(dbapi_connection, record)


def _closed_by_the_server(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    if dbapi_connection.driver_connection.is_closed():
        raise exc.DisconnectionError("closed by the server while in the pool")


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
