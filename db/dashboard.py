"""The dashboard's figures, in two statements whatever the size of the user's data."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    Integer,
    Select,
    String,
    Uuid,
    and_,
    bindparam,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from db.base import Base, core_rows
from db.habits import CheckIn, Habit
from db.notes import Note
from db.purchases import LISTED, Purchase, PurchaseRow
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


def _figures_statement() -> Select[Any]:
    """Every count in one statement of scalar subqueries, each served by an index; built
    once (every dashboard runs it, and a built statement keeps its cache key)."""
    user_id = bindparam("user_id", type_=Uuid)
    open_task = and_(Task.user_id == user_id, Task.status != TaskStatus.DONE)
    active = and_(Habit.user_id == user_id, Habit.archived.is_(False))
    spending = (
        select(func.coalesce(func.sum(Purchase.amount), 0), func.count())
        .where(
            Purchase.user_id == user_id,
            Purchase.currency == bindparam("currency", type_=String),
            Purchase.purchased_at >= bindparam("month_start", type_=DateTime(timezone=True)),
            Purchase.purchased_at < bindparam("month_end", type_=DateTime(timezone=True)),
        )
        .subquery()
    )
    pending = Receipt.status.in_([ReceiptStatus.PENDING, ReceiptStatus.PROCESSING])
    now = bindparam("now", type_=DateTime(timezone=True))
    today_start = bindparam("today_start", type_=DateTime(timezone=True))
    today_end = bindparam("today_end", type_=DateTime(timezone=True))
    # Done as the API's doneToday has it: not a skip, and the target reached if measurable.
    reached = or_(Habit.target.is_(None), CheckIn.value.is_(None), CheckIn.value >= Habit.target)
    done_today = _count(
        CheckIn,
        active,
        CheckIn.day == bindparam("today", type_=Date),
        CheckIn.skipped.is_(False),
        reached,
    ).join(Habit, Habit.id == CheckIn.habit_id)
    return select(
        *spending.c,
        _count(Task, open_task).scalar_subquery(),
        _count(Task, open_task, Task.due_at < now).scalar_subquery(),
        _count(
            Task, open_task, Task.due_at >= today_start, Task.due_at < today_end
        ).scalar_subquery(),
        done_today.scalar_subquery(),
        _count(Habit, active).scalar_subquery(),
        _count(Note, Note.user_id == user_id, Note.archived.is_(False)).scalar_subquery(),
        _count(Receipt, Receipt.user_id == user_id, pending).scalar_subquery(),
    )


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
    values = {
        "user_id": user_id,
        "currency": currency,
        "month_start": month_start,
        "month_end": month_end,
        "now": now,
        "today": today,
        "today_start": today_start,
        "today_end": today_end,
    }
    [row] = await core_rows(session, _FIGURES, values)
    return Figures(Decimal(row[0]), *(int(value) for value in row[1:]))


def _count(table: type[Base], *where: ColumnElement[bool]) -> Select[int]:
    return select(func.count()).select_from(table).where(*where)


_FIGURES = _figures_statement()


_RECENT = (
    select(*LISTED)
    .where(Purchase.user_id == bindparam("user_id", type_=Uuid))
    .order_by(Purchase.purchased_at.desc(), Purchase.id.desc())
    .limit(bindparam("limit", type_=Integer))
)


async def recent_purchases(
    session: AsyncSession, user_id: uuid.UUID, limit: int
) -> list[PurchaseRow]:
    """The newest purchases: plain rows, by a statement built once."""
    rows = await core_rows(session, _RECENT, {"user_id": user_id, "limit": limit})
    return [cast("PurchaseRow", row) for row in rows]
