"""Habits: validation, ordering, archiving, check-ins, streaks, and offline sync."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from db import events, habits
from db.events import ActivityKind, Signal
from db.habits import Habit, HabitFrequency
from db.sync import Collection
from resolvers import ids, records, streaks
from resolvers.errors import ErrorCode, Problems, UserErrors

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from resolvers.context import Context
    from schema.habits import CreateHabitInput, UpdateHabitInput

KIND = "habit"
FIELDS = frozenset({"name", "description", "color", "frequency", "targetPerWeek"})
# Pulled with the record so offline clients can show them; changed only by their mutations.
READ_ONLY = frozenset({"archived", "position"})
NOT_FOUND = "No such habit."
NAME_TAKEN = "You have an active habit with this name."
_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")


@dataclass(frozen=True)
class HabitState:
    """A habit with every check-in day and the user's calendar, to compute its figures."""

    row: Habit
    days: Sequence[date]
    today: date
    week_start: int
    timezone: str

    @property
    def streaks(self) -> tuple[int, int]:
        if self.row.frequency is HabitFrequency.DAILY:
            return streaks.daily_streaks(self.days, self.today)
        return streaks.weekly_streaks(
            self.days, self.today, self.week_start, self.row.target_per_week
        )

    def completion_rate(self, window: int) -> float:
        weekly = self.row.frequency is HabitFrequency.WEEKLY
        started = self.row.created_at.astimezone(ZoneInfo(self.timezone)).date()
        return streaks.completion_rate(
            self.days,
            self.today,
            window,
            weekly_target=self.row.target_per_week if weekly else None,
            started=min([started, *self.days[:1]]),
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
    return cleaned


async def create_row(
    session: AsyncSession, user_id: uuid.UUID, record_id: uuid.UUID, cleaned: dict[str, Any]
) -> Habit:
    await habits.lock_names(session, user_id)
    if await habits.name_taken(session, user_id, cleaned["name"]):
        raise UserErrors.one(("input", "name"), NAME_TAKEN, ErrorCode.CONFLICT)
    _daily_means_every_day(cleaned, cleaned["frequency"])
    position = await habits.next_position(session, user_id)
    row = await habits.add(
        session, Habit(id=record_id, user_id=user_id, position=position, **cleaned)
    )
    await records.changed(session, Collection.HABITS, row, ActivityKind.HABIT_CREATED)
    return row


async def update_row(session: AsyncSession, row: Habit, cleaned: dict[str, Any]) -> Habit:
    _daily_means_every_day(cleaned, cleaned.get("frequency", row.frequency))
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
    await habits.remove(session, row)
    await records.changed(session, Collection.HABITS, row, Signal.HABIT_CHANGED, deleted=True)


async def _log(session: AsyncSession, row: Habit) -> None:
    await records.changed(session, Collection.HABITS, row, Signal.HABIT_CHANGED)


def fields_of(row: Habit) -> dict[str, Any]:
    return {
        "name": row.name,
        "description": row.description,
        "color": row.color,
        "frequency": row.frequency.value,
        "targetPerWeek": row.target_per_week,
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


async def check_in(ctx: Context, global_id: str, day: date | None) -> HabitState:
    """Marks a day done (today in the user's time zone by default); doing it twice is fine."""
    principal = await ctx.principal()
    today = ctx.today(principal.timezone)
    day = day or today
    if day > today:
        raise UserErrors.one(("date",), "A check-in cannot be in the future.", ErrorCode.INVALID)
    async with ctx.sessionmaker.begin() as session:
        row = await _locked(session, principal.user_id, global_id)
        if await habits.check_in(session, row.id, day):
            await events.publish(session, row.user_id, ActivityKind.HABIT_CHECKED_IN, row.id)
        days = await habits.days_of(session, [row.id])
    return await _state(ctx, row, days.get(row.id, []))


async def undo_check_in(ctx: Context, global_id: str, day: date) -> HabitState:
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        row = await _locked(session, principal.user_id, global_id)
        if await habits.undo_check_in(session, row.id, day):
            await events.publish(session, row.user_id, Signal.HABIT_CHANGED, row.id)
        days = await habits.days_of(session, [row.id])
    return await _state(ctx, row, days.get(row.id, []))


async def delete(ctx: Context, global_id: str) -> str:
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        await delete_row(session, await _locked(session, principal.user_id, global_id))
    return global_id


async def _state(ctx: Context, row: Habit, days: Sequence[date]) -> HabitState:
    principal = await ctx.principal()
    return HabitState(
        row=row,
        days=list(days),
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
