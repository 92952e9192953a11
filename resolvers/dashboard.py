"""The dashboard: figures that move with every change, computed in the user's calendar."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import uuid
import weakref
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from prometheus_client import Gauge

from auth.permissions import Permission
from db import budgets, dashboard, projects, purchases, receipts
from db.dashboard import Figures
from db.engine import SessionFactory
from db.events import ActivityKind, Inbox, Signal
from db.purchases import Bucket, PurchaseRow
from db.receipts import Receipt
from resolvers import ids
from resolvers.budgets import BudgetOfMonth, Month, month_of
from resolvers.dates import start_of
from resolvers.errors import BadUserInput, Forbidden, RateLimited, Unauthenticated
from resolvers.projects import Listed

if TYPE_CHECKING:
    from db.users import Principal
    from resolvers.context import Context, Services

logger = logging.getLogger("lifegraph.dashboard")
T = TypeVar("T")
MAX_RECENT = 50
SUBSCRIPTION_RETRY_SECONDS = 30

LIVE_SUBSCRIPTIONS = Gauge(
    "lifegraph_live_subscriptions",
    "Subscriptions running now, over websockets or HTTP.",
    multiprocess_mode="livesum",
)


@dataclass(frozen=True)
class Dashboard:
    figures: Figures
    currency: str
    user_id: uuid.UUID
    month: Month


async def dashboard_of(ctx: Context) -> Dashboard:
    return await figures_of(ctx.services, await ctx.principal(), ctx.sessionmaker)


async def figures_of(
    services: Services, principal: Principal, sessions: SessionFactory | None = None
) -> Dashboard:
    """Every figure in one statement; "today" and "this month" are the user's. A request
    reads them on its own connection; the live feeds, on one of the process's."""
    tz = principal.timezone
    now = services.clock()
    today = now.astimezone(ZoneInfo(tz)).date()
    month = month_of(today.replace(day=1), tz)
    async with (sessions or services.sessionmaker)() as session:
        figures = await dashboard.figures(
            session,
            principal.user_id,
            currency=principal.currency,
            month_start=month.start,
            month_end=month.end,
            now=now,
            today=today,
            today_start=start_of(today, tz),
            today_end=start_of(today + timedelta(days=1), tz),
        )
    return Dashboard(figures, principal.currency, principal.user_id, month)


def _allowed(principal: Principal, permission: Permission) -> None:
    if permission not in principal.permissions:
        raise Forbidden()


async def spending_by_currency(ctx: Context, board: Dashboard) -> list[Bucket]:
    """This month's purchases per currency: one in another currency is shown, not left out."""
    _allowed(await ctx.principal(), Permission.PURCHASES)
    async with ctx.sessionmaker() as session:
        return await purchases.spending_by_currency(
            session, board.user_id, board.month.start, board.month.end
        )


async def budgets_of(ctx: Context, board: Dashboard) -> list[BudgetOfMonth]:
    _allowed(await ctx.principal(), Permission.PURCHASES)
    async with ctx.sessionmaker() as session:
        found = await budgets.with_spent(session, board.user_id, board.month.start, board.month.end)
    return [BudgetOfMonth(row, board.month.name) for row in found]


async def projects_of(ctx: Context, board: Dashboard) -> list[Listed]:
    """The active projects in the user's order with their open tasks, in one statement."""
    _allowed(await ctx.principal(), Permission.TASKS)
    async with ctx.sessionmaker() as session:
        found = await projects.listed(session, board.user_id, include_archived=False)
    return [Listed(row, count) for row, count in found]


async def recent_purchases(ctx: Context, board: Dashboard, limit: int) -> list[PurchaseRow]:
    _allowed(await ctx.principal(), Permission.PURCHASES)
    if not 1 <= limit <= MAX_RECENT:
        raise BadUserInput(f"'limit' must be between 1 and {MAX_RECENT}.")
    async with ctx.sessionmaker() as session:
        return await dashboard.recent_purchases(session, board.user_id, limit)


_ENTITY_TYPES = {"RECEIPT": "receipt", "PURCHASE": "purchase", "TASK": "task", "HABIT": "habit"}


@dataclass(frozen=True)
class Activity:
    kind: ActivityKind
    entity_id: str
    at: datetime
    summary: str


async def dashboard_updates(ctx: Context) -> AsyncIterator[Dashboard]:
    """The dashboard now, then again after each burst of changes, from the user's shared
    feed (see :class:`LiveUpdates`)."""
    principal = await ctx.principal()
    live = ctx.services.live
    with live.admit(principal.user_id):
        async with live.follow(ctx.services, principal) as updates:
            yield await dashboard_of(ctx)
            while True:
                board = await _next(ctx, principal, updates)
                ctx.refresh_loaders()
                yield board


async def receipt_updates(ctx: Context) -> AsyncIterator[Receipt]:
    """Every status change of the user's receipts."""
    principal = await ctx.principal()
    with ctx.services.live.admit(principal.user_id):
        async with ctx.services.events.subscribe(principal.user_id) as queue:
            while True:
                event = await _next(ctx, principal, queue)
                if event.kind is not Signal.RECEIPT_STATUS or event.entity_id is None:
                    continue
                async with ctx.sessionmaker() as session:
                    row = await receipts.owned(session, principal.user_id, event.entity_id)
                if row is not None:
                    ctx.refresh_loaders()
                    yield row


