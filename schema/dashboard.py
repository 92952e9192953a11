"""The dashboard that widgets show: counts and this month's spending."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from decimal import Decimal
from typing import Self, cast

import strawberry

from auth.permissions import Permission
from db.events import ActivityKind
from resolvers import dashboard as resolvers
from resolvers.context import Info
from resolvers.money import quantize
from schema.budgets import Budget
from schema.permissions import Allowed, SignedIn, requires
from schema.projects import Project
from schema.purchases import CurrencySpending, Purchase, purchases_of
from schema.receipts import Receipt, receipts_of
from schema.selection import selection_of


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
        return await purchases_of(info, found, selection_of(info))

    @strawberry.field(description="This month's purchases per currency, never converted.")
    async def spending_by_currency(self, info: Info) -> list[CurrencySpending]:
        found = await resolvers.spending_by_currency(info.context, self.board)
        return [CurrencySpending.of(bucket) for bucket in found]

    @strawberry.field(description="Your budgets with this month's spending.")
    async def budgets(self, info: Info) -> list[Budget]:
        return [Budget.of(found) for found in await resolvers.budgets_of(info.context, self.board)]

    @strawberry.field(description="Your projects not archived, in your order.")
    async def projects(self, info: Info) -> list[Project]:
        return [Project.of(one) for one in await resolvers.projects_of(info.context, self.board)]

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


strawberry.enum(ActivityKind)


@strawberry.type
class Activity:
    kind: ActivityKind
    entity_id: strawberry.ID
    at: datetime
    summary: str


@strawberry.type
class Subscription:
    @strawberry.subscription(
        extensions=requires(SignedIn()),
        description="The dashboard now, then after every burst of changes that moves it.",
    )
    async def dashboard_updated(self, info: Info) -> AsyncGenerator[Dashboard, None]:
        async for board in resolvers.dashboard_updates(info.context):
            yield Dashboard.of(board)

    @strawberry.subscription(
        extensions=requires(Allowed(Permission.RECEIPTS)),
        description="Every status change of your receipts, with OCR fields once read.",
    )
    async def receipt_updated(self, info: Info) -> AsyncGenerator[Receipt, None]:
        async for row in resolvers.receipt_updates(info.context):
            yield (await receipts_of(info, [row], selection_of(info)))[0]

    @strawberry.subscription(extensions=requires(SignedIn()))
    def activity(
        self, info: Info, kinds: list[ActivityKind] | None = None
    ) -> AsyncIterator[Activity]:
        # The resolver's items have this type's fields: they are sent as they are, with no
        # generator of this layer kept per subscription nor an object made per event.
        items = resolvers.activity(info.context, set(kinds) if kinds else None)
        return cast(AsyncIterator[Activity], items)
