"""Streaks and completion of habits, from check-in days. Pure functions on calendar days
in the user's time zone, so daylight-saving changes cannot move a day."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date, timedelta

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


def daily_streaks(days: Iterable[date], today: date) -> tuple[int, int]:
    """(current, longest) runs of checked-in days."""
    return _streaks(sorted({d for d in days if d <= today}), today, DAY)


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
) -> float:
    """Share of what was expected in the last ``window`` days (since the habit started):
    every day for a daily habit, ``weekly_target`` days a week for a weekly one."""
    first = max(today - timedelta(days=window - 1), started)
    if first > today:
        return 0.0
    span = (today - first).days + 1
    done = sum(1 for d in set(days) if first <= d <= today)
    expected = span if weekly_target is None else span * weekly_target / 7
    return round(min(1.0, done / expected), 4)
