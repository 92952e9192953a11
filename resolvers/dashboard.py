"""The dashboard: figures that move with every change, computed in the user's calendar."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from auth.permissions import Permission
from db import dashboard, receipts
from db.dashboard import Figures
from db.events import ActivityKind, Event, Signal
from db.purchases import Purchase
from db.receipts import Receipt
from resolvers import ids
from resolvers.dates import start_of
from resolvers.errors import BadUserInput, Forbidden, Unauthenticated

if TYPE_CHECKING:
    from resolvers.context import Context

MAX_RECENT = 50


@dataclass(frozen=True)
class Dashboard:
    figures: Figures
    currency: str
    user_id: uuid.UUID


async def dashboard_of(ctx: Context) -> Dashboard:
    """Every figure in one statement; "today" and "this month" are the user's."""
    principal = await ctx.principal()
    tz = principal.timezone
    now = ctx.services.clock()
    today = ctx.today(tz)
    month = today.replace(day=1)
    next_month = (month + timedelta(days=32)).replace(day=1)
    async with ctx.sessionmaker() as session:
        figures = await dashboard.figures(
            session,
            principal.user_id,
            currency=principal.currency,
            month_start=start_of(month, tz),
            month_end=start_of(next_month, tz),
            now=now,
            today=today,
            today_start=start_of(today, tz),
            today_end=start_of(today + timedelta(days=1), tz),
        )
    return Dashboard(figures, principal.currency, principal.user_id)


async def recent_purchases(ctx: Context, board: Dashboard, limit: int) -> list[Purchase]:
    principal = await ctx.principal()
    if Permission.PURCHASES not in principal.permissions:
        raise Forbidden()
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
    """The dashboard now, then again after each burst of changes: events that arrive
    within the coalescing window cause one recomputation, made after the last of them."""
    principal = await ctx.principal()
    async with ctx.services.events.subscribe(principal.user_id) as queue:
        yield await dashboard_of(ctx)
        while True:
            await _next(ctx, queue)
            await asyncio.sleep(ctx.settings.dashboard_coalesce_seconds)
            while not queue.empty():
                queue.get_nowait()
            ctx.refresh_loaders()
            yield await dashboard_of(ctx)


async def receipt_updates(ctx: Context) -> AsyncIterator[Receipt]:
    """Every status change of the user's receipts."""
    principal = await ctx.principal()
    async with ctx.services.events.subscribe(principal.user_id) as queue:
        while True:
            event = await _next(ctx, queue)
            if event.kind is not Signal.RECEIPT_STATUS or event.entity_id is None:
                continue
            async with ctx.sessionmaker() as session:
                row = await receipts.owned(session, principal.user_id, event.entity_id)
            if row is not None:
                ctx.refresh_loaders()
                yield row


async def activity(ctx: Context, kinds: set[ActivityKind] | None) -> AsyncIterator[Activity]:
    principal = await ctx.principal()
    async with ctx.services.events.subscribe(principal.user_id) as queue:
        while True:
            event = await _next(ctx, queue)
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


async def _next(ctx: Context, queue: asyncio.Queue[Event]) -> Event:
    """The next event, or UNAUTHENTICATED once the credentials of the connection expire."""
    principal = await ctx.principal()
    timeout = None
    if principal.expires_at is not None:
        timeout = (principal.expires_at - ctx.services.clock()).total_seconds()
    try:
        if timeout is not None and timeout <= 0:
            raise TimeoutError
        return await asyncio.wait_for(queue.get(), timeout)
    except TimeoutError:
        raise Unauthenticated("The access token expired; sign in again.") from None
