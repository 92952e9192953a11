"""Recurring tasks: an RFC 5545 RRULE read in the user's time zone.

Occurrences are wall-clock times in the user's zone, counted from the series' first
``dueAt`` (so ``COUNT`` counts from there, and "every Monday 09:00" stays 09:00 local
across a DST change); each is turned back into an instant only when it becomes ``dueAt``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

MAX_LENGTH = 500
_REFUSED = ("DTSTART", "RDATE", "EXDATE", "EXRULE", "BEGIN", ":")


_FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_NARROWING = {
    "BYWEEKNO": ("YEARLY",),
    "BYYEARDAY": ("YEARLY",),
    "BYMONTHDAY": ("MONTHLY", "YEARLY"),
    "BYSETPOS": ("MONTHLY", "YEARLY"),
}
"""Where RFC 5545 allows these parts, narrowed (BYMONTHDAY, BYSETPOS) to the rules that
look for a match at most once a month: a daily rule for February 30th would try every
day up to the year 9999."""
_MALFORMED = (ValueError, TypeError, KeyError, IndexError, OverflowError)
"""What dateutil raises for a rule it cannot read or follow."""
UNREADABLE = 'Use an RFC 5545 RRULE without DTSTART, like "FREQ=WEEKLY;BYDAY=MO".'


def problem_of(rule: str) -> str | None:
    """What is wrong with ``rule`` as a recurrence, if anything. Tasks recur daily at
    most often (no HOURLY, MINUTELY or SECONDLY)."""
    if len(rule) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    parts = dict(part.partition("=")[::2] for part in normal(rule).split(";"))
    if any(word in normal(rule) for word in _REFUSED):
        return UNREADABLE
    frequency = parts.get("FREQ")
    if frequency not in _FREQUENCIES:
        return "Use FREQ=DAILY, WEEKLY, MONTHLY or YEARLY."
    for part, allowed in _NARROWING.items():
        if part in parts and frequency not in allowed:
            return f"{part} goes with FREQ={' or '.join(allowed)}."
    start = datetime(2000, 1, 1)
    try:
        _rule(rule, start, ZoneInfo("UTC")).after(start)
    except _MALFORMED:
        return UNREADABLE
    return None


def normal(rule: str) -> str:
    return rule.strip().upper().removeprefix("RRULE:")


def next_occurrence(
    rule: str, series_start: datetime, after: datetime, timezone: str
) -> datetime | None:
    """The first occurrence strictly after ``after``, as a UTC instant; None once the rule
    has ended."""
    zone = ZoneInfo(timezone)
    start = series_start.astimezone(zone).replace(tzinfo=None)
    local_after = after.astimezone(zone).replace(tzinfo=None)
    try:
        found = _rule(rule, start, zone).after(local_after, inc=False)
    except _MALFORMED:  # past the calendar's end (a huge INTERVAL): no next occurrence
        return None
    if found is None:
        return None
    return found.replace(tzinfo=zone).astimezone(UTC)


def _rule(rule: str, start: datetime, zone: ZoneInfo) -> rrule:
    """The rule over naive local times; an UNTIL in UTC ("...Z") becomes the local wall
    time of that instant, a floating UNTIL is local already."""
    parts = normal(rule).split(";")
    for index, part in enumerate(parts):
        if part.startswith("UNTIL=") and part.endswith("Z"):
            until = datetime.strptime(part[6:], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            parts[index] = "UNTIL=" + until.astimezone(zone).strftime("%Y%m%dT%H%M%S")
    text = ";".join(parts)
    parsed = rrulestr(text, dtstart=start, forceset=False)
    if not isinstance(parsed, rrule):
        raise ValueError(rule)
    return parsed
