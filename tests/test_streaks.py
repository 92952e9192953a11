"""Streak arithmetic on calendar days: month ends, week starts, completion."""

from __future__ import annotations

from datetime import date, timedelta

from resolvers.streaks import completion_rate, daily_streaks, week_of, weekly_streaks


def days(first: date, count: int, step: int = 1) -> list[date]:
    return [first + timedelta(days=i * step) for i in range(count)]


def test_daily_streak_across_a_month_and_year_end() -> None:
    run = days(date(2025, 12, 28), 7)  # 28 Dec to 3 Jan
    assert daily_streaks(run, today=date(2026, 1, 3)) == (7, 7)
    # Today not done yet: the streak up to yesterday is still alive.
    assert daily_streaks(run, today=date(2026, 1, 4)) == (7, 7)
    # A missed day ends it.
    assert daily_streaks(run, today=date(2026, 1, 5)) == (0, 7)
    leap = days(date(2028, 2, 27), 4)  # 27, 28, 29 Feb, 1 Mar
    assert daily_streaks(leap, today=date(2028, 3, 1)) == (4, 4)


def test_daily_longest_and_current_differ() -> None:
    history = [*days(date(2026, 3, 1), 10), *days(date(2026, 3, 20), 3)]
    assert daily_streaks(history, today=date(2026, 3, 22)) == (3, 10)
    assert daily_streaks([], today=date(2026, 3, 22)) == (0, 0)
    # Future check-ins do not count.
    assert daily_streaks([date(2026, 3, 23)], today=date(2026, 3, 22)) == (0, 0)


def test_week_of_follows_week_start() -> None:
    wednesday = date(2026, 11, 18)
    assert week_of(wednesday, 1) == date(2026, 11, 16)  # Monday
    assert week_of(wednesday, 0) == date(2026, 11, 15)  # Sunday
    assert week_of(wednesday, 6) == date(2026, 11, 14)  # Saturday
    assert week_of(date(2026, 11, 15), 0) == date(2026, 11, 15)


def test_weekly_streaks_depend_on_where_weeks_start() -> None:
    # Check-ins on Sunday and Monday of three weeks in a row (target 2 a week).
    history = []
    for monday in (date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16)):
        history += [monday - timedelta(days=1), monday]
    today = date(2026, 11, 18)
    # Weeks from Sunday: each Sunday+Monday pair falls in one week.
    assert weekly_streaks(history, today, week_start=0, target=2) == (3, 3)
    # Weeks from Monday: the first and the open week hold one check-in each; the two
    # between hold a Monday and the next Sunday, and the streak up to last week is alive.
    assert weekly_streaks(history, today, week_start=1, target=2) == (2, 2)


def test_weekly_streak_is_alive_while_the_week_is_open() -> None:
    history = [date(2026, 11, 3), date(2026, 11, 5), date(2026, 11, 10), date(2026, 11, 12)]
    assert weekly_streaks(history, date(2026, 11, 17), week_start=1, target=2) == (2, 2)
    assert weekly_streaks(history, date(2026, 11, 24), week_start=1, target=2) == (0, 2)


def test_completion_rate() -> None:
    today = date(2026, 11, 30)
    every_other_day = days(date(2026, 11, 1), 15, step=2)
    assert (
        completion_rate(every_other_day, today, 30, weekly_target=None, started=date(2026, 1, 1))
        == 0.5
    )
    # A habit started 10 days ago is measured over those 10 days only.
    recent = days(date(2026, 11, 21), 10)
    assert completion_rate(recent, today, 30, weekly_target=None, started=date(2026, 11, 21)) == 1.0
    # Weekly, 3 a week over 28 days: 12 expected.
    weekly = days(date(2026, 11, 3), 6, step=4)
    assert completion_rate(weekly, today, 28, weekly_target=3, started=date(2026, 1, 1)) == 0.5


def test_a_week_begun_before_the_calendar_starts_with_it() -> None:
    assert week_of(date(1, 1, 1), week_start=1) == date(1, 1, 1)  # a Monday
    assert week_of(date(1, 1, 1), week_start=0) == date(1, 1, 1)
    assert week_of(date(1, 1, 7), week_start=0) == date(1, 1, 7)  # the first Sunday
    assert weekly_streaks([date(1, 1, 1), date(1, 1, 2)], date(2026, 3, 25), 0, 2) == (0, 1)
