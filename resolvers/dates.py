"""Dates and times as the API reads and writes them: instants in ISO 8601 (always sent in
UTC, accepted only with an offset), and calendar days in the user's time zone turned
into UTC instants for queries."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import babel
import babel.dates


def format_instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_instant(value: Any) -> datetime:
    """An ISO 8601 string with an offset, as UTC; raises ValueError otherwise."""
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO 8601 string")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("DateTime needs an offset, for example '2026-11-21T09:30:00Z'")
    try:
        return parsed.astimezone(UTC)
    except OverflowError as error:
        raise ValueError("DateTime must fall between the years 1 and 9999 in UTC") from error


def start_of(day: date, timezone: str) -> datetime:
    """Midnight of ``day`` in ``timezone``, as UTC. Where that instant falls outside the
    years 1 to 9999 (0001-01-01 east of UTC, 9999-12-31 west), the calendar's own first or
    last instant stands for it: a range reaching there holds everything on that side."""
    try:
        return datetime.combine(day, time.min, tzinfo=ZoneInfo(timezone)).astimezone(UTC)
    except OverflowError:
        return (datetime.min if day.year == 1 else datetime.max).replace(tzinfo=UTC)


def end_of(day: date, timezone: str) -> datetime:
    """The start of the day after ``day`` in ``timezone``, as UTC."""
    if day == date.max:
        return datetime.max.replace(tzinfo=UTC)
    return start_of(day + timedelta(days=1), timezone)


def day_range(
    first: date | None, last: date | None, timezone: str
) -> tuple[datetime | None, datetime | None]:
    """[start of ``first``, start of the day after ``last``) in ``timezone``, as UTC."""
    start = start_of(first, timezone) if first else None
    end = end_of(last, timezone) if last else None
    return start, end


def today(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def noon_of(day: date, timezone: str) -> datetime:
    """A receipt's printed date as an instant: noon that day, so no time zone moves its day."""
    return datetime.combine(day, time(12), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


@functools.lru_cache(maxsize=256)
def writes_month_first(locale: str) -> bool:
    """Whether the BCP 47 ``locale`` writes a numeric date month first (en-US: "3/4/19" is
    March 4), by its short date pattern; an unknown locale counts as day first, as most
    of the world writes dates (Babel would take an empty one for the server's own)."""
    if not locale.strip():
        return False
    try:
        pattern = babel.dates.get_date_format("short", locale.replace("-", "_")).pattern
    except (ValueError, babel.UnknownLocaleError):
        return False
    month, day = pattern.find("M"), pattern.find("d")
    return 0 <= month < day
