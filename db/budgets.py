"""Monthly budgets per category and currency, and what was spent against them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Select,
    String,
    UniqueConstraint,
    Uuid,
    and_,
    bindparam,
    delete,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, core_rows, created_at, uuid_pk
from db.purchases import Money, Purchase


class Budget(Base):
    __tablename__ = "budgets"
    __table_args__ = (
        UniqueConstraint("user_id", "category", "currency", name="uq_budgets_user_category"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(60))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


@dataclass(frozen=True)
class BudgetRow:
    """A budget with what was spent in its category and currency within a month."""

    id: uuid.UUID
    category: str
    currency: str
    amount: Decimal
    spent: Decimal


def _with_spent() -> Select[uuid.UUID, str, str, Decimal, Decimal]:
    """Every budget of a user with its month's spending, in one statement built once."""
    start = bindparam("month_start", type_=DateTime(timezone=True))
    end = bindparam("month_end", type_=DateTime(timezone=True))
    spent = (
        select(func.coalesce(func.sum(Purchase.amount), 0))
        .where(
            Purchase.user_id == Budget.user_id,
            Purchase.category == Budget.category,
            Purchase.currency == Budget.currency,
            Purchase.purchased_at >= start,
            Purchase.purchased_at < end,
        )
        .correlate(Budget)
        .scalar_subquery()
    )
    return (
        select(Budget.id, Budget.category, Budget.currency, Budget.amount, spent)
        .where(Budget.user_id == bindparam("user_id", type_=Uuid))
        .order_by(Budget.category, Budget.currency)
    )


_WITH_SPENT = _with_spent()
_ONE_WITH_SPENT = _WITH_SPENT.where(Budget.id == bindparam("budget_id", type_=Uuid))


async def with_spent(
    session: AsyncSession, user_id: uuid.UUID, month_start: datetime, month_end: datetime
) -> list[BudgetRow]:
    values = {"user_id": user_id, "month_start": month_start, "month_end": month_end}
    return [_budget_row(row) for row in await core_rows(session, _WITH_SPENT, values)]


async def one_with_spent(
    session: AsyncSession,
    user_id: uuid.UUID,
    budget_id: uuid.UUID,
    month_start: datetime,
    month_end: datetime,
) -> BudgetRow | None:
    """The user's budget of this ID with its month's spending; None for anyone else's."""
    values = {
        "user_id": user_id,
        "budget_id": budget_id,
        "month_start": month_start,
        "month_end": month_end,
    }
    rows = await core_rows(session, _ONE_WITH_SPENT, values)
    return _budget_row(rows[0]) if rows else None


def _budget_row(row: Sequence[Any]) -> BudgetRow:
    return BudgetRow(row[0], row[1], row[2], row[3], Decimal(row[4]))


async def spent_on(
    session: AsyncSession,
    budget: Budget,
    month_start: datetime,
    month_end: datetime,
) -> Decimal:
    total = await session.scalar(
        select(func.coalesce(func.sum(Purchase.amount), 0)).where(
            and_(
                Purchase.user_id == budget.user_id,
                Purchase.category == budget.category,
                Purchase.currency == budget.currency,
                Purchase.purchased_at >= month_start,
                Purchase.purchased_at < month_end,
            )
        )
    )
    return Decimal(total or 0)


async def upsert(
    session: AsyncSession, user_id: uuid.UUID, category: str, currency: str, amount: Decimal
) -> Budget:
    """Creates the budget of the category and currency, or sets its amount."""
    statement = (
        insert(Budget)
        .values(
            id=uuid.uuid4(), user_id=user_id, category=category, currency=currency, amount=amount
        )
        .on_conflict_do_update(
            constraint="uq_budgets_user_category",
            set_={"amount": amount, "updated_at": func.now()},
        )
        .returning(Budget)
        .execution_options(populate_existing=True)
    )
    budget = await session.scalar(statement)
    assert budget is not None
    return budget


async def owned(
    session: AsyncSession, user_id: uuid.UUID, budget_id: uuid.UUID, *, lock: bool = False
) -> Budget | None:
    statement = select(Budget).where(Budget.id == budget_id, Budget.user_id == user_id)
    return await session.scalar(statement.with_for_update() if lock else statement)


async def remove(session: AsyncSession, budget: Budget) -> None:
    await session.execute(delete(Budget).where(Budget.id == budget.id))
