"""Events for live dashboards, sent with PostgreSQL NOTIFY inside the writing transaction:
PostgreSQL delivers them only when it commits, and never for a rollback. They carry
identifiers only; listeners read what they need. Activities also go to the user's
webhooks, through an outbox written in the same transaction (:mod:`db.webhooks`)."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeAlias, TypeVar

import asyncpg
from prometheus_client import Counter
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from db import webhooks

logger = logging.getLogger("lifegraph.events")
T = TypeVar("T")

CHANNEL = "lifegraph_events"

EVENTS_RECEIVED = Counter(
    "lifegraph_events_received_total", "Events this process's listener received from PostgreSQL."
)
EVENTS_FANNED_OUT = Counter(
    "lifegraph_events_fanned_out_total",
    "Events put in subscribers' inboxes: one per subscriber an event reached, resyncs included.",
)
INBOX_OVERFLOWS = Counter(
    "lifegraph_event_inbox_overflows_total",
    "Times a subscriber fell too far behind and was told to resync instead.",
)


class ActivityKind(enum.StrEnum):
    """What a user did, as their activity feed shows it."""

    RECEIPT_PROCESSED = "RECEIPT_PROCESSED"
    PURCHASE_CREATED = "PURCHASE_CREATED"
    PURCHASE_UPDATED = "PURCHASE_UPDATED"
    PURCHASE_DELETED = "PURCHASE_DELETED"
    TASK_CREATED = "TASK_CREATED"
    TASK_UPDATED = "TASK_UPDATED"
    TASK_DELETED = "TASK_DELETED"
    TASK_COMPLETED = "TASK_COMPLETED"
    HABIT_CREATED = "HABIT_CREATED"
    HABIT_CHECKED_IN = "HABIT_CHECKED_IN"
    NOTE_CREATED = "NOTE_CREATED"
    NOTE_UPDATED = "NOTE_UPDATED"
    NOTE_DELETED = "NOTE_DELETED"
    PROJECT_CREATED = "PROJECT_CREATED"
    PROJECT_UPDATED = "PROJECT_UPDATED"
    PROJECT_DELETED = "PROJECT_DELETED"


class Signal(enum.StrEnum):
    """Changes that are no activity of their own but move dashboard figures or receipt
    statuses."""

    RECEIPT_STATUS = "RECEIPT_STATUS"
    HABIT_CHANGED = "HABIT_CHANGED"
    BUDGET_CHANGED = "BUDGET_CHANGED"


EventKind: TypeAlias = ActivityKind | Signal


def event_kind(value: str) -> EventKind:
    """The kind named in a notification; raises ValueError for an unknown one."""
    if value in Signal.__members__:
        return Signal(value)
    return ActivityKind(value)


DUE_WEBHOOKS = "lifegraph.due_webhooks"
"""The key, in a session's ``info``, of the endpoints that its transaction gave
deliveries to: once it commits, their workers are called (``RequestSessions``)."""


async def publish(
    session: AsyncSession, user_id: uuid.UUID, kind: EventKind, entity_id: uuid.UUID
) -> None:
    """Tells live listeners of the change, and writes an activity's webhook deliveries to
    the outbox: one statement either way (the INSERT rides along as a CTE, and finds
    nothing to insert when the user has no webhooks for the kind)."""
    payload = json.dumps({"u": str(user_id), "k": kind.value, "e": str(entity_id)})
    notify = func.pg_notify(CHANNEL, payload)
    if isinstance(kind, Signal):
        await session.execute(select(notify))
        return
    delivered = webhooks.enqueue(
        user_id, kind.value, f"evt_{uuid.uuid4()}", webhook_payload(kind, entity_id)
    ).cte("delivered")
    endpoints = select(func.array_agg(delivered.c.webhook_id)).scalar_subquery()
    due = await session.scalar(select(endpoints).add_columns(notify))
    if due:
        session.info.setdefault(DUE_WEBHOOKS, set()).update(due)


def webhook_payload(kind: ActivityKind, entity_id: uuid.UUID) -> dict[str, object]:
    """What an endpoint receives: the kind, the time, and the global ID of the record
    (``task_<uuid>``); the receiver reads the rest through the API."""
    entity_type = kind.value.partition("_")[0].lower()
    return {
        "type": kind.value,
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "data": {"id": f"{entity_type}_{entity_id}"},
    }


class Inbox(Generic[T]):
    """What one live subscription has yet to send, oldest first: the part of
    ``asyncio.Queue`` that subscriptions use, for a fraction of its memory (a queue holds
    four deques, about 3 KiB, and a process holds one per subscription)."""

    __slots__ = ("__weakref__", "_expired", "_items", "_waiter", "expiring", "maxsize")

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: list[T] = []
        self._waiter: asyncio.Future[None] | None = None
        self._expired = False
        self.expiring = False
        """Whether something will expire it (set by that something)."""

    def expire(self) -> None:
        """From now on ``get`` raises ``TimeoutError`` (the reader's time is up)."""
        self._expired = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return len(self._items) >= self.maxsize

    def put_nowait(self, item: T) -> None:
        """Raises ``asyncio.QueueFull`` when full."""
        if self.full():
            raise asyncio.QueueFull
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def get_nowait(self) -> T:
        """Raises ``asyncio.QueueEmpty`` when empty."""
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.pop(0)

    async def get(self) -> T:
        """The oldest item, once there is one; raises ``TimeoutError`` once expired."""
        while not self._items or self._expired:
            if self._expired:
                raise TimeoutError
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.pop(0)


@dataclass(frozen=True)
class Event:
    user_id: uuid.UUID
    kind: EventKind | None  # None: events may have been missed; recompute everything
    entity_id: uuid.UUID | None
    at: datetime


class Subscription:
    """One subscriber's place in the hub while it lives (a class rather than a generator:
    every live subscription keeps one)."""

    __slots__ = ("_hub", "_inbox", "_user_id")

    def __init__(self, hub: EventHub, user_id: uuid.UUID) -> None:
        self._hub = hub
        self._user_id = user_id
        self._inbox: Inbox[Event] = Inbox(hub.QUEUE_SIZE)

    async def __aenter__(self) -> Inbox[Event]:
        hub = self._hub
        hub._queues[self._user_id].add(self._inbox)
        try:
            if not hub.listening.is_set():
                # Events sent before the listener is up would be missed: wait a moment.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(hub.listening.wait(), hub.CONNECT_WAIT_SECONDS)
        except BaseException:
            hub._leave(self._user_id, self._inbox)
            raise
        return self._inbox

    async def __aexit__(self, *exc_info: object) -> None:
        self._hub._leave(self._user_id, self._inbox)


class EventHub:
    """One listening connection per process, fanning events out to this process's
    subscribers, each of whom sees only their own user's events.

    When the connection drops it reconnects with backoff, and tells every subscriber that
    events may have been missed, so nothing shown stays stale.
    """

    HEALTH_CHECK_SECONDS = 15.0
    QUEUE_SIZE = 1000
    CONNECT_WAIT_SECONDS = 5.0

    def __init__(self, database_url: str, *, reconnect_delay: float = 0.5) -> None:
        self._dsn = (
            make_url(database_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        self._reconnect_delay = reconnect_delay
        self._queues: dict[uuid.UUID, set[Inbox[Event]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        self._connection: asyncpg.Connection | None = None

    def subscribe(self, user_id: uuid.UUID) -> Subscription:
        """``async with hub.subscribe(user_id) as inbox``: the user's events from then on."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="lifegraph event listener")
        return Subscription(self, user_id)

    def _leave(self, user_id: uuid.UUID, inbox: Inbox[Event]) -> None:
        subscribers = self._queues[user_id]
        subscribers.discard(inbox)
        if not subscribers:
            del self._queues[user_id]

    @property
    def subscriber_count(self) -> int:
        return sum(len(queues) for queues in self._queues.values())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def drop_connection(self) -> None:
        """Closes the listening connection as a network failure would (for tests)."""
        if self._connection is not None:
            self._connection.terminate()

    async def _run(self) -> None:
        delay = self._reconnect_delay
        first = True
        while True:
            try:
                await self._listen(missed=not first)
                delay = self._reconnect_delay
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                logger.warning("event listener lost its connection; reconnecting", exc_info=True)
            first = False
            self.listening.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _listen(self, *, missed: bool) -> None:
        connection = await asyncpg.connect(self._dsn, timeout=10)
        self._connection = connection
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        try:
            await connection.add_listener(CHANNEL, self._deliver)
            self.listening.set()
            if missed:
                self._tell_everyone_to_resync()
            while not lost.is_set():
                try:
                    await asyncio.wait_for(lost.wait(), self.HEALTH_CHECK_SECONDS)
                except TimeoutError:
                    await connection.fetchval("SELECT 1", timeout=5)
        finally:
            self._connection = None
            if not connection.is_closed():
                connection.terminate()

    def _deliver(self, connection: object, pid: int, channel: str, payload: str) -> None:
        try:
            data = json.loads(payload)
            event = Event(
                user_id=uuid.UUID(data["u"]),
                kind=event_kind(data["k"]),
                entity_id=uuid.UUID(data["e"]),
                at=datetime.now(UTC),
            )
        except (ValueError, KeyError, TypeError):
            logger.warning("ignored a malformed event: %r", payload)
            return
        EVENTS_RECEIVED.inc()
        queues = self._queues.get(event.user_id, ())
        for queue in queues:
            self._offer(queue, event)
        EVENTS_FANNED_OUT.inc(len(queues))

    def _tell_everyone_to_resync(self) -> None:
        now = datetime.now(UTC)
        for user_id, queues in self._queues.items():
            for queue in queues:
                self._offer(queue, Event(user_id, None, None, now))
        EVENTS_FANNED_OUT.inc(self.subscriber_count)

    @staticmethod
    def _offer(queue: Inbox[Event], event: Event) -> None:
        """A subscriber too slow to keep up is told to resync instead of growing forever."""
        try:
            queue.put_nowait(event)
        except asyncio.QueueFull:
            INBOX_OVERFLOWS.inc()
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(Event(event.user_id, None, None, event.at))
