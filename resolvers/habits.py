"""Habits: validation, ordering, archiving, check-ins, streaks, and offline sync."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from db import events, habits, sync
from db.events import ActivityKind, EventKind, Signal
from db.habits import Day, Entry, Habit, HabitFrequency
from db.sync import Collection
from resolvers import ids, records, streaks
from resolvers.errors import ErrorCode, Problems, UserErrors

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from resolvers.context import Context
    from schema.habits import CreateHabitInput, UpdateHabitInput

KIND = "habit"
FIELDS = frozenset(
    {"name", "description", "color", "frequency", "targetPerWeek", "daysOfWeek", "target", "unit"}
)
# Pulled with the record so offline clients can show them; changed only by their mutations.
READ_ONLY = frozenset({"archived", "position"})
NOT_FOUND = "No such habit."
NAME_TAKEN = "You have an active habit with this name."
_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")


@dataclass(frozen=True)
class HabitState:
    """A habit with every checked-in or skipped day and the user's calendar, to compute
    its figures."""

    row: Habit
    entries: Sequence[Day]
    today: date
    week_start: int
    timezone: str

    @property
    def schedule(self) -> streaks.Schedule:
        return schedule_of(self.row)

    @property
    def days(self) -> list[date]:
        """The days done: checked in (reaching the target, for a measurable habit)."""
        return self.schedule.done_days(self.entries)

    @property
    def started(self) -> date:
        return self.row.created_at.astimezone(ZoneInfo(self.timezone)).date()

    @property
    def done_today(self) -> bool:
        return self.today in self.days

    @property
    def streaks(self) -> tuple[int, int]:
        if self.row.frequency is HabitFrequency.DAILY:
            return streaks.chosen_day_streaks(self.schedule, self.entries, self.today)
        return streaks.weekly_streaks(
            self.days, self.today, self.week_start, self.row.target_per_week
        )

    @property
    def score(self) -> float:
        return streaks.score(self.schedule, self.entries, self.today)

    def completion_rate(self, window: int) -> float:
        weekly = self.row.frequency is HabitFrequency.WEEKLY
        schedule = self.schedule
        skipped = {e.day for e in self.entries if e.skipped}
        return streaks.completion_rate(
            [d for d in self.days if schedule.scheduled(d)],
            self.today,
            window,
            weekly_target=self.row.target_per_week if weekly else None,
            started=min([self.started, *(e.day for e in self.entries[:1])]),
            counted=lambda day: schedule.scheduled(day) and day not in skipped,
        )


def due_undone(row: Habit, entries: Sequence[Day], day: date) -> bool:
    """Due on the day and not done yet, as the API's doneToday has it: the daily digest
    lists these; an unscheduled or skipped day is not due."""
    schedule = schedule_of(row)
    entry = next((e for e in entries if e.day == day), None)
    if not schedule.scheduled(day) or (entry is not None and entry.skipped):
        return False
    return day not in schedule.done_days(entries)


def schedule_of(row: Habit) -> streaks.Schedule:
    weekly = row.frequency is HabitFrequency.WEEKLY
    return streaks.Schedule(
        weekly_target=row.target_per_week if weekly else None,
        days_of_week=frozenset(row.days_of_week) if row.days_of_week else None,
        target=row.target,
    )


def clean(
    values: Mapping[str, Any], problems: Problems, path: records.Path, *, creating: bool
) -> dict[str, Any]:
    records.unknown_fields(values, FIELDS | READ_ONLY | {"id"}, problems, path)
    cleaned: dict[str, Any] = {}
    if creating or "name" in values:
        cleaned["name"] = records.text(values, "name", problems, path, minimum=2, limit=60)
    if "description" in values:
        cleaned["description"] = records.text(
            values, "description", problems, path, limit=300, nullable=True
        )
    if "color" in values:
        color = values.get("color")
        if color is not None and not (isinstance(color, str) and _COLOR.fullmatch(color)):
            problems.add((*path, "color"), "Use a colour like '#3FA34D'.")
        cleaned["color"] = color.upper() if isinstance(color, str) else None
    if creating or values.get("frequency") is not None:
        given = {"frequency": values.get("frequency") or HabitFrequency.DAILY.value}
        cleaned["frequency"] = records.choice(given, "frequency", HabitFrequency, problems, path)
    if values.get("targetPerWeek") is not None:
        cleaned["target_per_week"] = records.whole(
            values, "targetPerWeek", problems, path, low=1, high=7
        )
    elif cleaned.get("frequency") is HabitFrequency.DAILY or creating:
        cleaned["target_per_week"] = 7
    if "daysOfWeek" in values:
        cleaned["days_of_week"] = _weekdays(values["daysOfWeek"], problems, (*path, "daysOfWeek"))
    if "target" in values:
        cleaned["target"] = positive_amount(
            values["target"], problems, (*path, "target"), nullable=True
        )
    if "unit" in values:
        cleaned["unit"] = records.text(values, "unit", problems, path, limit=30, nullable=True)
    return cleaned


def _weekdays(given: object, problems: Problems, path: records.Path) -> list[int] | None:
    if given is None:
        return None
    if not isinstance(given, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) for d in given
    ):
        problems.add(path, "Give ISO weekdays, 1 = Monday to 7 = Sunday.")
        return None
    if not given:
        problems.add(path, "Choose at least one day.")
    elif any(not 1 <= d <= 7 for d in given):
        problems.add(path, "Weekdays go from 1 = Monday to 7 = Sunday.")
    elif len(set(given)) != len(given):
        problems.add(path, "Give each weekday once.")
    return sorted(given)


def positive_amount(
    given: object, problems: Problems, path: records.Path, *, nullable: bool = False
) -> Decimal | None:
    """A positive amount with at most two decimals (JSON numbers and strings too)."""
    if given is None and nullable:
        return None
    try:
        amount = Decimal(str(given)) if isinstance(given, int | float | str | Decimal) else None
    except InvalidOperation:
        amount = None
    if isinstance(given, bool) or amount is None or not amount.is_finite():
        problems.add(path, "Give a number.")
        return None
    if amount <= 0 or amount >= Decimal("1e10") or amount != round(amount, 2):
        problems.add(path, "Give an amount above 0 with at most two decimals.")
        return None
    return amount


def _consistent(
    frequency: HabitFrequency,
    days_of_week: list[int] | None,
    target: Decimal | None,
    unit: str | None,
) -> None:
    """The rules between fields, on the habit as it would be after the change."""
    problems = Problems()
    if days_of_week and frequency is HabitFrequency.WEEKLY:
        problems.add(("input", "daysOfWeek"), "Chosen weekdays go with a DAILY habit.")
    if target is not None and not unit:
        problems.add(("input", "unit"), "A target needs a unit, like 'glasses'.")
    if unit and target is None:
        problems.add(("input", "target"), "A unit needs a target.")
    problems.raise_if_any()


async def create_row(
    session: AsyncSession, user_id: uuid.UUID, record_id: uuid.UUID, cleaned: dict[str, Any]
) -> Habit:
    await habits.lock_names(session, user_id)
    if await habits.name_taken(session, user_id, cleaned["name"]):
        raise UserErrors.one(("input", "name"), NAME_TAKEN, ErrorCode.CONFLICT)
    _daily_means_every_day(cleaned, cleaned["frequency"])
    _consistent(
        cleaned["frequency"],
        cleaned.get("days_of_week"),
        cleaned.get("target"),
        cleaned.get("unit"),
    )
    position = await habits.next_position(session, user_id)
    row = await habits.add(
        session, Habit(id=record_id, user_id=user_id, position=position, **cleaned)
    )
    await records.changed(session, Collection.HABITS, row, ActivityKind.HABIT_CREATED)
    return row


async def update_row(session: AsyncSession, row: Habit, cleaned: dict[str, Any]) -> Habit:
    _daily_means_every_day(cleaned, cleaned.get("frequency", row.frequency))
    _consistent(
        cleaned.get("frequency", row.frequency),
        cleaned.get("days_of_week", row.days_of_week),
        cleaned.get("target", row.target),
        cleaned.get("unit", row.unit),
    )
    name = cleaned.get("name")
    if name:
        await habits.lock_names(session, row.user_id)
    if (
        name
        and not row.archived
        and await habits.name_taken(session, row.user_id, name, besides=row.id)
    ):
        raise UserErrors.one(("input", "name"), NAME_TAKEN, ErrorCode.CONFLICT)
    row = await habits.save(session, row, **cleaned)
    await _log(session, row)
    return row


def _daily_means_every_day(cleaned: dict[str, Any], frequency: HabitFrequency) -> None:
    """A daily habit's target is every day; a weekly one keeps what it was given."""
    if frequency is HabitFrequency.DAILY:
        cleaned["target_per_week"] = 7


