"""Recurring tasks: completing an occurrence records it and moves the task to the next,
in the user's time zone; the rule's end makes the task DONE. A task lists its completions."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import Api, StatementCounter
from planning_operations import problems, run, task

from lifegraph.services import build_services
from lifegraph.settings import Settings
from resolvers.context import Services
from storage.ocr import OcrEngine

Clock = list[datetime]


@pytest.fixture
def now() -> Clock:
    """The clock of the app: tests move it by setting ``now[0]``."""
    return [datetime(2026, 1, 1, 12, tzinfo=UTC)]


@pytest.fixture
def services(settings: Settings, local_ocr: OcrEngine, now: Clock) -> Services:
    return dataclasses.replace(build_services(settings), ocr=local_ocr, clock=lambda: now[0])


async def user_in(api: Api, email: str, timezone: str = "UTC") -> str:
    token: str = (await api.register(email))["accessToken"]
    result = await api.op("UpdateProfile", {"input": {"settings": {"timezone": timezone}}}, token)
    assert "errors" not in result, result
    return token


async def complete(api: Api, token: str, task_id: str) -> dict[str, Any]:
    payload: dict[str, Any] = await run(api, token, "CompleteTask", id=task_id)
    assert payload["userErrors"] == [], payload
    return payload


async def dues(api: Api, token: str, task_id: str, times: int) -> list[str]:
    """The dueAt after each of ``times`` completions."""
    found = []
    for _ in range(times):
        found.append((await complete(api, token, task_id))["task"]["dueAt"])
    return found


async def test_weekly_by_weekday_stays_at_local_time_across_dst(api: Api, now: Clock) -> None:
    now[0] = datetime(2026, 10, 1, tzinfo=UTC)
    token = await user_in(api, "berlin@example.com", "Europe/Berlin")
    # Mondays and Thursdays 09:00 in Berlin; summer time ends on Sunday 25 October.
    created = await task(
        api, token, "Gym", dueAt="2026-10-19T07:00:00Z", recurrence="freq=weekly;byday=MO,TH"
    )
    assert created["recurrence"] == "FREQ=WEEKLY;BYDAY=MO,TH"
    first = await complete(api, token, created["id"])
    assert first["completion"]["dueAt"] == "2026-10-19T07:00:00Z"
    assert (first["task"]["status"], first["task"]["completedAt"]) == ("TODO", None)
    assert first["task"]["dueAt"] == "2026-10-22T07:00:00Z"
    assert await dues(api, token, created["id"], 2) == [
        "2026-10-26T08:00:00Z",  # 09:00 CET
        "2026-10-29T08:00:00Z",
    ]


async def test_monthly_on_the_31st_skips_shorter_months(api: Api) -> None:
    token = await user_in(api, "monthly@example.com")
    created = await task(
        api, token, "Rent", dueAt="2026-01-31T10:00:00Z", recurrence="FREQ=MONTHLY;BYMONTHDAY=31"
    )
    assert await dues(api, token, created["id"], 3) == [
        "2026-03-31T10:00:00Z",
        "2026-05-31T10:00:00Z",
        "2026-07-31T10:00:00Z",
    ]


async def test_count_ends_the_rule_and_the_task_is_done(api: Api) -> None:
    token = await user_in(api, "count@example.com")
    created = await task(
        api, token, "Pills", dueAt="2026-02-01T08:00:00Z", recurrence="FREQ=DAILY;COUNT=3"
    )
    assert await dues(api, token, created["id"], 2) == [
        "2026-02-02T08:00:00Z",
        "2026-02-03T08:00:00Z",
    ]
    last = await complete(api, token, created["id"])
    assert (last["task"]["status"], last["task"]["dueAt"]) == ("DONE", "2026-02-03T08:00:00Z")
    assert last["task"]["completedAt"] == last["completion"]["completedAt"]


async def test_until_ends_the_rule_and_status_done_completes_an_occurrence(api: Api) -> None:
    token = await user_in(api, "until@example.com")
    created = await task(
        api,
        token,
        "Water",
        dueAt="2026-03-01T18:00:00Z",
        recurrence="FREQ=WEEKLY;UNTIL=20260310T000000Z",
        remindAt="2026-03-01T17:30:00Z",
    )
    done = await api.op("UpdateTask", {"id": created["id"], "input": {"status": "DONE"}}, token)
    moved = done["data"]["updateTask"]["task"]
    assert (moved["status"], moved["dueAt"]) == ("TODO", "2026-03-08T18:00:00Z")
    listed = await run(api, token, "PlannedTasks")
    assert listed["edges"][0]["node"]["remindAt"] == "2026-03-08T17:30:00Z"  # moved as much
    ended = await complete(api, token, created["id"])
    assert ended["task"]["status"] == "DONE"


async def test_an_overdue_occurrence_moves_to_the_next_after_now(api: Api, now: Clock) -> None:
    token = await user_in(api, "late@example.com")
    created = await task(
        api, token, "Plants", dueAt="2026-01-05T09:00:00Z", recurrence="FREQ=WEEKLY;BYDAY=MO"
    )
    now[0] = datetime(2026, 1, 21, 12, tzinfo=UTC)  # a Wednesday, two Mondays missed
    late = await complete(api, token, created["id"])
    assert late["completion"] == {
        "dueAt": "2026-01-05T09:00:00Z",
        "completedAt": "2026-01-21T12:00:00Z",
    }
    assert late["task"]["dueAt"] == "2026-01-26T09:00:00Z"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"dueAt": "2026-01-05T09:00:00Z", "recurrence": "FREQ=SOMETIMES"}, "recurrence"),
        ({"dueAt": "2026-01-05T09:00:00Z", "recurrence": "every monday"}, "recurrence"),
        (
            {"dueAt": "2026-01-05T09:00:00Z", "recurrence": "DTSTART:20260101T000000Z"},
            "recurrence",
        ),
        ({"dueAt": "2026-01-05T09:00:00Z", "recurrence": "FREQ=HOURLY"}, "recurrence"),
        (  # February 30th, looked for every day
            {"dueAt": "2026-01-05T09:00:00Z", "recurrence": "FREQ=DAILY;BYMONTHDAY=30"},
            "recurrence",
        ),
        ({"recurrence": "FREQ=DAILY"}, "recurrence"),
    ],
)
async def test_bad_recurrences_are_refused(api: Api, fields: dict[str, Any], field: str) -> None:
    token = await user_in(api, "bad-rule@example.com")
    payload = await run(api, token, "CreatePlannedTask", input={"title": "x", **fields})
    assert problems(payload) == [(["input", field], "INVALID")]


async def test_clearing_the_due_date_of_a_recurring_task_is_refused(api: Api) -> None:
    token = await user_in(api, "clear-due@example.com")
    created = await task(api, token, "Daily", dueAt="2026-01-05T09:00:00Z", recurrence="FREQ=DAILY")
    result = await api.op("UpdateTask", {"id": created["id"], "input": {"dueAt": None}}, token)
    assert problems(result["data"]["updateTask"]) == [(["input", "recurrence"], "INVALID")]
    cleared = await api.op(
        "UpdateTask", {"id": created["id"], "input": {"dueAt": None, "recurrence": None}}, token
    )
    assert cleared["data"]["updateTask"]["userErrors"] == []


COMPLETIONS = """query {
  tasks(first: 50) { edges { node { id completions { dueAt completedAt } } } }
}"""


async def completions(api: Api, token: str) -> dict[str, list[dict[str, Any]]]:
    result = await api.query(COMPLETIONS, {}, token)
    assert "errors" not in result, result
    edges = result["data"]["tasks"]["edges"]
    return {edge["node"]["id"]: edge["node"]["completions"] for edge in edges}


async def test_a_tasks_completions_are_listed_oldest_first_in_one_statement(
    api: Api, now: Clock, statements: StatementCounter
) -> None:
    token = await user_in(api, "completions@example.com")
    daily = await task(api, token, "Stretch", dueAt="2026-01-01T08:00:00Z", recurrence="FREQ=DAILY")
    once = await task(api, token, "Call the bank")
    never = await task(api, token, "Someday")
    done = []
    for hour in (13, 14):
        now[0] = datetime(2026, 1, 1, hour, tzinfo=UTC)
        done.append((await complete(api, token, daily["id"]))["completion"])
    done_once = (await complete(api, token, once["id"]))["completion"]

    statements.count = 0
    found = await completions(api, token)
    assert statements.count == 3  # principal, page, completions
    assert found[daily["id"]] == done
    assert [c["completedAt"] for c in done] == ["2026-01-01T13:00:00Z", "2026-01-01T14:00:00Z"]
    assert found[once["id"]] == [done_once]
    assert done_once["dueAt"] is None
    assert found[never["id"]] == []
    other = await user_in(api, "not-mine@example.com")
    assert await completions(api, other) == {}
