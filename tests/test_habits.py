"""Habits through the GraphQL endpoint: validation, order, archiving, check-ins on the user's
calendar, streaks and completion, statement counts, ownership and client-minted IDs.

"Today" comes from the services' clock, which these tests set (``now``)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import unstorable
from conftest import Api, StatementCounter, errors_of
from sqlalchemy import text

from lifegraph.services import build_services
from lifegraph.settings import Settings
from resolvers.context import Services
from storage.ocr import OcrEngine

Clock = list[datetime]

CREATE_WITH_ID = """
mutation CreateHabitWithId($input: CreateHabitInput!) {
  createHabit(input: $input) { habit { id name } userErrors { field message code } }
}
"""

HABIT = """
query Habit($id: ID!) { habit(id: $id) { id name } }
"""

RATES = """
query Rates {
  habits(includeArchived: true) {
    name
    week: completionRate(days: 7)
    month: completionRate(days: 30)
    default: completionRate
  }
}
"""


@pytest.fixture
def now() -> Clock:
    """The clock of the app: tests move it by setting ``now[0]``."""
    return [datetime(2026, 3, 28, 12, tzinfo=UTC)]


@pytest.fixture
def services(settings: Settings, local_ocr: OcrEngine, now: Clock) -> Services:
    return dataclasses.replace(build_services(settings), ocr=local_ocr, clock=lambda: now[0])


# Helpers ---------------------------------------------------------------------------------


def field_of(operation: str) -> str:
    """The payload field of a contract mutation: CreateHabit -> createHabit."""
    return operation[0].lower() + operation[1:]


async def send(api: Api, token: str, operation: str, **variables: Any) -> dict[str, Any]:
    """A contract mutation's payload, with no top-level errors."""
    result = await api.op(operation, variables, token)
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"][field_of(operation)]
    return payload


