"""Monthly budgets per category and currency, with what was spent and what remains."""

from __future__ import annotations

from decimal import Decimal
from typing import Self

import strawberry

from auth.permissions import Permission
from resolvers import budgets as resolvers
from resolvers import ids
from resolvers.context import Info
from resolvers.money import quantize
from schema.errors import DeletePayload, Payload, UserError
from schema.node import Node, fetches_node
from schema.permissions import Allowed, requires


@strawberry.type(
    description="A monthly budget of one category in one currency: only purchases in that "
    "currency count against it."
)
class Budget(Node):
    id: strawberry.ID
    category: str
    amount: Decimal
    currency: str
    month: str = strawberry.field(description="YYYY-MM, in your time zone.")
    spent: Decimal = strawberry.field(description="The category's purchases in the month.")
    remaining: Decimal = strawberry.field(description="amount - spent; negative when over.")

    @classmethod
    def of(cls, found: resolvers.BudgetOfMonth) -> Self:
        row, currency = found.row, found.row.currency
        return cls(
            id=strawberry.ID(ids.encode(resolvers.KIND, row.id)),
            category=row.category,
            amount=quantize(row.amount, currency),
            currency=currency,
            month=found.month,
            spent=quantize(row.spent, currency),
            remaining=quantize(row.amount - row.spent, currency),
        )


@fetches_node(resolvers.KIND)
async def _budget_node(info: Info, global_id: str) -> Budget | None:
    found = await resolvers.budget(info.context, global_id)
    return Budget.of(found) if found is not None else None


@strawberry.input
class SetBudgetInput:
    category: str
    amount: Decimal
    currency: str | None = strawberry.field(default=None, description="Default: your currency.")


@strawberry.type
class BudgetPayload(Payload):
    budget: Budget | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: resolvers.BudgetOfMonth) -> Self:
        return cls(budget=Budget.of(result))


@strawberry.type
class Query:
    @strawberry.field(
        extensions=requires(Allowed(Permission.PURCHASES)),
        description="Your budgets with their spending in a month (YYYY-MM; default: this "
        "month in your time zone).",
    )
    async def budgets(self, info: Info, month: str | None = None) -> list[Budget]:
        return [Budget.of(found) for found in await resolvers.budgets_of(info.context, month)]


@strawberry.type
class Mutation:
    @strawberry.mutation(
        extensions=requires(Allowed(Permission.PURCHASES)),
        description="Creates the budget of the category and currency, or sets its amount; "
        "spent and remaining are this month's.",
    )
    async def set_budget(self, info: Info, input: SetBudgetInput) -> BudgetPayload:
        return await BudgetPayload.run(resolvers.set_budget(info.context, input))

    @strawberry.mutation(extensions=requires(Allowed(Permission.PURCHASES)))
    async def delete_budget(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await DeletePayload.run(resolvers.delete_budget(info.context, id))