async def delete_row(session: AsyncSession, row: Habit) -> None:
    """Deletes the habit with its days, each day leaving its sync tombstone."""
    for entry in await habits.remove(session, row):
        await day_changed(session, row, entry, None, deleted=True)
    await records.changed(session, Collection.HABITS, row, Signal.HABIT_CHANGED, deleted=True)


async def day_changed(
    session: AsyncSession,
    habit: Habit,
    entry: Entry,
    kind: EventKind | None,
    *,
    deleted: bool = False,
) -> None:
    """Notes a change of one of the habit's days for pulls (``CHECK_INS``) and, unless
    ``kind`` is None, for live dashboards."""
    await sync.record(
        session,
        collection=Collection.CHECK_INS,
        record_id=entry.id,
        user_id=habit.user_id,
        version=entry.version + 1 if deleted else entry.version,
        deleted=deleted,
    )
    if kind is not None:
        await events.publish(session, habit.user_id, kind, habit.id)


async def _log(session: AsyncSession, row: Habit) -> None:
    await records.changed(session, Collection.HABITS, row, Signal.HABIT_CHANGED)


def fields_of(row: Habit) -> dict[str, Any]:
    return {
        "name": row.name,
        "description": row.description,
        "color": row.color,
        "frequency": row.frequency.value,
        "targetPerWeek": row.target_per_week,
        "daysOfWeek": list(row.days_of_week) if row.days_of_week else None,
        "target": str(row.target) if row.target is not None else None,
        "unit": row.unit,
        "archived": row.archived,
        "position": row.position,
    }