def problems(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    """A payload's userErrors as (code, field path)."""
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


async def member(
    api: Api, email: str, *, timezone: str | None = None, week_start: int | None = None
) -> str:
    """Registers a member and sets their calendar; returns the access token."""
    token: str = (await api.register(email))["accessToken"]
    if timezone is not None or week_start is not None:
        await set_calendar(api, token, timezone=timezone, week_start=week_start)
    return token


async def set_calendar(
    api: Api, token: str, *, timezone: str | None = None, week_start: int | None = None
) -> None:
    settings: dict[str, Any] = {}
    if timezone is not None:
        settings["timezone"] = timezone
    if week_start is not None:
        settings["weekStart"] = week_start
    payload = await send(api, token, "UpdateProfile", input={"settings": settings})
    assert payload["userErrors"] == [], payload
    saved = payload["user"]["settings"]
    assert all(saved[name] == value for name, value in settings.items()), saved


async def create(api: Api, token: str, name: str = "Read", **fields: Any) -> dict[str, Any]:
    payload = await send(api, token, "CreateHabit", input={"name": name, **fields})
    assert payload["userErrors"] == [], payload
    habit: dict[str, Any] = payload["habit"]
    return habit


async def listed(
    api: Api,
    token: str,
    *,
    include_archived: bool | None = None,
    since: str = "2000-01-01",
    until: str = "2100-12-31",
) -> list[dict[str, Any]]:
    """The ``Habits`` query: the user's habits in order, with check-ins in [since, until]."""
    variables = {"includeArchived": include_archived, "from": since, "to": until}
    result = await api.op("Habits", variables, token)
    assert "errors" not in result, result
    habits: list[dict[str, Any]] = result["data"]["habits"]
    return habits


async def names(api: Api, token: str, *, include_archived: bool | None = None) -> list[str]:
    return [habit["name"] for habit in await listed(api, token, include_archived=include_archived)]


async def one(api: Api, token: str, habit_id: str) -> dict[str, Any]:
    """A habit from the full listing, with every check-in."""
    found = [h for h in await listed(api, token, include_archived=True) if h["id"] == habit_id]
    assert len(found) == 1, found
    return found[0]


async def days(api: Api, token: str, habit_id: str) -> list[str]:
    return [check_in["date"] for check_in in (await one(api, token, habit_id))["checkIns"]]


async def check_in(api: Api, token: str, habit_id: str, day: str | None = None) -> dict[str, Any]:
    variables: dict[str, Any] = {"id": habit_id} if day is None else {"id": habit_id, "date": day}
    payload = await send(api, token, "CheckInHabit", **variables)
    assert payload["userErrors"] == [], payload
    habit: dict[str, Any] = payload["habit"]
    return habit


async def check_in_all(api: Api, token: str, habit_id: str, *days: str) -> None:
    for day in days:
        await check_in(api, token, habit_id, day)


async def figures(api: Api, token: str, habit_id: str) -> tuple[int, int, bool]:
    """(currentStreak, longestStreak, doneToday) as the listing shows them."""
    habit = await one(api, token, habit_id)
    return habit["currentStreak"], habit["longestStreak"], habit["doneToday"]


async def backdate(services: Services, habit_id: str, created: datetime) -> None:
    """Sets when a habit was created (the server's own time otherwise, not the test clock)."""
    async with services.engine.begin() as connection:
        await connection.execute(
            text("UPDATE habits SET created_at = :created WHERE id = CAST(:id AS uuid)"),
            {"created": created, "id": habit_id.removeprefix("habit_")},
        )


# Validation ------------------------------------------------------------------------------


async def test_create_trims_and_fills_defaults(api: Api) -> None:
    token = await member(api, "create@example.com")
    habit = await create(api, token, "  Read a book  ")
    assert habit["id"].startswith("habit_")
    assert habit["name"] == "Read a book"
    assert (habit["description"], habit["color"]) == (None, None)
    assert (habit["frequency"], habit["targetPerWeek"]) == ("DAILY", 7)
    assert (habit["archived"], habit["position"]) == (False, 0)
    assert (habit["currentStreak"], habit["longestStreak"], habit["doneToday"]) == (0, 0, False)

    weekly = await create(
        api,
        token,
        "Swim",
        description="  At the pool ",
        color="#3fa34d",
        frequency="WEEKLY",
        targetPerWeek=3,
    )
    assert weekly["description"] == "At the pool"
    assert weekly["color"].upper() == "#3FA34D"
    assert (weekly["frequency"], weekly["targetPerWeek"], weekly["position"]) == ("WEEKLY", 3, 1)

    # The limits themselves are accepted.
    edges = [
        await create(api, token, " ab ", description="d" * 300, color="#000000", targetPerWeek=1),
        await create(api, token, f" {'n' * 60} ", color="#FFFFFF", frequency="WEEKLY"),
    ]
    assert [habit["name"] for habit in edges] == ["ab", "n" * 60]
    assert edges[0]["description"] == "d" * 300
    assert await names(api, token) == ["Read a book", "Swim", "ab", "n" * 60]


INVALID_FIELDS = [
    pytest.param({"name": ""}, "name", id="empty-name"),
    pytest.param({"name": "   "}, "name", id="blank-name"),
    pytest.param({"name": "  x  "}, "name", id="one-character-name"),
    pytest.param({"name": "x" * 61}, "name", id="long-name"),
    pytest.param({"description": "d" * 301}, "description", id="long-description"),
    pytest.param({"color": "red"}, "color", id="colour-word"),
    pytest.param({"color": "#3FA"}, "color", id="short-colour"),
    pytest.param({"color": "#3FA34D0"}, "color", id="long-colour"),
    pytest.param({"color": "3FA34D"}, "color", id="colour-without-hash"),
    pytest.param({"color": "#GGGGGG"}, "color", id="colour-not-hex"),
    pytest.param({"targetPerWeek": 0}, "targetPerWeek", id="target-0"),
    pytest.param({"targetPerWeek": 8}, "targetPerWeek", id="target-8"),
    pytest.param({"frequency": "WEEKLY", "targetPerWeek": -1}, "targetPerWeek", id="target-neg"),
]


@pytest.mark.parametrize(("fields", "field"), INVALID_FIELDS)
async def test_invalid_habits_are_refused(api: Api, fields: dict[str, Any], field: str) -> None:
    token = await member(api, "invalid@example.com")
    payload = await send(api, token, "CreateHabit", input={"name": "Read", **fields})
    assert payload["habit"] is None
    assert problems(payload) == [("INVALID", ["input", field])]
    assert await listed(api, token, include_archived=True) == []


@pytest.mark.parametrize(("fields", "field"), INVALID_FIELDS)
async def test_invalid_updates_change_nothing(api: Api, fields: dict[str, Any], field: str) -> None:
    token = await member(api, "invalid-update@example.com")
    habit = await create(api, token, "Read", color="#111111")
    # A valid change sent with the invalid one is not stored either.
    changes = {"description": "Every evening", **fields}
    payload = await send(api, token, "UpdateHabit", id=habit["id"], input=changes)
    assert payload["habit"] is None
    assert problems(payload) == [("INVALID", ["input", field])]
    assert await one(api, token, habit["id"]) == {**habit, "checkIns": []}


@pytest.mark.parametrize("bad", unstorable.UNSTORABLE)
@pytest.mark.parametrize("field", ["name", "description"])
async def test_text_postgresql_cannot_hold_is_refused(api: Api, bad: str, field: str) -> None:
    token = await member(api, "unstorable@example.com")
    created = await unstorable.send(
        api, "CreateHabit", {"input": {"name": "Read", field: f"Re{bad}"}}, token
    )
    payload = created["data"]["createHabit"]
    assert (payload["habit"], problems(payload)) == (None, [("INVALID", ["input", field])])
    assert await listed(api, token, include_archived=True) == []
    habit = await create(api, token, "Read")
    updated = await unstorable.send(
        api, "UpdateHabit", {"id": habit["id"], "input": {field: f"Re{bad}"}}, token
    )
    assert problems(updated["data"]["updateHabit"]) == [("INVALID", ["input", field])]
    assert await one(api, token, habit["id"]) == {**habit, "checkIns": []}


async def test_every_problem_is_reported_at_once(api: Api) -> None:
    token = await member(api, "problems@example.com")
    bad = {"name": "x", "description": "d" * 301, "color": "blue", "targetPerWeek": 9}
    payload = await send(api, token, "CreateHabit", input=bad)
    assert sorted(field[-1] for _, field in problems(payload) if field) == [
        "color",
        "description",
        "name",
        "targetPerWeek",
    ]
    assert {code for code, _ in problems(payload)} == {"INVALID"}
    assert await listed(api, token, include_archived=True) == []


async def test_frequency_is_daily_or_weekly(api: Api) -> None:
    token = await member(api, "frequency@example.com")
    monthly = {"input": {"name": "Read", "frequency": "MONTHLY"}}
    result = await api.op("CreateHabit", monthly, token)
    # The schema's enum refuses it before any resolver runs.
    assert result.get("data") is None
    assert errors_of(result) == ["BAD_USER_INPUT"]
    assert await listed(api, token, include_archived=True) == []

    habit = await create(api, token, "Read")
    weekly = await send(
        api, token, "UpdateHabit", id=habit["id"], input={"frequency": "WEEKLY", "targetPerWeek": 2}
    )
    assert (weekly["habit"]["frequency"], weekly["habit"]["targetPerWeek"]) == ("WEEKLY", 2)
    daily = await send(api, token, "UpdateHabit", id=habit["id"], input={"frequency": "DAILY"})
    assert daily["habit"]["frequency"] == "DAILY"


async def test_update_trims_and_clears(api: Api) -> None:
    token = await member(api, "update@example.com")
    habit = await create(api, token, "Read", description="Books", color="#123456")
    payload = await send(
        api,
        token,
        "UpdateHabit",
        id=habit["id"],
        input={"name": "  Read more ", "description": None, "color": None},
    )
    assert payload["userErrors"] == []
    updated = payload["habit"]
    assert (updated["name"], updated["description"], updated["color"]) == ("Read more", None, None)
    # Fields left out keep their values.
    payload = await send(api, token, "UpdateHabit", id=habit["id"], input={"color": "#ABCDEF"})
    assert (payload["habit"]["name"], payload["habit"]["color"]) == ("Read more", "#ABCDEF")


async def test_names_are_unique_among_active_habits(api: Api) -> None:
    token = await member(api, "unique@example.com")
    first = await create(api, token, "Read")

    taken = await send(api, token, "CreateHabit", input={"name": "  read "})
    assert taken["habit"] is None
    assert problems(taken) == [("CONFLICT", ["input", "name"])]
    assert await names(api, token, include_archived=True) == ["Read"]

    other = await create(api, token, "Write")
    renamed = await send(api, token, "UpdateHabit", id=other["id"], input={"name": "READ"})
    assert problems(renamed) == [("CONFLICT", ["input", "name"])]
    # A habit may keep its own name, in another case.
    recased = await send(api, token, "UpdateHabit", id=first["id"], input={"name": "READ"})
    assert recased["userErrors"] == []
    assert recased["habit"]["name"] == "READ"

    # An archived habit's name is free again.
    archived = await send(api, token, "ArchiveHabit", id=first["id"], archived=True)
    assert archived["userErrors"] == []
    second = await create(api, token, "Read")
    assert await names(api, token, include_archived=True) == ["READ", "Write", "Read"]

    # ... but unarchiving into it is a conflict, and nothing changes.
    back = await send(api, token, "ArchiveHabit", id=first["id"], archived=False)
    assert back["habit"] is None
    assert [code for code, _ in problems(back)] == ["CONFLICT"]
    assert (await one(api, token, first["id"]))["archived"] is True

    # An archived habit may take an active habit's name, and then cannot come back either.
    clash = await create(api, token, "Swim")
    await send(api, token, "ArchiveHabit", id=clash["id"], archived=True)
    renamed = await send(api, token, "UpdateHabit", id=clash["id"], input={"name": "write"})
    assert (renamed["userErrors"], renamed["habit"]["name"]) == ([], "write")
    back = await send(api, token, "ArchiveHabit", id=clash["id"], archived=False)
    assert [code for code, _ in problems(back)] == ["CONFLICT"]

    # Renaming the active one frees the name; then the archived one can come back.
    await send(api, token, "UpdateHabit", id=second["id"], input={"name": "Read again"})
    back = await send(api, token, "ArchiveHabit", id=first["id"], archived=False)
    assert back["userErrors"] == []
    assert back["habit"] == {"id": first["id"], "archived": False}

    # Another user's names are theirs.
    stranger = await member(api, "unique-other@example.com")
    assert (await create(api, stranger, "Read"))["name"] == "Read"


async def test_simultaneous_requests_keep_the_rules(api: Api) -> None:
    token = await member(api, "race@example.com")
    creating = [api.op("CreateHabit", {"input": {"name": "Read"}}, token) for _ in range(5)]
    payloads = [result["data"]["createHabit"] for result in await asyncio.gather(*creating)]
    assert sorted(code for p in payloads for code, _ in problems(p)) == ["CONFLICT"] * 4
    assert await names(api, token, include_archived=True) == ["Read"]
    habit = next(p["habit"] for p in payloads if p["habit"])
    await asyncio.gather(*(check_in(api, token, habit["id"]) for _ in range(5)))
    assert await days(api, token, habit["id"]) == ["2026-03-28"]


# Order, archive, delete ------------------------------------------------------------------


async def test_positions_and_reorder(api: Api) -> None:
    token = await member(api, "order@example.com")
    a, b, c = [await create(api, token, name) for name in ("Alpha", "Bravo", "Charlie")]
    assert [habit["position"] for habit in (a, b, c)] == [0, 1, 2]
    assert await names(api, token) == ["Alpha", "Bravo", "Charlie"]
    await send(api, token, "ArchiveHabit", id=b["id"], archived=True)

    refused = [
        [c["id"], a["id"]],  # the archived one is missing
        [c["id"], b["id"], a["id"], a["id"]],  # a duplicate
        [c["id"], b["id"], b["id"]],  # a duplicate instead of one
        [c["id"], b["id"], a["id"], f"habit_{uuid.uuid4()}"],  # an unknown one
        [c["id"], b["id"], f"habit_{uuid.uuid4()}"],  # an unknown one instead of one
        [c["id"], b["id"], "not-an-id"],
        [c["id"], b["id"], a["id"].replace("habit_", "task_")],  # the right UUID, wrong type
        [],
    ]
    for ids in refused:
        payload = await send(api, token, "ReorderHabits", ids=ids)
        assert payload["habits"] is None, ids
        assert problems(payload) == [("INVALID", ["ids"])], ids
        assert await names(api, token, include_archived=True) == ["Alpha", "Bravo", "Charlie"]

    payload = await send(api, token, "ReorderHabits", ids=[c["id"], b["id"], a["id"]])
    assert payload["userErrors"] == []
    assert payload["habits"] == [
        {"id": c["id"], "position": 0},
        {"id": b["id"], "position": 1},
        {"id": a["id"], "position": 2},
    ]
    assert await names(api, token) == ["Charlie", "Alpha"]
    assert await names(api, token, include_archived=True) == ["Charlie", "Bravo", "Alpha"]
    positions = [h["position"] for h in await listed(api, token, include_archived=True)]
    assert positions == [0, 1, 2]

    # A new habit goes last; unarchiving keeps the place.
    delta = await create(api, token, "Delta")
    assert delta["position"] == 3
    await send(api, token, "ArchiveHabit", id=b["id"], archived=False)
    assert await names(api, token) == ["Charlie", "Bravo", "Alpha", "Delta"]


async def test_archive_unarchive_and_delete(api: Api) -> None:
    token = await member(api, "archive@example.com")
    keep = await create(api, token, "Keep")
    habit = await create(api, token, "Stretch")
    await check_in(api, token, habit["id"])

    archived = await send(api, token, "ArchiveHabit", id=habit["id"], archived=True)
    assert archived == {"habit": {"id": habit["id"], "archived": True}, "userErrors": []}
    again = await send(api, token, "ArchiveHabit", id=habit["id"], archived=True)
    assert again["habit"] == {"id": habit["id"], "archived": True}
    assert await names(api, token) == ["Keep"]
    assert await names(api, token, include_archived=False) == ["Keep"]
    assert await names(api, token, include_archived=True) == ["Keep", "Stretch"]
    # Archiving keeps the history.
    assert await days(api, token, habit["id"]) == ["2026-03-28"]

    unarchived = await send(api, token, "ArchiveHabit", id=habit["id"], archived=False)
    assert unarchived["habit"] == {"id": habit["id"], "archived": False}
    assert await names(api, token) == ["Keep", "Stretch"]

    deleted = await send(api, token, "DeleteHabit", id=habit["id"])
    assert deleted == {"deletedId": habit["id"], "userErrors": []}
    assert await names(api, token, include_archived=True) == ["Keep"]
    assert (await api.op("Node", {"id": habit["id"]}, token))["data"]["node"] is None
    gone = await send(api, token, "DeleteHabit", id=habit["id"])
    assert (gone["deletedId"], problems(gone)) == (None, [("NOT_FOUND", ["id"])])
    for operation, variables in [
        ("CheckInHabit", {"id": habit["id"]}),
        ("ArchiveHabit", {"id": habit["id"], "archived": True}),
    ]:
        payload = await send(api, token, operation, **variables)
        assert problems(payload) == [("NOT_FOUND", ["id"])], operation
    # The order no longer holds it, and its name is free.
    payload = await send(api, token, "ReorderHabits", ids=[keep["id"], habit["id"]])
    assert problems(payload) == [("INVALID", ["ids"])]
    payload = await send(api, token, "ReorderHabits", ids=[keep["id"]])
    assert payload == {"habits": [{"id": keep["id"], "position": 0}], "userErrors": []}
    assert (await create(api, token, "Stretch"))["name"] == "Stretch"


# Check-ins -------------------------------------------------------------------------------


async def test_check_ins_are_one_a_day_and_undoable(api: Api) -> None:
    token = await member(api, "checkin@example.com")
    habit = await create(api, token, "Walk")

    today = await check_in(api, token, habit["id"])
    assert today == {"id": habit["id"], "currentStreak": 1, "longestStreak": 1, "doneToday": True}
    twice = await check_in(api, token, habit["id"])
    assert twice == today
    explicit = await check_in(api, token, habit["id"], "2026-03-28")
    assert explicit == today
    assert await days(api, token, habit["id"]) == ["2026-03-28"]

    await check_in_all(api, token, habit["id"], "2026-03-27", "2026-03-20")
    assert await days(api, token, habit["id"]) == ["2026-03-20", "2026-03-27", "2026-03-28"]
    assert await figures(api, token, habit["id"]) == (2, 2, True)

    future = await send(api, token, "CheckInHabit", id=habit["id"], date="2026-03-29")
    assert future["habit"] is None
    assert problems(future) == [("INVALID", ["date"])]
    assert await days(api, token, habit["id"]) == ["2026-03-20", "2026-03-27", "2026-03-28"]

    window = await listed(api, token, since="2026-03-21", until="2026-03-27")
    assert window[0]["checkIns"] == [{"date": "2026-03-27"}]
    edges = await listed(api, token, since="2026-03-20", until="2026-03-20")
    assert edges[0]["checkIns"] == [{"date": "2026-03-20"}]

    undone = await send(api, token, "UndoCheckIn", id=habit["id"], date="2026-03-28")
    assert undone == {
        "habit": {"id": habit["id"], "currentStreak": 1, "doneToday": False},
        "userErrors": [],
    }
    # Undoing a day without a check-in changes nothing.
    undone = await send(api, token, "UndoCheckIn", id=habit["id"], date="2026-03-01")
    assert undone["userErrors"] == []
    assert await days(api, token, habit["id"]) == ["2026-03-20", "2026-03-27"]
    await send(api, token, "UndoCheckIn", id=habit["id"], date="2026-03-27")
    assert await figures(api, token, habit["id"]) == (0, 1, False)


@pytest.mark.parametrize(
    ("timezone", "today", "tomorrow"),
    [
        pytest.param("Asia/Tokyo", "2026-03-29", "2026-03-30", id="tokyo"),
        pytest.param("America/Los_Angeles", "2026-03-28", "2026-03-29", id="los-angeles"),
        pytest.param("UTC", "2026-03-28", "2026-03-29", id="utc"),
    ],
)
async def test_today_is_the_users_today(
    api: Api, now: Clock, timezone: str, today: str, tomorrow: str
) -> None:
    now[0] = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    token = await member(api, "zone@example.com", timezone=timezone)
    habit = await create(api, token, "Meditate")
    assert (await check_in(api, token, habit["id"]))["doneToday"] is True
    assert await days(api, token, habit["id"]) == [today]
    assert await figures(api, token, habit["id"]) == (1, 1, True)
    future = await send(api, token, "CheckInHabit", id=habit["id"], date=tomorrow)
    assert problems(future) == [("INVALID", ["date"])]
    assert await days(api, token, habit["id"]) == [today]


async def test_changing_time_zone_moves_today(api: Api, now: Clock) -> None:
    now[0] = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    token = await member(api, "travel@example.com", timezone="America/Los_Angeles")
    habit = await create(api, token, "Journal")
    await check_in(api, token, habit["id"])  # 28 March in Los Angeles
    await set_calendar(api, token, timezone="Asia/Tokyo")
    # Already 29 March in Tokyo: not done today, yesterday's streak still alive.
    assert await figures(api, token, habit["id"]) == (1, 1, False)
    await check_in(api, token, habit["id"])
    assert await days(api, token, habit["id"]) == ["2026-03-28", "2026-03-29"]
    assert await figures(api, token, habit["id"]) == (2, 2, True)


# Streaks ---------------------------------------------------------------------------------


async def test_daily_streak_across_a_month_end(api: Api, now: Clock) -> None:
    token = await member(api, "month@example.com")
    habit = await create(api, token, "Run")
    now[0] = datetime(2026, 2, 2, 18, tzinfo=UTC)
    await check_in_all(
        api, token, habit["id"], "2026-01-29", "2026-01-30", "2026-01-31", "2026-02-01"
    )
    assert await figures(api, token, habit["id"]) == (4, 4, False)  # today still open
    assert (await check_in(api, token, habit["id"]))["currentStreak"] == 5
    assert await figures(api, token, habit["id"]) == (5, 5, True)
    now[0] = datetime(2026, 2, 3, 18, tzinfo=UTC)
    assert await figures(api, token, habit["id"]) == (5, 5, False)  # alive until today ends
    now[0] = datetime(2026, 2, 4, 18, tzinfo=UTC)
    assert await figures(api, token, habit["id"]) == (0, 5, False)
    await check_in_all(api, token, habit["id"], "2026-02-03", "2026-02-04")
    assert await figures(api, token, habit["id"]) == (7, 7, True)
    # A gap on 2 Feb: 29 Jan to 1 Feb stays the longest run, 3 and 4 Feb is the current one.
    await send(api, token, "UndoCheckIn", id=habit["id"], date="2026-02-02")
    assert await figures(api, token, habit["id"]) == (2, 4, True)


async def test_daily_streak_across_a_dst_change(api: Api, now: Clock) -> None:
    """Europe/Paris springs forward at 02:00 on 29 March 2026 (01:00Z): CET +1 to CEST +2."""
    token = await member(api, "paris@example.com", timezone="Europe/Paris")
    habit = await create(api, token, "Practise piano")
    steps = [
        # (the clock, today in Paris)
        (datetime(2026, 3, 27, 22, 45, tzinfo=UTC), "2026-03-27"),  # 23:45 CET
        (datetime(2026, 3, 28, 22, 45, tzinfo=UTC), "2026-03-28"),  # 23:45 CET
        (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "2026-03-29"),  # 03:30 CEST, just after
        (datetime(2026, 3, 29, 22, 15, tzinfo=UTC), "2026-03-30"),  # 00:15 CEST
        (datetime(2026, 3, 31, 21, 45, tzinfo=UTC), "2026-03-31"),  # 23:45 CEST
    ]
    for count, (moment, today) in enumerate(steps, start=1):
        now[0] = moment
        assert (await figures(api, token, habit["id"]))[2] is False, today
        checked = await check_in(api, token, habit["id"])
        assert (checked["currentStreak"], checked["doneToday"]) == (count, True), today
        assert (await days(api, token, habit["id"]))[-1] == today
    assert await days(api, token, habit["id"]) == [f"2026-03-{day}" for day in range(27, 32)]
    assert await figures(api, token, habit["id"]) == (5, 5, True)

    # 21:45Z on 29 March is still the 29th in Paris (23:45 CEST): done today already.
    now[0] = datetime(2026, 3, 29, 21, 45, tzinfo=UTC)
    assert (await check_in(api, token, habit["id"]))["doneToday"] is True
    assert len(await days(api, token, habit["id"])) == 5


async def test_weekly_streak_depends_on_week_start(api: Api, now: Clock) -> None:
    now[0] = datetime(2026, 3, 25, 12, tzinfo=UTC)  # a Wednesday
    token = await member(api, "weeks@example.com")
    habit = await create(api, token, "Yoga", frequency="WEEKLY", targetPerWeek=2)
    # Sunday and Monday of three weeks in a row: 8-9, 15-16, 22-23 March.
    await check_in_all(
        api,
        token,
        habit["id"],
        *["2026-03-08", "2026-03-09", "2026-03-15", "2026-03-16", "2026-03-22", "2026-03-23"],
    )
    # Weeks from Monday (the default): 2 Mar (one), 9 and 16 Mar (two each), 23 Mar (one,
    # still open): two weeks in a row, alive.
    assert await figures(api, token, habit["id"]) == (2, 2, False)
    # Weeks from Sunday: each pair is one week, three in a row up to this one.
    await set_calendar(api, token, week_start=0)
    assert await figures(api, token, habit["id"]) == (3, 3, False)
    # Weeks from Saturday: the same.
    await set_calendar(api, token, week_start=6)
    assert await figures(api, token, habit["id"]) == (3, 3, False)
    # Weeks from Tuesday: 3 Mar (8, 9), 10 Mar (15, 16), 17 Mar (22, 23), 24 Mar (none yet).
    await set_calendar(api, token, week_start=2)
    assert await figures(api, token, habit["id"]) == (3, 3, False)

    # A week below the target breaks the streak once it is over.
    await set_calendar(api, token, week_start=0)
    now[0] = datetime(2026, 4, 5, 12, tzinfo=UTC)  # Sunday: the week of 29 Mar is over
    assert await figures(api, token, habit["id"]) == (0, 3, False)
    await check_in_all(api, token, habit["id"], "2026-04-05")
    assert await figures(api, token, habit["id"]) == (0, 3, True)
    await check_in_all(api, token, habit["id"], "2026-04-01", "2026-03-31")
    # Now the week of 29 Mar reaches 2: four weeks in a row up to last week, alive.
    assert await figures(api, token, habit["id"]) == (4, 4, True)


async def test_weekly_streak_across_a_month_end(api: Api, now: Clock) -> None:
    now[0] = datetime(2026, 2, 11, 12, tzinfo=UTC)  # Wednesday
    token = await member(api, "weekly-month@example.com", timezone="Europe/Paris")
    habit = await create(api, token, "Climb", frequency="WEEKLY", targetPerWeek=3)
    # Weeks from Monday 26 Jan (29, 30, 31 Jan) and 2 Feb (1 Feb is a Sunday: week of 26 Jan).
    await check_in_all(
        api, token, habit["id"], "2026-01-29", "2026-01-30", "2026-02-01", "2026-02-02"
    )
    assert await figures(api, token, habit["id"]) == (0, 1, False)  # 2 Feb week has one
    await check_in_all(api, token, habit["id"], "2026-02-04", "2026-02-06")
    assert await figures(api, token, habit["id"]) == (2, 2, False)
    await check_in_all(api, token, habit["id"], "2026-02-09", "2026-02-10", "2026-02-11")
    assert await figures(api, token, habit["id"]) == (3, 3, True)


async def test_completion_rate(api: Api, services: Services, now: Clock) -> None:
    now[0] = datetime(2026, 3, 30, 12, tzinfo=UTC)
    token = await member(api, "rate@example.com")
    daily = await create(api, token, "Daily")
    weekly = await create(api, token, "Weekly", frequency="WEEKLY", targetPerWeek=3)
    recent = await create(api, token, "Recent")
    fresh = await create(api, token, "Fresh")
    for habit in (daily, weekly):
        await backdate(services, habit["id"], datetime(2026, 1, 1, tzinfo=UTC))
    await backdate(services, recent["id"], datetime(2026, 3, 21, 9, tzinfo=UTC))
    await backdate(services, fresh["id"], datetime(2026, 3, 30, 9, tzinfo=UTC))

    # Daily: every other day of the last 30 (1 to 29 March), and 3 of the last 7.
    every_other_day = [f"2026-03-{day:02}" for day in range(1, 30, 2)]
    await check_in_all(api, token, daily["id"], *every_other_day)
    # Weekly, 3 a week: 6 check-ins in the last 30 days, one of them in the last 7.
    await check_in_all(
        api,
        token,
        weekly["id"],
        *["2026-03-03", "2026-03-07", "2026-03-11", "2026-03-15", "2026-03-19", "2026-03-27"],
    )
    # Started 10 days ago (21 March): measured over those 10 days only.
    await check_in_all(api, token, recent["id"], *[f"2026-03-{day}" for day in range(21, 31)])

    result = await api.query(RATES, {}, token)
    assert "errors" not in result, result
    rates = {habit.pop("name"): habit for habit in result["data"]["habits"]}
    assert rates["Daily"] == {"week": round(3 / 7, 4), "month": 0.5, "default": 0.5}
    # Due: 3 a week, so 30 * 3 / 7 in 30 days and 3 in 7.
    assert rates["Weekly"]["month"] == round(6 / (30 * 3 / 7), 4)
    assert rates["Weekly"]["week"] == round(1 / 3, 4)
    assert rates["Recent"] == {"week": 1.0, "month": 1.0, "default": 1.0}
    assert rates["Fresh"] == {"week": 0.0, "month": 0.0, "default": 0.0}
    contract = {h["name"]: h["completionRate"] for h in await listed(api, token)}
    assert contract == {
        "Daily": 0.5,
        "Weekly": rates["Weekly"]["month"],
        "Recent": 1.0,
        "Fresh": 0.0,
    }
    await check_in(api, token, fresh["id"])
    assert {h["name"]: h["completionRate"] for h in await listed(api, token)}["Fresh"] == 1.0


# Loading ---------------------------------------------------------------------------------


async def test_listing_runs_a_constant_number_of_statements(
    api: Api, statements: StatementCounter
) -> None:
    token = await member(api, "count@example.com")
    created = 0

    async def statements_for(habits: int) -> int:
        nonlocal created
        for index in range(created, habits):
            habit = await create(api, token, f"Habit {index}", frequency="WEEKLY", targetPerWeek=2)
            await check_in_all(api, token, habit["id"], "2026-03-27", "2026-03-28")
            if index % 4 == 0:
                await send(api, token, "ArchiveHabit", id=habit["id"], archived=True)
        created = habits
        statements.count = 0
        loaded = await listed(api, token, include_archived=True)
        assert len(loaded) == habits
        assert all(len(habit["checkIns"]) == 2 for habit in loaded)
        assert all(habit["currentStreak"] == 1 for habit in loaded)
        return statements.count

    assert await statements_for(3) == 3  # principal, habits, check-ins
    assert await statements_for(15) == 3


# Ownership -------------------------------------------------------------------------------


async def test_another_users_habit_is_not_found_by_any_path(api: Api) -> None:
    owner = await member(api, "owner@example.com")
    other = await member(api, "other@example.com")
    habit = await create(api, owner, "Private", description="Mine")
    await check_in(api, owner, habit["id"], "2026-03-27")
    own = await create(api, other, "Theirs")
    before = await one(api, owner, habit["id"])

    assert (await api.op("Node", {"id": habit["id"]}, other))["data"]["node"] is None
    mine = (await api.op("Node", {"id": habit["id"]}, owner))["data"]["node"]
    assert mine == {"id": habit["id"], "__typename": "Habit", "name": "Private"}
    assert (await api.query(HABIT, {"id": habit["id"]}, other))["data"]["habit"] is None
    assert await names(api, other, include_archived=True) == ["Theirs"]

    attempts: list[tuple[str, dict[str, Any]]] = [
        ("UpdateHabit", {"id": habit["id"], "input": {"name": "Taken over"}}),
        ("ArchiveHabit", {"id": habit["id"], "archived": True}),
        ("CheckInHabit", {"id": habit["id"]}),
        ("CheckInHabit", {"id": habit["id"], "date": "2026-03-26"}),
        ("UndoCheckIn", {"id": habit["id"], "date": "2026-03-27"}),
        ("DeleteHabit", {"id": habit["id"]}),
    ]
    for operation, variables in attempts:
        payload = await send(api, other, operation, **variables)
        assert problems(payload) == [("NOT_FOUND", ["id"])], operation

    for ids in ([own["id"], habit["id"]], [habit["id"]], [habit["id"], own["id"]]):
        payload = await send(api, other, "ReorderHabits", ids=ids)
        assert problems(payload) == [("INVALID", ["ids"])], ids
    # The owner cannot list another's habit in their order either.
    payload = await send(api, owner, "ReorderHabits", ids=[own["id"], habit["id"]])
    assert problems(payload) == [("INVALID", ["ids"])]

    assert await one(api, owner, habit["id"]) == before
    assert await names(api, other) == ["Theirs"]
    assert errors_of(await api.op("Habits", {"from": "2026-01-01", "to": "2026-12-31"})) == [
        "UNAUTHENTICATED"
    ]
    assert errors_of(await api.op("CheckInHabit", {"id": habit["id"]})) == ["UNAUTHENTICATED"]


# Client-minted IDs -----------------------------------------------------------------------


async def test_client_minted_ids(api: Api) -> None:
    token = await member(api, "offline@example.com")
    minted = f"habit_{uuid.uuid4()}"
    result = await api.query(CREATE_WITH_ID, {"input": {"id": minted, "name": "Offline"}}, token)
    payload = result["data"]["createHabit"]
    assert payload == {"habit": {"id": minted, "name": "Offline"}, "userErrors": []}
    node = (await api.op("Node", {"id": minted}, token))["data"]["node"]
    assert node == {"id": minted, "__typename": "Habit", "name": "Offline"}
    assert (await check_in(api, token, minted))["id"] == minted

    again = await api.query(CREATE_WITH_ID, {"input": {"id": minted, "name": "Again"}}, token)
    assert problems(again["data"]["createHabit"]) == [("CONFLICT", ["input", "id"])]
    stranger = await member(api, "offline-other@example.com")
    theirs = await api.query(CREATE_WITH_ID, {"input": {"id": minted, "name": "Mine"}}, stranger)
    assert problems(theirs["data"]["createHabit"]) == [("CONFLICT", ["input", "id"])]
    assert await names(api, stranger, include_archived=True) == []

    for bad in (f"task_{uuid.uuid4()}", "habit_not-a-uuid", "habit"):
        refused = await api.query(CREATE_WITH_ID, {"input": {"id": bad, "name": "Bad"}}, token)
        assert problems(refused["data"]["createHabit"]) == [("INVALID", ["input", "id"])], bad
    assert await names(api, token, include_archived=True) == ["Offline"]


async def test_a_check_in_on_the_first_day_of_the_calendar_keeps_weekly_habits_working(
    api: Api,
) -> None:
    """0001-01-01 is a Monday: its week from Sunday began before the calendar does."""
    token = await member(api, "year-one@example.com", week_start=0)
    habit = await create(api, token, "Yoga", frequency="WEEKLY", targetPerWeek=2)
    await check_in_all(api, token, habit["id"], "0001-01-01")
    assert await figures(api, token, habit["id"]) == (0, 0, False)
    summary = await api.op("Habits", {"from": "0001-01-01", "to": "0001-01-07"}, token)
    assert "errors" not in summary, summary
    assert summary["data"]["habits"][0]["checkIns"] == [{"date": "0001-01-01"}]
