"""Monthly budgets per category and currency: what was spent and what remains, in the
user's calendar. Currencies are never converted: a budget counts only its own."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from db import budgets, events
from db.budgets import BudgetRow
from db.events import Signal
from resolvers import ids
from resolvers.dates import start_of
from resolvers.errors import BadUserInput, ErrorCode, Problems, UserErrors
from resolvers.money import amount_problem, quantize
from resolvers.validation import checked_text, is_currency

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from resolvers.context import Context
    from schema.budgets import SetBudgetInput

KIND = "budget"
NOT_FOUND = "No such budget."
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Month:
    """A calendar month in a time zone: its name and its bounds as instants."""

    name: str
    start: datetime
    end: datetime


def month_of(first: date, timezone: str) -> Month:
    following = (first + timedelta(days=32)).replace(day=1)
    return Month(first.strftime("%Y-%m"), start_of(first, timezone), start_of(following, timezone))


def this_month(now: datetime, timezone: str) -> Month:
    return month_of(now.astimezone(ZoneInfo(timezone)).date().replace(day=1), timezone)


def parse_month(value: str, timezone: str) -> Month:
    match = _MONTH.match(value)
    if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
        raise BadUserInput("'month' must be a month such as '2026-11'.")
    return month_of(date(int(match[1]), int(match[2]), 1), timezone)


@dataclass(frozen=True)
class BudgetOfMonth:
    row: BudgetRow
    month: str


async def budgets_of(ctx: Context, month: str | None) -> list[BudgetOfMonth]:
    principal = await ctx.principal()
    tz = principal.timezone
    span = this_month(ctx.services.clock(), tz) if month is None else parse_month(month, tz)
    async with ctx.sessionmaker() as session:
        found = await budgets.with_spent(session, principal.user_id, span.start, span.end)
    return [BudgetOfMonth(row, span.name) for row in found]


async def budget(ctx: Context, global_id: str) -> BudgetOfMonth | None:
    """The user's budget of this global ID with this month's spending; None for anyone
    else's."""
    principal = await ctx.principal()
    budget_id = ids.decode_as(KIND, global_id)
    if budget_id is None:
        return None
    span = this_month(ctx.services.clock(), principal.timezone)
    async with ctx.sessionmaker() as session:
        found = await budgets.one_with_spent(
            session, principal.user_id, budget_id, span.start, span.end
        )
    return BudgetOfMonth(found, span.name) if found is not None else None


async def set_budget(ctx: Context, data: SetBudgetInput) -> BudgetOfMonth:
    """Creates the budget of the category and currency, or sets its amount."""
    principal = await ctx.principal()
    problems = Problems()
    category = checked_text(
        data.category, ("input", "category"), problems, min_length=1, max_length=60
    )
    currency = (data.currency or principal.currency).strip().upper()
    if not is_currency(currency):
        problems.add(("input", "currency"), "Use an ISO 4217 currency code such as 'EUR'.")
    elif problem := amount_problem(data.amount, currency, allow_zero=False):
        problems.add(("input", "amount"), problem)
    problems.raise_if_any()
    span = this_month(ctx.services.clock(), principal.timezone)
    amount = quantize(data.amount, currency)
    async with ctx.sessionmaker.begin() as session:
        row = await budgets.upsert(session, principal.user_id, category, currency, amount)
        spent = await budgets.spent_on(session, row, span.start, span.end)
        await events.publish(session, principal.user_id, Signal.BUDGET_CHANGED, row.id)
    found = BudgetRow(row.id, row.category, row.currency, row.amount, spent)
    return BudgetOfMonth(found, span.name)


async def delete_budget(ctx: Context, global_id: str) -> str:
    principal = await ctx.principal()
    budget_id = ids.decode_as(KIND, global_id)
    async with ctx.sessionmaker.begin() as session:
        row = await _owned(session, principal.user_id, budget_id)
        await budgets.remove(session, row)
        await events.publish(session, principal.user_id, Signal.BUDGET_CHANGED, row.id)
    return global_id


async def _owned(
    session: AsyncSession, user_id: uuid.UUID, budget_id: uuid.UUID | None
) -> budgets.Budget:
    row = await budgets.owned(session, user_id, budget_id, lock=True) if budget_id else None
    if row is None:
        raise UserErrors.one(("id",), NOT_FOUND, ErrorCode.NOT_FOUND)
    return row
