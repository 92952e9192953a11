"""The dashboard that widgets show: counts and this month's spending."""

from __future__ import annotations

from decimal import Decimal
from typing import Self

import strawberry

from auth.permissions import SignedIn, requires
from lifegraph.context import Info
from resolvers import dashboard as resolvers
from resolvers.money import quantize
from schema.purchases import Purchase


@strawberry.type
class SpendingThisMonth:
    total: Decimal
    currency: str = strawberry.field(description="Your currency; other currencies are not summed.")
    count: int


@strawberry.type(description="Figures in your time zone: today, this month.")
class Dashboard:
    spending_this_month: SpendingThisMonth
    open_tasks: int
    overdue_tasks: int
    due_today: int
    habits_done_today: int
    habits_active: int
    notes_count: int
    receipts_pending: int
    board: strawberry.Private[resolvers.Dashboard]

    @strawberry.field
    async def recent_purchases(self, info: Info, limit: int = 5) -> list[Purchase]:
        found = await resolvers.recent_purchases(info.context, self.board, limit)
        return [Purchase.from_row(row) for row in found]

    @classmethod
    def of(cls, board: resolvers.Dashboard) -> Self:
        figures = board.figures
        return cls(
            spending_this_month=SpendingThisMonth(
                total=quantize(figures.spending_total, board.currency),
                currency=board.currency,
                count=figures.spending_count,
            ),
            open_tasks=figures.open_tasks,
            overdue_tasks=figures.overdue_tasks,
            due_today=figures.due_today,
            habits_done_today=figures.habits_done_today,
            habits_active=figures.habits_active,
            notes_count=figures.notes_count,
            receipts_pending=figures.receipts_pending,
            board=board,
        )


@strawberry.type
class Query:
    @strawberry.field(extensions=requires(SignedIn()))
    async def dashboard(self, info: Info) -> Dashboard:
        return Dashboard.of(await resolvers.dashboard_of(info.context))
