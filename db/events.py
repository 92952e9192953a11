"""Events for live dashboards, sent with PostgreSQL NOTIFY inside the writing transaction:
PostgreSQL delivers them only when it commits, and never for a rollback. They carry
identifiers only; listeners read what they need."""

from __future__ import annotations

import enum
import json
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

CHANNEL = "lifegraph_events"


class EventKind(enum.StrEnum):
    RECEIPT_PROCESSED = "RECEIPT_PROCESSED"
    PURCHASE_CREATED = "PURCHASE_CREATED"
    PURCHASE_UPDATED = "PURCHASE_UPDATED"
    PURCHASE_DELETED = "PURCHASE_DELETED"
    TASK_CREATED = "TASK_CREATED"
    TASK_UPDATED = "TASK_UPDATED"
    TASK_DELETED = "TASK_DELETED"
    HABIT_CHECKED_IN = "HABIT_CHECKED_IN"
    NOTE_CREATED = "NOTE_CREATED"
    NOTE_UPDATED = "NOTE_UPDATED"
    NOTE_DELETED = "NOTE_DELETED"
    # Not activities, but they move dashboard figures or receipt statuses.
    RECEIPT_STATUS = "RECEIPT_STATUS"
    HABIT_CHANGED = "HABIT_CHANGED"


async def publish(
    session: AsyncSession, user_id: uuid.UUID, kind: EventKind, entity_id: uuid.UUID
) -> None:
    payload = json.dumps({"u": str(user_id), "k": kind.value, "e": str(entity_id)})
    await session.execute(select(func.pg_notify(CHANNEL, payload)))
