"""Webhook endpoints and their outbox of deliveries.

A delivery row is written in the transaction of the change it tells of
(:func:`db.events.publish`), so a committed change always has its deliveries and a
rolled-back one never does. Workers send them in order per endpoint and mark them.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, aliased, mapped_column
from sqlalchemy.sql.dml import ReturningInsert

from db.base import Base, created_at
from db.pagination import Page, decode_cursor, encode_cursor


class DeliveryStatus(enum.StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class Webhook(Base):
    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_user_created", "user_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    kinds: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    description: Mapped[str | None] = mapped_column(String(500))
    secret: Mapped[bytes] = mapped_column(
        LargeBinary, comment="The signing secret, encrypted with a key of the server's."
    )
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = created_at()
    failing_since: Mapped[datetime | None]


class Delivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_listed", "webhook_id", "created_at", "id"),
        Index(
            "ix_webhook_deliveries_pending",
            "next_attempt_at",
            postgresql_where=text("status = 'PENDING'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    webhook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(DeliveryStatus, name="delivery_status"), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    response_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    # The time of the statement, not of the transaction: the deliveries of one
    # transaction keep the order in which they were written.
    created_at: Mapped[datetime] = mapped_column(server_default=func.clock_timestamp())
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.clock_timestamp())
    delivered_at: Mapped[datetime | None]


def enqueue(
    user_id: uuid.UUID, kind: str, event_id: str, payload: dict[str, Any]
) -> ReturningInsert[uuid.UUID]:
    """The statement writing one delivery of an event for each of the user's active
    endpoints subscribed to its kind, returning their webhook ids (none when the user has
    no webhooks: the index on ``user_id`` finds nothing)."""
    subscribed = select(
        func.gen_random_uuid(),  # one per row: the model's defaults would be one for all
        Webhook.id,
        literal(event_id, String),
        literal(kind, String),
        literal(payload, JSONB),
        literal(DeliveryStatus.PENDING, Delivery.status.type),
        literal(0),
    ).where(Webhook.user_id == user_id, Webhook.active, Webhook.kinds.any_() == kind)
    columns = ["id", "webhook_id", "event_id", "kind", "payload", "status", "attempts"]
    return insert(Delivery).from_select(columns, subscribed).returning(Delivery.webhook_id)


async def get(session: AsyncSession, webhook_id: uuid.UUID) -> Webhook | None:
    return await session.get(Webhook, webhook_id)


async def owned(
    session: AsyncSession, user_id: uuid.UUID, webhook_id: uuid.UUID, *, lock: bool = False
) -> Webhook | None:
    statement = select(Webhook).where(Webhook.id == webhook_id, Webhook.user_id == user_id)
    return await session.scalar(statement.with_for_update() if lock else statement)


async def owned_all(session: AsyncSession, user_id: uuid.UUID) -> Sequence[Webhook]:
    """Oldest first."""
    return (
        await session.scalars(
            select(Webhook)
            .where(Webhook.user_id == user_id)
            .order_by(Webhook.created_at, Webhook.id)
        )
    ).all()


async def count(session: AsyncSession, user_id: uuid.UUID) -> int:
    found = await session.scalar(
        select(func.count()).select_from(Webhook).where(Webhook.user_id == user_id)
    )
    return found or 0


async def add(session: AsyncSession, webhook: Webhook) -> Webhook:
    session.add(webhook)
    await session.flush()
    await session.refresh(webhook)
    return webhook


async def save(session: AsyncSession, webhook: Webhook, **values: Any) -> Webhook:
    for name, value in values.items():
        setattr(webhook, name, value)
    await session.flush()
    return webhook


async def remove(session: AsyncSession, webhook: Webhook) -> None:
    await session.execute(delete(Webhook).where(Webhook.id == webhook.id))


LISTED = (Delivery.created_at, Delivery.id)


async def deliveries_of(
    session: AsyncSession, webhook_ids: Sequence[uuid.UUID], first: int, after: str | None
) -> dict[uuid.UUID, Page[Delivery]]:
    """A page of each endpoint's deliveries, newest first, in two statements whatever
    the number of endpoints: the pages (a lateral join), and the counts."""
    listed = select(Delivery).where(Delivery.webhook_id == Webhook.id)
    if after is not None:
        listed = listed.where(tuple_(*LISTED) < tuple_(*decode_cursor(after, LISTED)))
    page = (
        listed.order_by(Delivery.created_at.desc(), Delivery.id.desc())
        .limit(first + 1)
        .lateral("page")
    )
    listed_delivery = aliased(Delivery, page)
    rows = (
        await session.execute(
            select(Webhook.id, listed_delivery)
            .select_from(Webhook)
            .join(page, true())
            .where(Webhook.id.in_(webhook_ids))
        )
    ).all()
    counts = dict(
        (
            await session.execute(
                select(Delivery.webhook_id, func.count())
                .where(Delivery.webhook_id.in_(webhook_ids))
                .group_by(Delivery.webhook_id)
            )
        ).all()
    )
    found: dict[uuid.UUID, list[Delivery]] = {webhook_id: [] for webhook_id in webhook_ids}
    for webhook_id, delivery in rows:
        found[webhook_id].append(delivery)
    return {
        webhook_id: Page(
            rows=deliveries[:first],
            cursors=[encode_cursor((d.created_at, d.id)) for d in deliveries[:first]],
            has_next_page=len(deliveries) > first,
            total_count=counts.get(webhook_id, 0),
        )
        for webhook_id, deliveries in found.items()
    }


async def take(session: AsyncSession, webhook_id: uuid.UUID) -> Webhook | None:
    """The endpoint, if no other worker holds it (None then, as for a deleted one); this
    transaction holds it until it ends: one worker at a time sends an endpoint's
    deliveries.

    The hold is an advisory lock, not a row lock: locking a row gives the transaction a
    transaction id while it waits for the receiver, which would hold back the horizon
    that sync pulls read up to (``db.sync``) for as long as the request takes."""
    held = await session.scalar(
        select(func.pg_try_advisory_xact_lock(func.hashtextextended(f"webhook:{webhook_id}", 0)))
    )
    if not held:
        return None
    return await session.scalar(
        select(Webhook).where(Webhook.id == webhook_id).execution_options(populate_existing=True)
    )


async def next_pending(session: AsyncSession, webhook_id: uuid.UUID) -> Delivery | None:
    """The endpoint's oldest delivery still to send: later ones wait behind it."""
    return await session.scalar(
        select(Delivery)
        .where(Delivery.webhook_id == webhook_id, Delivery.status == DeliveryStatus.PENDING)
        .order_by(*LISTED)
        .limit(1)
    )


async def save_delivery(session: AsyncSession, delivery: Delivery, **values: Any) -> Delivery:
    for name, value in values.items():
        setattr(delivery, name, value)
    await session.flush()
    return delivery


async def fail_pending(session: AsyncSession, webhook_id: uuid.UUID, reason: str) -> None:
    """Gives up every delivery still waiting for the endpoint."""
    await session.execute(
        update(Delivery)
        .where(Delivery.webhook_id == webhook_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.FAILED, last_error=reason)
    )


async def due(session: AsyncSession, now: datetime) -> list[uuid.UUID]:
    """The active endpoints with a delivery whose time has come (the partial index of
    pending deliveries answers it)."""
    found = await session.scalars(
        select(Delivery.webhook_id)
        .join(Webhook, Webhook.id == Delivery.webhook_id)
        .where(
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.next_attempt_at <= now,
            Webhook.active,
        )
        .distinct()
    )
    return list(found)