async def habit_list(ctx: Context, include_archived: bool) -> list[HabitState]:
    """The user's habits in their order, with every check-in: two statements in all."""
    principal = await ctx.principal()
    async with ctx.sessionmaker() as session:
        rows = await habits.owned_all(session, principal.user_id, include_archived=include_archived)
        days = await habits.days_of(session, [row.id for row in rows])
    return [await _state(ctx, row, days.get(row.id, [])) for row in rows]


async def habit(ctx: Context, global_id: str) -> HabitState | None:
    row = await records.read(ctx, global_id, KIND, habits.owned)
    if row is None:
        return None
    async with ctx.sessionmaker() as session:
        days = await habits.days_of(session, [row.id])
    return await _state(ctx, row, days.get(row.id, []))


async def create(ctx: Context, data: CreateHabitInput) -> HabitState:
    principal = await ctx.principal()
    record_id, cleaned = records.creation(KIND, data, clean)
    async with _unique_names(), ctx.sessionmaker.begin() as session:
        await records.ensure_new(session, Collection.HABITS, record_id, "habit")
        row = await create_row(session, principal.user_id, record_id, cleaned)
    return await _state(ctx, row, [])


async def update(ctx: Context, global_id: str, data: UpdateHabitInput) -> HabitState:
    principal = await ctx.principal()
    cleaned = records.changes(data, clean)
    async with _unique_names(), ctx.sessionmaker.begin() as session:
        row = await update_row(
            session, await _locked(session, principal.user_id, global_id), cleaned
        )
        days = await habits.days_of(session, [row.id])
    return await _state(ctx, row, days.get(row.id, []))


async def archive(ctx: Context, global_id: str, archived: bool) -> HabitState:
    principal = await ctx.principal()
    async with _unique_names(("id",)), ctx.sessionmaker.begin() as session:
        row = await _locked(session, principal.user_id, global_id)
        if (
            row.archived
            and not archived
            and await habits.name_taken(session, row.user_id, row.name)
        ):
            raise UserErrors.one(("id",), NAME_TAKEN, ErrorCode.CONFLICT)
        if row.archived != archived:
            row = await habits.save(session, row, archived=archived)
            await _log(session, row)
        days = await habits.days_of(session, [row.id])
    return await _state(ctx, row, days.get(row.id, []))


