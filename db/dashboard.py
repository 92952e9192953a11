"""The dashboard's figures, in two statements whatever the size of the user's data."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import Base
from db.habits import CheckIn, Habit
from db.notes import Note
from db.purchases import Purchase
from db.receipts import Receipt, ReceiptStatus
from db.tasks import Task, TaskStatus


@dataclass(frozen=True)
class Figures:
    spending_total: Decimal
    spending_count: int
    open_tasks: int
    overdue_tasks: int
    due_today: int
    habits_done_today: int
    habits_active: int
    notes_count: int
    receipts_pending: int


async def figures(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    currency: str,
    month_start: datetime,
    month_end: datetime,
    now: datetime,
    today: date,
    today_start: datetime,
    today_end: datetime,
) -> Figures:
    """Every count in one statement of scalar subqueries, each served by an index."""
    open_task = and_(Task.user_id == user_id, Task.status != TaskStatus.DONE)
    active = and_(Habit.user_id == user_id, Habit.archived.is_(False))
    spending = (
        select(func.coalesce(func.sum(Purchase.amount), 0), func.count())
        .where(
            Purchase.user_id == user_id,
            Purchase.currency == currency,
            Purchase.purchased_at >= month_start,
            Purchase.purchased_at < month_end,
        )
        .subquery()
    )
    pending = Receipt.status.in_([ReceiptStatus.PENDING, ReceiptStatus.PROCESSING])
    done_today = _count(CheckIn, active, CheckIn.day == today).join(
        Habit, Habit.id == CheckIn.habit_id
    )
    statement = select(
        *spending.c,
        _count(Task, open_task).scalar_subquery(),
        _count(Task, open_task, Task.due_at < now).scalar_subquery(),
        _count(
            Task, open_task, Task.due_at >= today_start, Task.due_at < today_end
        ).scalar_subquery(),
        done_today.scalar_subquery(),
        _count(Habit, active).scalar_subquery(),
        _count(Note, Note.user_id == user_id).scalar_subquery(),
        _count(Receipt, Receipt.user_id == user_id, pending).scalar_subquery(),
    )
    row = (await session.execute(statement)).one()
    return Figures(Decimal(row[0]), *(int(value) for value in row[1:]))


def _count(table: type[Base], *where: ColumnElement[bool]) -> Select[int]:
    return select(func.count()).select_from(table).where(*where)


async def recent_purchases(session: AsyncSession, user_id: uuid.UUID, limit: int) -> list[Purchase]:
    rows = await session.scalars(
        select(Purchase)
        .where(Purchase.user_id == user_id)
        .order_by(Purchase.purchased_at.desc(), Purchase.id.desc())
        .limit(limit)
    )
    return list(rows)
