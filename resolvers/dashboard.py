"""The dashboard: figures that move with every change, computed in the user's calendar."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from auth.permissions import PURCHASES
from db import dashboard
from db.dashboard import Figures
from db.purchases import Purchase
from lifegraph.errors import BadUserInput, Forbidden
from resolvers.dates import start_of

if TYPE_CHECKING:
    from lifegraph.context import Context

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
    if PURCHASES not in principal.permissions:
        raise Forbidden()
    if not 1 <= limit <= MAX_RECENT:
        raise BadUserInput(f"'limit' must be between 1 and {MAX_RECENT}.")
    async with ctx.sessionmaker() as session:
        return await dashboard.recent_purchases(session, board.user_id, limit)
