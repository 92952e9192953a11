"""Habits and their check-ins: one row per calendar day in the user's time zone, whose
value is the sum of that day's entries (measurable habits), or marks the day skipped."""

from __future__ import annotations

import enum
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Enum,
    ForeignKey,
    Index,
    Numeric,
    Select,
    SmallInteger,
    String,
    delete,
    false,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, created_at


class HabitFrequency(enum.StrEnum):
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"


class Habit(Base):
    __tablename__ = "habits"
    __table_args__ = (
        Index(
            "uq_habits_active_name",
            "user_id",
            text("lower(name)"),
            unique=True,
            postgresql_where=text("NOT archived"),
        ),
        Index("ix_habits_user_position", "user_id", "position"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(60))
    description: Mapped[str | None] = mapped_column(String(300))
    color: Mapped[str | None] = mapped_column(String(7))
    frequency: Mapped[HabitFrequency] = mapped_column(Enum(HabitFrequency, name="habit_frequency"))
    target_per_week: Mapped[int] = mapped_column(default=7)
    days_of_week: Mapped[list[int] | None] = mapped_column(ARRAY(SmallInteger))
    target: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    unit: Mapped[str | None] = mapped_column(String(30))
    archived: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class CheckIn(Base):
    __tablename__ = "habit_check_ins"

    habit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("habits.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(
        default=uuid.uuid4, server_default=func.gen_random_uuid(), unique=True
    )
    """The day's record in offline sync (``checkin_<uuid>``), minted by the server or a
    client."""
    value: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    skipped: Mapped[bool] = mapped_column(default=False, server_default=false())
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime] = created_at()


async def owned_all(
    session: AsyncSession, user_id: uuid.UUID, *, include_archived: bool, lock: bool = False
) -> list[Habit]:
    statement = select(Habit).where(Habit.user_id == user_id)
    if not include_archived:
        statement = statement.where(Habit.archived.is_(False))
    statement = statement.order_by(Habit.position, Habit.created_at, Habit.id)
    return list(await session.scalars(statement.with_for_update() if lock else statement))


async def owned(
    session: AsyncSession, user_id: uuid.UUID, record_id: uuid.UUID, *, lock: bool = False
) -> Habit | None:
    statement = select(Habit).where(Habit.id == record_id, Habit.user_id == user_id)
    return await session.scalar(statement.with_for_update() if lock else statement)


async def owned_many(
    session: AsyncSession, user_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Habit]:
    rows = await session.scalars(select(Habit).where(Habit.id.in_(ids), Habit.user_id == user_id))
    return {row.id: row for row in rows}


async def name_taken(
    session: AsyncSession, user_id: uuid.UUID, name: str, *, besides: uuid.UUID | None = None
) -> bool:
    statement = select(Habit.id).where(
        Habit.user_id == user_id,
        func.lower(Habit.name) == name.lower(),
        Habit.archived.is_(False),
    )
    if besides is not None:
        statement = statement.where(Habit.id != besides)
    return await session.scalar(statement.limit(1)) is not None


async def lock_names(session: AsyncSession, user_id: uuid.UUID) -> None:
    """Serialises name changes of one user's habits until the transaction ends, so a name
    check sees what a concurrent writer just committed."""
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(f"habit names {user_id}", 0)))
    )


async def next_position(session: AsyncSession, user_id: uuid.UUID) -> int:
    highest = await session.scalar(select(func.max(Habit.position)).where(Habit.user_id == user_id))
    return 0 if highest is None else highest + 1


async def add(session: AsyncSession, habit: Habit) -> Habit:
    session.add(habit)
    await session.flush()
    await session.refresh(habit)
    return habit


async def save(session: AsyncSession, habit: Habit, **values: Any) -> Habit:
    for name, value in values.items():
        setattr(habit, name, value)
    habit.version += 1
    await session.flush()
    await session.refresh(habit)
    return habit


async def set_positions(session: AsyncSession, order: Sequence[uuid.UUID]) -> None:
    for position, habit_id in enumerate(order):
        await session.execute(
            update(Habit)
            .where(Habit.id == habit_id, Habit.position != position)
            .values(position=position, version=Habit.version + 1)
        )


async def get(session: AsyncSession, habit_id: uuid.UUID) -> Habit | None:
    return await session.get(Habit, habit_id)


@dataclass(frozen=True)
class Entry:
    """A day's check-in as the sync log notes it."""

    id: uuid.UUID
    version: int


