"""Habit check-ins as records of offline sync (``checkin_<uuid>``): one per habit and day
of the user's calendar, holding the day's value for a measurable habit, or skipped.

The check-in mutations keep their meaning (a value adds to the day's sum); a pushed
record holds the day as the device last saw it, so its value replaces the day's. Two
devices may check in the same day offline, each minting its own record: the second to
push is added to the first (values sum, a check-in outweighs a skip), so no device's
check-in is lost, and its own ID is deleted."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from db import habits as habit_rows
from db.events import ActivityKind, Signal
from db.habits import CheckIn, Entry, Habit
from resolvers import habits, ids, records
from resolvers.errors import ErrorCode, Problems, UserErrors

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

KIND = "checkin"
FIELDS = frozenset({"habitId", "date", "value", "skipped"})
FUTURE = "A check-in cannot be in the future."
FIXED = "A check-in keeps its habit and day: delete it and check in anew."


def clean(
    values: Mapping[str, Any],
    problems: Problems,
    path: records.Path,
    *,
    creating: bool,
    today: date,
) -> dict[str, Any]:
    records.unknown_fields(values, FIELDS | {"id"}, problems, path)
    cleaned: dict[str, Any] = {}
    if creating or "habitId" in values:
        given = values.get("habitId")
        habit_id = ids.decode_as(habits.KIND, given) if isinstance(given, str) else None
        if habit_id is None:
            problems.add((*path, "habitId"), habits.NOT_FOUND, ErrorCode.NOT_FOUND)
        cleaned["habit_id"] = habit_id
    if creating or "date" in values:
        day = records.day(values, "date", problems, path)
        if day is not None and day > today:
            problems.add((*path, "date"), FUTURE)
        cleaned["day"] = day
    if values.get("skipped") is not None:
        cleaned["skipped"] = records.flag(values, "skipped", problems, path)
    elif creating:
        cleaned["skipped"] = False
    if "value" in values:
        cleaned["value"] = habits.positive_amount(
            values["value"], problems, (*path, "value"), nullable=True
        )
    return cleaned


def _checked(habit: Habit, day: date, value: Decimal | None, skipped: bool) -> Decimal | None:
    """The day's value once the habit's rules hold (a measurable day checked in without
    one counts 1, as the mutation does); UserErrors otherwise."""
    problems = Problems()
    if skipped and not habits.schedule_of(habit).scheduled(day):
        problems.add(("input", "date"), "This habit is not scheduled on that day.")
    if skipped and value is not None:
        problems.add(("input", "value"), "A skipped day holds no value.")
    elif habit.target is None and value is not None:
        problems.add(("input", "value"), "This habit has no target: check in without a value.")
    problems.raise_if_any()
    if habit.target is not None and not skipped:
        return value if value is not None else Decimal(1)
    return None


async def create_row(
    session: AsyncSession, user_id: uuid.UUID, record_id: uuid.UUID, cleaned: dict[str, Any]
) -> CheckIn:
    """The new day, or the day the server holds already with this one added to it."""
    habit = await habit_rows.owned(session, user_id, cleaned["habit_id"], lock=True)
    if habit is None:
        raise UserErrors.one(("input", "habitId"), habits.NOT_FOUND, ErrorCode.NOT_FOUND)
    day, skipped = cleaned["day"], cleaned["skipped"]
    value = _checked(habit, day, cleaned.get("value"), skipped)
    held = await habit_rows.check_in_on(session, habit.id, day)
    if held is None:
        row = await habit_rows.add_check_in(
            session, CheckIn(id=record_id, habit_id=habit.id, day=day, value=value, skipped=skipped)
        )
    elif skipped or (held.value is None and not held.skipped):
        return held  # a skip adds nothing to a day; a plain day done is done
    else:
        total = (
            (held.value or Decimal(0)) + value if value is not None and not held.skipped else value
        )
        row = await habit_rows.save_check_in(session, held, value=total, skipped=False)
    await _logged(
        session, habit, row, ActivityKind.HABIT_CHECKED_IN if not skipped else Signal.HABIT_CHANGED
    )
    return row


async def update_row(session: AsyncSession, row: CheckIn, cleaned: dict[str, Any]) -> CheckIn:
    habit = await habit_rows.get(session, row.habit_id)
    assert habit is not None  # the check-in was found through its habit
    problems = Problems()
    for column, field in (("habit_id", "habitId"), ("day", "date")):
        if column in cleaned and cleaned[column] != getattr(row, column):
            problems.add(("input", field), FIXED)
    problems.raise_if_any()
    skipped = cleaned.get("skipped", row.skipped)
    value = _checked(habit, row.day, cleaned.get("value", None if skipped else row.value), skipped)
    newly_done = row.skipped and not skipped
    row = await habit_rows.save_check_in(session, row, value=value, skipped=skipped)
    kind = ActivityKind.HABIT_CHECKED_IN if newly_done else Signal.HABIT_CHANGED
    await _logged(session, habit, row, kind)
    return row


async def delete_row(session: AsyncSession, row: CheckIn) -> None:
    habit = await habit_rows.get(session, row.habit_id)
    assert habit is not None
    await habit_rows.remove_check_in(session, row)
    await habits.day_changed(
        session, habit, Entry(row.id, row.version), Signal.HABIT_CHANGED, deleted=True
    )


async def _logged(
    session: AsyncSession, habit: Habit, row: CheckIn, kind: ActivityKind | Signal
) -> None:
    await habits.day_changed(session, habit, Entry(row.id, row.version), kind)


def fields_of(row: CheckIn) -> dict[str, Any]:
    """The day as a pull sends it: ``value`` only for a measurable habit's day done."""
    fields: dict[str, Any] = {
        "habitId": ids.encode(habits.KIND, row.habit_id),
        "date": row.day.isoformat(),
        "skipped": row.skipped,
    }
    if row.value is not None:
        fields["value"] = str(row.value)
    return fields
