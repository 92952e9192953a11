"""Streak arithmetic on calendar days: month ends, week starts, chosen weekdays, skipped
days, measurable days, completion and the score."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from db.habits import Day
from resolvers.streaks import (
    Schedule,
    chosen_day_streaks,
    completion_rate,
    score,
    week_of,
    weekly_streaks,
)


def daily_streaks(found: list[date], today: date) -> tuple[int, int]:
    """The streaks of a plain habit due every day."""
    return chosen_day_streaks(EVERY_DAY, entries(*found), today)


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


# Chosen weekdays, skipped days, measurable habits and the score -------------------------

EVERY_DAY = Schedule(weekly_target=None)
MON_WED_FRI = Schedule(weekly_target=None, days_of_week=frozenset({1, 3, 5}))


def entries(*found: date, skipped: tuple[date, ...] = ()) -> list[Day]:
    marked = [Day(d, None, False) for d in found] + [Day(d, None, True) for d in skipped]
    return sorted(marked, key=lambda e: e.day)


def test_chosen_days_count_only_scheduled_days() -> None:
    # Mon 2 Mar, Wed 4, Fri 6, Mon 9 2026: the days between are not due.
    done = entries(date(2026, 3, 2), date(2026, 3, 4), date(2026, 3, 6), date(2026, 3, 9))
    assert chosen_day_streaks(MON_WED_FRI, done, date(2026, 3, 9)) == (4, 4)
    # Tuesday 10 is not due: the streak lives; Wednesday 11 is open until it ends.
    assert chosen_day_streaks(MON_WED_FRI, done, date(2026, 3, 11)) == (4, 4)
    # Missing Wednesday 11 ends it on Thursday.
    assert chosen_day_streaks(MON_WED_FRI, done, date(2026, 3, 12)) == (0, 4)
    # A check-in on an unscheduled day neither extends nor breaks anything.
    extra = sorted([*done, Day(date(2026, 3, 10), None, False)], key=lambda e: e.day)
    assert chosen_day_streaks(MON_WED_FRI, extra, date(2026, 3, 10)) == (4, 4)


def test_a_skipped_day_neither_breaks_nor_extends_a_streak() -> None:
    history = entries(
        date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 4), skipped=(date(2026, 3, 3),)
    )
    assert chosen_day_streaks(EVERY_DAY, history, date(2026, 3, 4)) == (3, 3)
    without_skip = entries(date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 4))
    assert chosen_day_streaks(EVERY_DAY, without_skip, date(2026, 3, 4)) == (1, 2)
    # Skipped today: yesterday's streak is still current.
    today_skipped = entries(date(2026, 3, 1), skipped=(date(2026, 3, 2),))
    assert chosen_day_streaks(EVERY_DAY, today_skipped, date(2026, 3, 2)) == (1, 1)


def test_measurable_days_are_done_when_the_target_is_reached() -> None:
    water = Schedule(weekly_target=None, target=Decimal(8))
    history = [
        Day(date(2026, 3, 1), Decimal(8), False),
        Day(date(2026, 3, 2), Decimal("9.5"), False),
        Day(date(2026, 3, 3), Decimal(5), False),
    ]
    assert water.done_days(history) == [date(2026, 3, 1), date(2026, 3, 2)]
    assert chosen_day_streaks(water, history, date(2026, 3, 3)) == (2, 2)
    assert chosen_day_streaks(water, history, date(2026, 3, 4)) == (0, 2)
    assert water.amount(history[2]) == 0.625
    # Checked in before the habit had a target: still a done day.
    assert water.amount(Day(date(2026, 2, 1), None, False)) == 1


def test_frequency_of_each_kind_of_habit() -> None:
    assert EVERY_DAY.frequency == 1
    assert MON_WED_FRI.frequency == 3 / 7
    assert Schedule(weekly_target=2).frequency == 2 / 7


def test_score_after_a_long_run_and_one_missed_day() -> None:
    run = entries(*days(date(2026, 3, 1), 30))  # 1 to 30 March
    # m = 0.5 ** (1 / 13): 30 done days give 1 - m^30 = 1 - 0.5^(30/13) = 0.7980.
    assert score(EVERY_DAY, run, date(2026, 3, 30)) == 0.798
    # Today (31 March) not done yet: still open, the score stays.
    assert score(EVERY_DAY, run, date(2026, 3, 31)) == 0.798
    # One missed day multiplies by m = 0.9481: a little lower, far from 0.
    assert score(EVERY_DAY, run, date(2026, 4, 1)) == 0.7566
    assert score(EVERY_DAY, [], date(2026, 4, 1)) == 0.0


def test_score_leaves_out_skipped_and_unscheduled_days() -> None:
    run = entries(*days(date(2026, 3, 1), 30))
    skipped = entries(*days(date(2026, 3, 1), 30), skipped=(date(2026, 3, 31),))
    assert score(EVERY_DAY, skipped, date(2026, 4, 1)) == score(EVERY_DAY, run, date(2026, 3, 31))
    # Mon, Wed, Fri: m = 0.5 ** (sqrt(3/7) / 13) = 0.96570; two done days give
    # (1 - m) * m + (1 - m) = 0.0674, and the Tuesday between does not count.
    two = entries(date(2026, 3, 2), date(2026, 3, 4))
    assert score(MON_WED_FRI, two, date(2026, 3, 4)) == 0.0674
    assert score(MON_WED_FRI, two, date(2026, 3, 5)) == 0.0674
    # Missing Friday 6 lowers it once: 0.0674 * 0.9657 = 0.0651.
    assert score(MON_WED_FRI, two, date(2026, 3, 7)) == 0.0651


def test_score_of_a_measurable_habit_counts_the_share_reached() -> None:
    water = Schedule(weekly_target=None, target=Decimal(8))
    half = [Day(date(2026, 3, 1), Decimal(4), False)]
    # m = 0.94808: half the target gives 0.5 * (1 - m) = 0.026.
    assert score(water, half, date(2026, 3, 2)) == 0.026


def test_score_of_a_weekly_habit_counts_days_whose_week_reached_the_target() -> None:
    twice = Schedule(weekly_target=2)
    history = entries(date(2026, 3, 2), date(2026, 3, 3))
    # The target is reached on 3 March and the 7 days ending on 3..8 March still hold it:
    # 6 done days then 9 March undone, m = 0.5 ** (sqrt(2/7) / 13).
    m = 0.5 ** ((2 / 7) ** 0.5 / 13)
    expected = round((1 - m**6) * m, 4)
    assert score(twice, history, date(2026, 3, 10)) == expected
    assert 0.1 < expected < 0.2