async def remove(session: AsyncSession, habit: Habit) -> list[Entry]:
    """Deletes the habit with its days; the days deleted."""
    removed = await session.execute(
        delete(CheckIn).where(CheckIn.habit_id == habit.id).returning(CheckIn.id, CheckIn.version)
    )
    entries = [Entry(entry_id, version) for entry_id, version in removed]
    await session.execute(delete(Habit).where(Habit.id == habit.id))
    return entries


@dataclass(frozen=True)
class Day:
    """One day of a habit: its summed value (None for a plain check-in), or skipped."""

    day: date
    value: Decimal | None
    skipped: bool


async def check_in(
    session: AsyncSession, habit_id: uuid.UUID, day: date, value: Decimal | None
) -> Entry | None:
    """Adds the value to the day's sum (a skip of that day is undone); the day's entry
    when it changed."""
    statement = insert(CheckIn).values(habit_id=habit_id, day=day, value=value, skipped=False)
    changed = await session.execute(
        statement.on_conflict_do_update(
            index_elements=[CheckIn.habit_id, CheckIn.day],
            set_={
                "value": func.coalesce(CheckIn.value, 0) + statement.excluded.value
                if value is not None
                else None,
                "skipped": False,
                "version": CheckIn.version + 1,
            },
            where=(CheckIn.skipped.is_(True)) if value is None else None,
        ).returning(CheckIn.id, CheckIn.version)
    )
    return _entry(changed.first())


async def skip(session: AsyncSession, habit_id: uuid.UUID, day: date) -> Entry | None:
    """Marks the day skipped, dropping what was checked in on it; its entry when it
    changed."""
    changed = await session.execute(
        insert(CheckIn)
        .values(habit_id=habit_id, day=day, value=None, skipped=True)
        .on_conflict_do_update(
            index_elements=[CheckIn.habit_id, CheckIn.day],
            set_={"value": None, "skipped": True, "version": CheckIn.version + 1},
            where=CheckIn.skipped.is_(False),
        )
        .returning(CheckIn.id, CheckIn.version)
    )
    return _entry(changed.first())


async def undo_check_in(session: AsyncSession, habit_id: uuid.UUID, day: date) -> Entry | None:
    removed = await session.execute(
        delete(CheckIn)
        .where(CheckIn.habit_id == habit_id, CheckIn.day == day)
        .returning(CheckIn.id, CheckIn.version)
    )
    return _entry(removed.first())


def _entry(row: Any) -> Entry | None:
    return Entry(row[0], row[1]) if row is not None else None


def _owned_check_ins(user_id: uuid.UUID) -> Select[CheckIn]:
    return select(CheckIn).join(Habit, Habit.id == CheckIn.habit_id).where(Habit.user_id == user_id)


async def owned_check_in(
    session: AsyncSession, user_id: uuid.UUID, record_id: uuid.UUID, *, lock: bool = False
) -> CheckIn | None:
    """The user's check-in of this ID; locked with its habit, as check-in mutations lock."""
    statement = _owned_check_ins(user_id).where(CheckIn.id == record_id)
    return await session.scalar(statement.with_for_update() if lock else statement)


async def owned_check_ins(
    session: AsyncSession, user_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, CheckIn]:
    rows = await session.scalars(_owned_check_ins(user_id).where(CheckIn.id.in_(ids)))
    return {row.id: row for row in rows}


async def check_in_on(session: AsyncSession, habit_id: uuid.UUID, day: date) -> CheckIn | None:
    statement = select(CheckIn).where(CheckIn.habit_id == habit_id, CheckIn.day == day)
    return await session.scalar(statement.with_for_update())


async def add_check_in(session: AsyncSession, entry: CheckIn) -> CheckIn:
    session.add(entry)
    await session.flush()
    await session.refresh(entry)
    return entry


async def save_check_in(session: AsyncSession, entry: CheckIn, **values: Any) -> CheckIn:
    for name, value in values.items():
        setattr(entry, name, value)
    entry.version += 1
    await session.flush()
    return entry


async def remove_check_in(session: AsyncSession, entry: CheckIn) -> None:
    await session.execute(delete(CheckIn).where(CheckIn.id == entry.id))


async def days_of(
    session: AsyncSession, habit_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Day]]:
    """Every day of these habits with a check-in or a skip, oldest first, in one statement."""
    rows = await session.execute(
        select(CheckIn.habit_id, CheckIn.day, CheckIn.value, CheckIn.skipped)
        .where(CheckIn.habit_id.in_(habit_ids))
        .order_by(CheckIn.habit_id, CheckIn.day)
    )
    grouped: dict[uuid.UUID, list[Day]] = defaultdict(list)
    for habit_id, day, value, skipped in rows:
        grouped[habit_id].append(Day(day, value, skipped))
    return grouped