async def reorder(ctx: Context, global_ids: Sequence[str]) -> list[HabitState]:
    """Sets the order of all the user's habits, archived ones too; each must appear once."""
    principal = await ctx.principal()
    wanted = [ids.decode_as(KIND, global_id) for global_id in global_ids]
    async with ctx.sessionmaker.begin() as session:
        rows = await habits.owned_all(session, principal.user_id, include_archived=True, lock=True)
        if sorted(map(str, wanted)) != sorted(str(row.id) for row in rows):
            raise UserErrors.one(
                ("ids",),
                "List each of your habits once, archived ones included.",
                ErrorCode.INVALID,
            )
        order = [w for w in wanted if w is not None]
        by_id = {row.id: row for row in rows}
        moved = [
            by_id[habit_id] for i, habit_id in enumerate(order) if by_id[habit_id].position != i
        ]
        await habits.set_positions(session, order)
        for row in moved:
            await session.refresh(row)
            await _log(session, row)
    return await habit_list(ctx, include_archived=True)


async def check_in(
    ctx: Context, global_id: str, day: date | None, value: Decimal | None = None
) -> HabitState:
    """Marks a day done (today in the user's time zone by default); doing it twice is fine.
    For a measurable habit the day's values add up (1 when none is given); a plain habit
    takes no value."""
    principal = await ctx.principal()
    today = ctx.today(principal.timezone)
    day = day or today
    problems = Problems()
    if day > today:
        problems.add(("date",), "A check-in cannot be in the future.")
    if value is not None:
        value = positive_amount(value, problems, ("value",))
    problems.raise_if_any()
    async with ctx.sessionmaker.begin() as session:
        row = await _locked(session, principal.user_id, global_id)
        if row.target is None and value is not None:
            raise UserErrors.one(
                ("value",), "This habit has no target: check in without a value.", ErrorCode.INVALID
            )
        amount = (value or Decimal(1)) if row.target is not None else None
        if entry := await habits.check_in(session, row.id, day, amount):
            await day_changed(session, row, entry, ActivityKind.HABIT_CHECKED_IN)
        days = await habits.days_of(session, [row.id])
    return await _state(ctx, row, days.get(row.id, []))


async def skip_day(ctx: Context, global_id: str, day: date) -> HabitState:
    """Skips a scheduled day: it neither breaks nor extends a streak; what was checked in
    on it is dropped. Undone with undoCheckIn."""
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        row = await _locked(session, principal.user_id, global_id)
        if not schedule_of(row).scheduled(day):
            raise UserErrors.one(
                ("date",), "This habit is not scheduled on that day.", ErrorCode.INVALID
            )
        if entry := await habits.skip(session, row.id, day):
            await day_changed(session, row, entry, Signal.HABIT_CHANGED)
        days = await habits.days_of(session, [row.id])
    return await _state(ctx, row, days.get(row.id, []))


async def undo_check_in(ctx: Context, global_id: str, day: date) -> HabitState:
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        row = await _locked(session, principal.user_id, global_id)
        if entry := await habits.undo_check_in(session, row.id, day):
            await day_changed(session, row, entry, Signal.HABIT_CHANGED, deleted=True)
        days = await habits.days_of(session, [row.id])
    return await _state(ctx, row, days.get(row.id, []))


async def delete(ctx: Context, global_id: str) -> str:
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        await delete_row(session, await _locked(session, principal.user_id, global_id))
    return global_id


async def _state(ctx: Context, row: Habit, entries: Sequence[Day]) -> HabitState:
    principal = await ctx.principal()
    return HabitState(
        row=row,
        entries=list(entries),
        today=ctx.today(principal.timezone),
        week_start=principal.week_start,
        timezone=principal.timezone,
    )


async def _locked(session: AsyncSession, user_id: uuid.UUID, global_id: str) -> Habit:
    return await records.locked(session, user_id, global_id, KIND, habits.owned, NOT_FOUND)


@contextlib.asynccontextmanager
async def _unique_names(field: records.Path = ("input", "name")) -> AsyncIterator[None]:
    """Two requests giving the same name at once: the unique index decides, as CONFLICT."""
    try:
        yield
    except IntegrityError as error:
        if "uq_habits_active_name" not in str(error):
            raise
        raise UserErrors.one(field, NAME_TAKEN, ErrorCode.CONFLICT) from error