async def activity(ctx: Context, kinds: set[ActivityKind] | None) -> AsyncIterator[Activity]:
    principal = await ctx.principal()
    with ctx.services.live.admit(principal.user_id):
        async with ctx.services.events.subscribe(principal.user_id) as queue:
            while True:
                event = await _next(ctx, principal, queue)
                kind = event.kind
                if not isinstance(kind, ActivityKind) or event.entity_id is None:
                    continue
                if kinds and kind not in kinds:
                    continue
                noun = kind.value.split("_", 1)[0]
                yield Activity(
                    kind=kind,
                    entity_id=ids.encode(_ENTITY_TYPES.get(noun, noun.lower()), event.entity_id),
                    at=event.at,
                    summary=kind.value.replace("_", " ").capitalize(),
                )


async def _next(ctx: Context, principal: Principal, queue: Inbox[T]) -> T:
    """The next item, or UNAUTHENTICATED once the credentials of the connection expire
    (the process's :class:`Expiries` wakes the queue then)."""
    try:
        if principal.expires_at is not None:
            if principal.expires_at <= ctx.services.clock():
                raise TimeoutError
            ctx.services.live.expiries.add(principal.expires_at, ctx.services.clock(), queue)
        return await queue.get()
    except TimeoutError:
        raise Unauthenticated("The access token expired; sign in again.") from None


class Expiries:
    """Expires each live subscription's queue when its credentials do, with one timer for
    the process rather than one per subscription (each costs about 700 bytes, and a
    process holds thousands). A queue is registered once, however often it is waited on,
    and only weakly: one that ends earlier leaves nothing behind but its entry."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, weakref.ref[Inbox[Any]]]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, expires_at: datetime, now: datetime, queue: Inbox[Any]) -> None:
        if queue.expiring:
            return
        queue.expiring = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (expires_at - now).total_seconds()
        heapq.heappush(self._heap, (deadline, next(self._order), weakref.ref(queue)))
        if self._heap[0][0] == deadline:
            self._schedule(loop)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(self._heap[0][0], self._expire) if self._heap else None

    def _expire(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._heap and self._heap[0][0] <= now:
            queue = heapq.heappop(self._heap)[2]()
            if queue is not None:
                queue.expire()
        self._timer = None
        self._schedule(loop)


class LiveUpdates:
    """This process's live subscriptions: at most ``max_per_user`` for one user across all
    their connections, and one dashboard feed per user that recomputes the figures once per
    burst of changes (events within ``coalesce_seconds``, recomputed after the last),
    however many of that user's subscriptions follow it."""

    def __init__(self, *, max_per_user: int, coalesce_seconds: float) -> None:
        self.max_per_user = max_per_user
        self.coalesce_seconds = coalesce_seconds
        self._counts: Counter[uuid.UUID] = Counter()
        self._feeds: dict[tuple[uuid.UUID, str, str], _Feed] = {}
        self.expiries = Expiries()

    def admit(self, user_id: uuid.UUID) -> _Admission:
        """``with live.admit(user_id)``: one more of the user's live subscriptions, or
        RATE_LIMITED when they have as many as they may."""
        if self._counts[user_id] >= self.max_per_user:
            raise RateLimited(
                SUBSCRIPTION_RETRY_SECONDS,
                f"At most {self.max_per_user} live subscriptions at once; end one first.",
            )
        self._counts[user_id] += 1
        LIVE_SUBSCRIPTIONS.inc()
        return _Admission(self._counts, user_id)

    @contextlib.asynccontextmanager
    async def follow(
        self, services: Services, principal: Principal
    ) -> AsyncIterator[Inbox[Dashboard]]:
        """A queue holding the newest dashboard after each burst; it listens before it
        returns, so no change made after is missed."""
        key = (principal.user_id, principal.timezone, principal.currency)
        feed = self._feeds.get(key)
        if feed is None:
            feed = self._feeds[key] = _Feed(services, principal, self.coalesce_seconds)
        queue: Inbox[Dashboard] = Inbox(maxsize=1)
        feed.members.add(queue)
        try:
            await feed.listening.wait()
            yield queue
        finally:
            feed.members.discard(queue)
            if not feed.members:
                del self._feeds[key]
                await feed.stop()

    @property
    def feed_count(self) -> int:
        return len(self._feeds)


class _Admission:
    """Counts a subscription until it ends (a class rather than a generator: every live
    subscription keeps one)."""

    __slots__ = ("_counts", "_user_id")

    def __init__(self, counts: Counter[uuid.UUID], user_id: uuid.UUID) -> None:
        self._counts = counts
        self._user_id = user_id

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        LIVE_SUBSCRIPTIONS.dec()
        self._counts[self._user_id] -= 1
        if not self._counts[self._user_id]:
            del self._counts[self._user_id]


class _Feed:
    def __init__(self, services: Services, principal: Principal, coalesce: float) -> None:
        self.members: set[Inbox[Dashboard]] = set()
        self.listening = asyncio.Event()
        self._task = asyncio.create_task(
            self._run(services, principal, coalesce), name=f"dashboard of {principal.user_id}"
        )

    async def _run(self, services: Services, principal: Principal, coalesce: float) -> None:
        async with services.events.subscribe(principal.user_id) as events:
            self.listening.set()
            while True:
                await events.get()
                await asyncio.sleep(coalesce)
                while not events.empty():
                    events.get_nowait()
                try:
                    board = await figures_of(services, principal)
                except Exception:
                    logger.exception("the dashboard of %s could not be computed", principal.user_id)
                    continue
                for queue in self.members:
                    if queue.full():
                        queue.get_nowait()
                    queue.put_nowait(board)

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
