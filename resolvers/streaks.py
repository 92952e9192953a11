"""Streaks and completion of habits, from check-in days. Pure functions on calendar days
in the user's time zone, so daylight-saving changes cannot move a day."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from db.habits import Day

WEEK = timedelta(days=7)
DAY = timedelta(days=1)


def week_of(day: date, week_start: int) -> date:
    """The first day of ``day``'s week; ``week_start`` counts from 0 = Sunday to 6 = Saturday."""
    first_weekday = (week_start - 1) % 7  # Python's weekday(): 0 = Monday
    back = (day.weekday() - first_weekday) % 7
    # The calendar starts on a Monday, 0001-01-01: a week begun before it starts there.
    return day - timedelta(days=min(back, (day - date.min).days))


def _runs(starts: list[date], step: timedelta) -> list[tuple[date, int]]:
    """Runs of consecutive periods: (last period, length), for sorted unique starts."""
    runs: list[tuple[date, int]] = []
    for start in starts:
        if runs and runs[-1][0] + step == start:
            runs[-1] = (start, runs[-1][1] + 1)
        else:
            runs.append((start, 1))
    return runs


def _streaks(done: list[date], current_period: date, step: timedelta) -> tuple[int, int]:
    runs = _runs(done, step)
    longest = max((length for _, length in runs), default=0)
    current = 0
    if runs:
        last, length = runs[-1]
        # The current period still counts as open: a streak ending just before it is alive.
        if last in (current_period, current_period - step):
            current = length
    return current, longest


def weekly_streaks(
    days: Iterable[date], today: date, week_start: int, target: int
) -> tuple[int, int]:
    """(current, longest) runs of weeks with at least ``target`` check-ins."""
    per_week = Counter(week_of(d, week_start) for d in days if d <= today)
    reached = sorted(week for week, count in per_week.items() if count >= target)
    return _streaks(reached, week_of(today, week_start), WEEK)


def completion_rate(
    days: Iterable[date],
    today: date,
    window: int,
    *,
    weekly_target: int | None,
    started: date,
    counted: Callable[[date], bool] = lambda day: True,
) -> float:
    """Share of what was expected in the last ``window`` days (since the habit started):
    every day for a daily habit, ``weekly_target`` days a week for a weekly one."""
    first = max(today - timedelta(days=window - 1), started)
    if first > today:
        return 0.0
    span = sum(1 for n in range((today - first).days + 1) if counted(first + n * DAY))
    if span == 0:
        return 0.0
    done = sum(1 for d in set(days) if first <= d <= today)
    expected = span if weekly_target is None else span * weekly_target / 7
    return round(min(1.0, done / expected), 4)


@dataclass(frozen=True)
class Schedule:
    """What a habit asks: every day, chosen ISO weekdays, or N days a week; and for a
    measurable habit, the amount that makes a day done."""

    weekly_target: int | None
    days_of_week: frozenset[int] | None = None
    target: Decimal | None = None

    @property
    def frequency(self) -> float:
        """Expected share of days: 1 for daily, N/7 for N a week or N chosen weekdays."""
        if self.weekly_target is not None:
            return self.weekly_target / 7
        return len(self.days_of_week) / 7 if self.days_of_week else 1.0

    def scheduled(self, day: date) -> bool:
        return self.days_of_week is None or day.isoweekday() in self.days_of_week

    def count(self, first: date, end: date) -> int:
        """Scheduled days from ``first`` up to, not including, ``end``."""
        span = max(0, (end - first).days)
        if self.days_of_week is None:
            return span
        weeks, rest = divmod(span, 7)
        return weeks * len(self.days_of_week) + sum(
            1 for n in range(rest) if self.scheduled(first + (weeks * 7 + n) * DAY)
        )

    def amount(self, entry: Day) -> float:
        """How much of the day's target was reached, 0 to 1. A check-in without a value (a
        plain habit's, or one made before the habit had a target) is a done day."""
        if entry.skipped:
            return 0.0
        if self.target is None or entry.value is None:
            return 1.0
        return float(min(Decimal(1), entry.value / self.target))

    def done_days(self, entries: Iterable[Day]) -> list[date]:
        return [e.day for e in entries if self.amount(e) >= 1]


def chosen_day_streaks(schedule: Schedule, entries: Sequence[Day], today: date) -> tuple[int, int]:
    """(current, longest) runs of done scheduled days; skipped and unscheduled days neither
    break nor extend a run, and today still counts as open. Walks the entries, not the
    calendar: the days between two entries are counted, not visited."""
    done = set(schedule.done_days(entries))
    current = longest = 0
    previous: date | None = None
    for entry in entries:
        if entry.day > today:
            break
        missed = previous is not None and schedule.count(previous + DAY, entry.day) > 0
        previous = entry.day
        if entry.skipped or not schedule.scheduled(entry.day):
            if missed:
                current = 0
            continue
        if entry.day in done:
            current = 1 if missed else current + 1
        elif entry.day != today:
            current = 0
        longest = max(longest, current)
    if previous is not None and schedule.count(previous + DAY, today) > 0:
        current = 0
    return current, longest


def score(schedule: Schedule, entries: Sequence[Day], today: date) -> float:
    """The habit's strength, 0 to 1, smoothed as Loop Habit Tracker does:
    ``score = previous * m + done * (1 - m)`` with ``m = 0.5 ** (sqrt(frequency) / 13)``,
    over each scheduled day up to today (today only once done), skipped days left out.
    ``done`` is the share of the target reached (1 or 0 for a plain habit); for N days a
    week, a day counts done when the 7 days ending on it reached N. Days before the first
    entry leave the score at 0, and a run of undone days multiplies it by ``m`` per day,
    so only the days around entries are visited."""
    multiplier = 0.5 ** (math.sqrt(schedule.frequency) / 13)
    by_day = {e.day: e for e in entries if e.day <= today}
    done_days = set(schedule.done_days(by_day.values()))
    if schedule.weekly_target is None:
        visited = set(by_day)
    else:
        visited = {d + n * DAY for d in done_days for n in range(7)} | set(by_day)
    value = 0.0
    previous: date | None = None
    for day in sorted(d for d in visited if d <= today):
        if previous is not None:
            value *= multiplier ** schedule.count(previous + DAY, day)
        previous = day
        entry = by_day.get(day)
        if (entry is not None and entry.skipped) or not schedule.scheduled(day):
            continue
        if schedule.weekly_target is not None:
            back_to = min(6, (day - date.min).days)
            week = sum(1 for back in range(back_to + 1) if day - back * DAY in done_days)
            done = 1.0 if week >= schedule.weekly_target else 0.0
        else:
            done = schedule.amount(entry) if entry is not None else 0.0
        if day != today or done >= 1:
            value = value * multiplier + done * (1 - multiplier)
    if previous is not None:
        value *= multiplier ** schedule.count(previous + DAY, today)
    return round(value, 4)
