"""Habits on chosen weekdays, measurable habits, skipped days and the score, through the
GraphQL endpoint (the ``HabitDetails``, ``LogHabit`` and ``SkipHabitDay`` documents of the
next contract), with their validation, ownership, statement counts and sync fields; and
archived notes (``ArchiveNote``).

"Today" comes from the services' clock, 28 March 2026 (a Saturday) unless a test moves it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from conftest import Api, StatementCounter
from test_habits import Clock, backdate, create, listed, member, one, problems, send
from test_habits import now as now
from test_habits import services as services
from test_plans import Paths, both
from test_plans import paths as paths

from db.habits import Day, Habit, HabitFrequency
from resolvers.context import Services
from resolvers.habits import due_undone

DETAILS = """
query HabitDetails($id: ID!, $from: Date!, $to: Date!) {
  habit(id: $id) {
    id name frequency daysOfWeek target unit
    score currentStreak longestStreak doneToday
    checkIns(from: $from, to: $to) { date value skipped }
  }
}
"""

LOG = """
mutation LogHabit($id: ID!, $date: Date, $value: Decimal) {
  checkInHabit(id: $id, date: $date, value: $value) {
    habit { id currentStreak doneToday score }
    userErrors { field message code }
  }
}
"""

SKIP = """
mutation SkipHabitDay($id: ID!, $date: Date!) {
  skipHabitDay(id: $id, date: $date) {
    habit { id currentStreak } userErrors { field message code }
  }
}
"""

ARCHIVE_NOTE = """
mutation ArchiveNote($id: ID!, $archived: Boolean!) {
  updateNote(id: $id, input: { archived: $archived }) {
    note { id archived } userErrors { field message code }
  }
}
"""


async def details(
    api: Api, token: str, habit_id: str, since: str = "2026-01-01", until: str = "2026-12-31"
) -> dict[str, Any] | None:
    result = await api.query(DETAILS, {"id": habit_id, "from": since, "to": until}, token)
    assert "errors" not in result, result
    habit: dict[str, Any] | None = result["data"]["habit"]
    return habit


async def log(api: Api, token: str, habit_id: str, **variables: Any) -> dict[str, Any]:
    result = await api.query(LOG, {"id": habit_id, **variables}, token)
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["checkInHabit"]
    return payload


async def skip(api: Api, token: str, habit_id: str, day: str) -> dict[str, Any]:
    result = await api.query(SKIP, {"id": habit_id, "date": day}, token)
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["skipHabitDay"]
    return payload


async def logged(api: Api, token: str, habit_id: str, *days: str, **variables: Any) -> None:
    for day in days:
        payload = await log(api, token, habit_id, date=day, **variables)
        assert payload["userErrors"] == [], payload


# Validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"daysOfWeek": []}, "daysOfWeek"),
        ({"daysOfWeek": [0, 3]}, "daysOfWeek"),
        ({"daysOfWeek": [1, 8]}, "daysOfWeek"),
        ({"daysOfWeek": [1, 1]}, "daysOfWeek"),
        ({"daysOfWeek": [1], "frequency": "WEEKLY", "targetPerWeek": 1}, "daysOfWeek"),
        ({"target": "0", "unit": "glasses"}, "target"),
        ({"target": "-2", "unit": "glasses"}, "target"),
        ({"target": "1.005", "unit": "glasses"}, "target"),
        ({"target": "8"}, "unit"),
        ({"unit": "glasses"}, "target"),
        ({"target": "8", "unit": " "}, "unit"),
    ],
)
async def test_invalid_schedules_and_targets_are_refused(
    api: Api, fields: dict[str, Any], field: str
) -> None:
    token = await member(api, "invalid@example.com")
    payload = await send(api, token, "CreateHabit", input={"name": "Water", **fields})
    assert payload["habit"] is None
    assert ("INVALID", ["input", field]) in problems(payload), payload
    assert await listed(api, token) == []


async def test_every_problem_of_a_schedule_is_reported_at_once(api: Api) -> None:
    token = await member(api, "all@example.com")
    fields = {"name": "x", "daysOfWeek": [9], "target": "-1", "unit": "glasses"}
    payload = await send(api, token, "CreateHabit", input=fields)
    assert sorted((field or [""])[-1] for _, field in problems(payload)) == [
        "daysOfWeek",
        "name",
        "target",
    ]


async def test_schedule_and_target_are_stored_updated_and_cleared(api: Api) -> None:
    token = await member(api, "store@example.com")
    habit = await create(api, token, "Gym", daysOfWeek=[5, 1, 3])
    shown = await details(api, token, habit["id"])
    assert shown is not None
    assert (shown["daysOfWeek"], shown["target"], shown["unit"]) == ([1, 3, 5], None, None)

    payload = await send(
        api, token, "UpdateHabit", id=habit["id"], input={"target": "8", "unit": "glasses"}
    )
    assert payload["userErrors"] == [], payload
    # Half of the pair on its own is refused, against what is stored.
    payload = await send(api, token, "UpdateHabit", id=habit["id"], input={"unit": None})
    assert problems(payload) == [("INVALID", ["input", "unit"])]
    payload = await send(api, token, "UpdateHabit", id=habit["id"], input={"frequency": "WEEKLY"})
    assert problems(payload) == [("INVALID", ["input", "daysOfWeek"])]
    shown = await details(api, token, habit["id"])
    assert shown is not None
    assert (shown["daysOfWeek"], shown["target"], shown["unit"]) == ([1, 3, 5], "8.00", "glasses")

    cleared = {"daysOfWeek": None, "target": None, "unit": None}
    payload = await send(api, token, "UpdateHabit", id=habit["id"], input=cleared)
    assert payload["userErrors"] == [], payload
    shown = await details(api, token, habit["id"])
    assert shown is not None
    assert (shown["daysOfWeek"], shown["target"], shown["unit"]) == (None, None, None)


# Chosen weekdays and skipped days -------------------------------------------------------


async def test_chosen_days_streaks_rates_and_done_today(
    api: Api,
    services: Services,
    now: Clock,
) -> None:
    token = await member(api, "gym@example.com")
    gym = await create(api, token, "Gym", daysOfWeek=[1, 3, 5])  # Mon, Wed, Fri
    await backdate(services, gym["id"], datetime(2026, 3, 16, 9, tzinfo=UTC))
    # Mon 16 to Fri 27 March: every scheduled day; Saturday 28 (today) is not due.
    await logged(api, token, gym["id"], "2026-03-16", "2026-03-18", "2026-03-20")
    await logged(api, token, gym["id"], "2026-03-23", "2026-03-25", "2026-03-27")
    habit = await one(api, token, gym["id"])
    assert (habit["currentStreak"], habit["longestStreak"], habit["doneToday"]) == (6, 6, False)
    rates = await api.query(
        "query { habits { week: completionRate(days: 7) all: completionRate(days: 30) } }",
        {},
        token,
    )
    assert rates["data"]["habits"] == [{"week": 1.0, "all": 1.0}]
    # Monday 30 March passes without a check-in: on Tuesday the streak is over.
    now[0] = datetime(2026, 3, 31, 12, tzinfo=UTC)
    habit = await one(api, token, gym["id"])
    assert (habit["currentStreak"], habit["longestStreak"]) == (0, 6)


async def test_a_skipped_day_keeps_the_streak_and_is_shown(api: Api, services: Services) -> None:
    token = await member(api, "skip@example.com")
    read = await create(api, token, "Read")
    await backdate(services, read["id"], datetime(2026, 3, 20, 9, tzinfo=UTC))
    await logged(api, token, read["id"], "2026-03-24", "2026-03-25", "2026-03-27")
    assert (await one(api, token, read["id"]))["currentStreak"] == 1

    payload = await skip(api, token, read["id"], "2026-03-26")
    assert payload == {"habit": {"id": read["id"], "currentStreak": 3}, "userErrors": []}
    shown = await details(api, token, read["id"], "2026-03-25", "2026-03-27")
    assert shown is not None
    assert shown["checkIns"] == [
        {"date": "2026-03-25", "value": None, "skipped": False},
        {"date": "2026-03-26", "value": None, "skipped": True},
        {"date": "2026-03-27", "value": None, "skipped": False},
    ]
    assert shown["longestStreak"] == 3
    # A check-in on a skipped day turns it into a done day; skipping a done day drops it.
    await logged(api, token, read["id"], "2026-03-26")
    assert (await one(api, token, read["id"]))["currentStreak"] == 4
    await skip(api, token, read["id"], "2026-03-27")
    assert (await one(api, token, read["id"]))["currentStreak"] == 3
    shown = await details(api, token, read["id"], "2026-03-27", "2026-03-27")
    assert shown is not None
    assert shown["checkIns"] == [{"date": "2026-03-27", "value": None, "skipped": True}]
    # undoCheckIn removes a skip too.
    await send(api, token, "UndoCheckIn", id=read["id"], date="2026-03-27")
    shown = await details(api, token, read["id"], "2026-03-27", "2026-03-27")
    assert shown is not None
    assert shown["checkIns"] == []


async def test_a_skip_on_a_day_not_scheduled_is_refused(api: Api) -> None:
    token = await member(api, "unscheduled@example.com")
    gym = await create(api, token, "Gym", daysOfWeek=[1, 3, 5])
    payload = await skip(api, token, gym["id"], "2026-03-24")  # a Tuesday
    assert problems(payload) == [("INVALID", ["date"])]
    shown = await details(api, token, gym["id"])
    assert shown is not None
    assert shown["checkIns"] == []


# Measurable habits -----------------------------------------------------------------------


async def test_values_add_up_and_the_day_is_done_at_the_target(api: Api) -> None:
    token = await member(api, "water@example.com")
    water = await create(api, token, "Water", target="8", unit="glasses")
    first = await log(api, token, water["id"], value="3")
    assert first["userErrors"] == []
    assert first["habit"]["doneToday"] is False
    second = await log(api, token, water["id"], value="4.5")
    assert second["habit"]["doneToday"] is False
    third = await log(api, token, water["id"])  # no value: one more
    assert third["habit"]["doneToday"] is True
    assert third["habit"]["currentStreak"] == 1
    shown = await details(api, token, water["id"], "2026-03-28", "2026-03-28")
    assert shown is not None
    assert shown["checkIns"] == [{"date": "2026-03-28", "value": "8.50", "skipped": False}]
    # The daily digest's rule is the API's: done at the target, not before.
    assert (await one(api, token, water["id"]))["doneToday"] is True


async def test_values_are_refused_on_plain_habits_and_must_be_positive(api: Api) -> None:
    token = await member(api, "plain@example.com")
    plain = await create(api, token, "Read")
    payload = await log(api, token, plain["id"], value="1")
    assert problems(payload) == [("INVALID", ["value"])]
    water = await create(api, token, "Water", target="8", unit="glasses")
    for value in ("0", "-1", "0.001"):
        payload = await log(api, token, water["id"], value=value)
        assert problems(payload) == [("INVALID", ["value"])], value
    # Every problem at once: a future day and a bad value.
    payload = await log(api, token, water["id"], date="2026-03-29", value="0")
    assert {tuple(field or ()) for _, field in problems(payload)} == {("date",), ("value",)}
    for habit in (plain, water):
        shown = await details(api, token, habit["id"])
        assert shown is not None
        assert shown["checkIns"] == []


# Score -----------------------------------------------------------------------------------


async def test_score_after_thirty_days_and_one_missed(
    api: Api,
    services: Services,
    now: Clock,
) -> None:
    now[0] = datetime(2026, 3, 30, 12, tzinfo=UTC)
    token = await member(api, "score@example.com")
    run = await create(api, token, "Run")
    await backdate(services, run["id"], datetime(2026, 2, 28, 12, tzinfo=UTC))
    await logged(api, token, run["id"], *[f"2026-03-{day:02}" for day in range(1, 31)])
    # 1 - 0.5^(30/13), by hand.
    payload = await log(api, token, run["id"], date="2026-03-30")
    assert payload["habit"]["score"] == 0.798
    now[0] = datetime(2026, 4, 1, 12, tzinfo=UTC)  # 31 March missed
    shown = await details(api, token, run["id"])
    assert shown is not None
    assert (shown["score"], shown["currentStreak"], shown["longestStreak"]) == (0.7566, 0, 30)


# Ownership, counts and sync --------------------------------------------------------------


async def test_another_users_habit_cannot_be_logged_skipped_or_read(api: Api) -> None:
    owner = await member(api, "owner@example.com")
    other = await member(api, "other@example.com")
    water = await create(api, owner, "Water", target="8", unit="glasses")
    assert await details(api, other, water["id"]) is None
    assert problems(await log(api, other, water["id"], value="2")) == [("NOT_FOUND", ["id"])]
    assert problems(await skip(api, other, water["id"], "2026-03-27")) == [("NOT_FOUND", ["id"])]
    payload = await send(api, other, "UpdateHabit", id=water["id"], input={"target": "2"})
    assert problems(payload) == [("NOT_FOUND", ["id"])]
    shown = await details(api, owner, water["id"])
    assert shown is not None
    assert shown["checkIns"] == []
    assert shown["target"] == "8.00"


async def test_details_and_listing_run_a_constant_number_of_statements(
    api: Api, statements: StatementCounter
) -> None:
    token = await member(api, "counts@example.com")
    made: list[str] = []

    async def counted(habits: int) -> tuple[int, int]:
        for index in range(len(made), habits):
            habit = await create(
                api, token, f"Water {index}", target="2", unit="l", daysOfWeek=[1, 6]
            )
            await logged(api, token, habit["id"], "2026-03-23", "2026-03-28", value="1")
            await skip(api, token, habit["id"], "2026-03-21")
            made.append(habit["id"])
        statements.count = 0
        loaded = await listed(api, token)
        assert len(loaded) == habits
        listing = statements.count
        statements.count = 0
        shown = await details(api, token, made[-1])
        assert shown is not None
        assert len(shown["checkIns"]) == 3
        return listing, statements.count

    assert await counted(2) == (3, 3)  # principal, habits, check-ins
    assert await counted(8) == (3, 3)


async def test_sync_pulls_and_pushes_carry_the_new_habit_fields(api: Api) -> None:
    token = await member(api, "sync@example.com")
    water = await create(api, token, "Water", target="8", unit="glasses", daysOfWeek=[1, 2])
    result = await api.op("SyncPull", {"since": None, "collections": ["HABITS"]}, token)
    assert "errors" not in result, result
    (pulled,) = result["data"]["syncPull"]["changes"]
    assert pulled["id"] == water["id"]
    fields = pulled["fields"]
    assert (fields["daysOfWeek"], fields["target"], fields["unit"]) == ([1, 2], "8.00", "glasses")

    pushed = {**fields, "target": "2.5", "unit": "litres", "daysOfWeek": [7]}
    variables: dict[str, Any] = {
        "input": {
            "clientId": "phone",
            "mutationId": 1,
            "changes": [
                {
                    "collection": "HABITS",
                    "id": water["id"],
                    "version": pulled["version"],
                    "fields": pushed,
                }
            ],
        }
    }
    result = await api.op("SyncPush", variables, token)
    assert "errors" not in result, result
    assert result["data"]["syncPush"]["conflicts"] == []
    shown = await details(api, token, water["id"])
    assert shown is not None
    assert (shown["daysOfWeek"], shown["target"], shown["unit"]) == ([7], "2.50", "litres")

    bad = {**fields, "target": "2.5", "unit": None}
    variables["input"].update(mutationId=2)
    variables["input"]["changes"][0].update(fields=bad, version=pulled["version"] + 1)
    result = await api.op("SyncPush", variables, token)
    assert "errors" not in result, result
    assert result["data"]["syncPush"]["userErrors"] != []


# Archived notes --------------------------------------------------------------------------


async def test_archived_notes_leave_the_default_list_and_search(api: Api) -> None:
    token = await member(api, "notes@example.com")
    other = await member(api, "notes-other@example.com")

    async def note(title: str) -> str:
        payload = await send(api, token, "CreateNote", input={"title": title})
        assert payload["userErrors"] == [], payload
        note_id: str = payload["note"]["id"]
        return note_id

    async def titles(**filters: Any) -> list[str]:
        result = await api.op("Notes", {"first": 50, "filter": filters}, token)
        assert "errors" not in result, result
        return sorted(edge["node"]["title"] for edge in result["data"]["notes"]["edges"])

    kept, old = await note("Garden plans"), await note("Garden last year")
    result = await api.query(ARCHIVE_NOTE, {"id": old, "archived": True}, token)
    assert result["data"]["updateNote"] == {"note": {"id": old, "archived": True}, "userErrors": []}
    assert await titles() == ["Garden plans"]
    assert await titles(search="garden") == ["Garden plans"]
    assert await titles(archived=True) == ["Garden last year"]
    assert await titles(archived=True, search="garden") == ["Garden last year"]
    assert await titles(archived=False) == ["Garden plans"]

    refused = await api.query(ARCHIVE_NOTE, {"id": kept, "archived": True}, other)
    assert refused["data"]["updateNote"]["userErrors"][0]["code"] == "NOT_FOUND"
    result = await api.query(ARCHIVE_NOTE, {"id": old, "archived": False}, token)
    assert result["data"]["updateNote"]["note"]["archived"] is False
    assert await titles() == ["Garden last year", "Garden plans"]


# The dashboard, the daily digest and planned execution -----------------------------------


async def test_the_dashboard_counts_habits_done_as_done_today_has_it(api: Api) -> None:
    token = await member(api, "board@example.com")
    water = await create(api, token, "Water", target="8", unit="glasses")
    read = await create(api, token, "Read")
    await create(api, token, "Walk")
    await logged(api, token, water["id"], "2026-03-28", value="5")
    await skip(api, token, read["id"], "2026-03-28")

    async def done_today() -> int:
        result = await api.op("Dashboard", {}, token)
        assert "errors" not in result, result
        count: int = result["data"]["dashboard"]["habitsDoneToday"]
        return count

    assert await done_today() == 0  # 5 of 8 glasses, and a skip
    await logged(api, token, water["id"], "2026-03-28", value="3")
    assert await done_today() == 1
    await logged(api, token, read["id"], "2026-03-28")
    assert await done_today() == 2


def test_the_digest_lists_habits_due_and_not_done() -> None:
    saturday = date(2026, 3, 28)
    gym = Habit(frequency=HabitFrequency.DAILY, days_of_week=[1, 3, 5], target=None)
    read = Habit(frequency=HabitFrequency.DAILY, days_of_week=None, target=None)
    water = Habit(frequency=HabitFrequency.DAILY, days_of_week=None, target=Decimal(8))
    assert not due_undone(gym, [], saturday)  # not due on Saturdays
    assert due_undone(read, [], saturday)
    assert not due_undone(read, [Day(saturday, None, True)], saturday)  # skipped
    assert not due_undone(read, [Day(saturday, None, False)], saturday)
    assert due_undone(water, [Day(saturday, Decimal(5), False)], saturday)
    assert not due_undone(water, [Day(saturday, Decimal(8), False)], saturday)


async def test_habit_details_answer_the_same_from_a_plan(api: Api, paths: Paths) -> None:
    token = await member(api, "plan@example.com")
    water = await create(api, token, "Water", target="8", unit="glasses", daysOfWeek=[3, 6])
    await logged(api, token, water["id"], "2026-03-25", "2026-03-28", value="8")
    await skip(api, token, water["id"], "2026-03-21")
    variables = {"id": water["id"], "from": "2026-03-01", "to": "2026-03-31"}
    for _ in range(2):  # the first sight plans the document; the second runs the plan
        standard, compiled = await both(paths, DETAILS, variables, token, "HabitDetails")
        assert "errors" not in standard, standard
        assert compiled == standard
    assert paths.plans.stats.hits == 1
    habit = standard["data"]["habit"]
    assert habit["checkIns"] == [
        {"date": "2026-03-21", "value": None, "skipped": True},
        {"date": "2026-03-25", "value": "8.00", "skipped": False},
        {"date": "2026-03-28", "value": "8.00", "skipped": False},
    ]
    assert (habit["daysOfWeek"], habit["target"], habit["unit"]) == ([3, 6], "8.00", "glasses")
