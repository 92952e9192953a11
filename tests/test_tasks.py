"""Tasks through the GraphQL endpoint: validation, status rules, versions, filters."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from conftest import Api, StatementCounter, errors_of
from unstorable import UNSTORABLE, send


async def create(api: Api, token: str, **fields: Any) -> dict[str, Any]:
    result = await api.op("CreateTask", {"input": {"title": "A task", **fields}}, token)
    payload = result["data"]["createTask"]
    assert payload["userErrors"] == [], payload
    task: dict[str, Any] = payload["task"]
    return task


async def titles(api: Api, token: str, **filters: Any) -> list[str]:
    result = await api.op("Tasks", {"first": 100, "filter": filters}, token)
    assert "errors" not in result, result
    return [edge["node"]["title"] for edge in result["data"]["tasks"]["edges"]]


async def test_create_with_defaults_and_normalised_tags(api: Api) -> None:
    token = (await api.register("tasks@example.com"))["accessToken"]
    task = await create(api, token, title="  Buy milk ", tags=[" Home ", "home", "ERRANDS"])
    assert task["title"] == "Buy milk"
    assert (task["status"], task["priority"], task["version"]) == ("TODO", "MEDIUM", 1)
    assert task["tags"] == ["home", "errands"]
    assert task["completedAt"] is None
    minted = f"task_{uuid.uuid4()}"
    offline = await create(api, token, id=minted)
    assert offline["id"] == minted
    again = await api.op("CreateTask", {"input": {"title": "x", "id": minted}}, token)
    assert again["data"]["createTask"]["userErrors"][0]["code"] == "CONFLICT"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({"tags": ["x" * 51]}, "tags"),
        ({"id": "note_" + str(uuid.uuid4())}, "id"),
    ],
)
async def test_invalid_tasks_are_refused(api: Api, fields: dict[str, Any], field: str) -> None:
    token = (await api.register("bad-tasks@example.com"))["accessToken"]
    result = await api.op("CreateTask", {"input": {"title": "ok", **fields}}, token)
    payload = result["data"]["createTask"]
    assert payload["task"] is None
    assert [e["field"] for e in payload["userErrors"]] == [["input", field]]
    assert (await api.op("Tasks", {}, token))["data"]["tasks"]["totalCount"] == 0


@pytest.mark.parametrize("bad", UNSTORABLE)
@pytest.mark.parametrize("field", ["title", "description", "tags"])
async def test_text_postgresql_cannot_hold_is_refused(api: Api, bad: str, field: str) -> None:
    token = (await api.register("unstorable@example.com"))["accessToken"]
    value: Any = [bad] if field == "tags" else bad
    result = await send(api, "CreateTask", {"input": {"title": "ok", field: value}}, token)
    payload = result["data"]["createTask"]
    assert payload["task"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", field], "INVALID")
    ]
    assert (await api.op("Tasks", {}, token))["data"]["tasks"]["totalCount"] == 0
    task = await create(api, token)
    update = await send(api, "UpdateTask", {"id": task["id"], "input": {field: value}}, token)
    assert update["data"]["updateTask"]["userErrors"][0]["field"] == ["input", field]
    assert await titles(api, token) == ["A task"]


@pytest.mark.parametrize("bad", UNSTORABLE)
@pytest.mark.parametrize("name", ["search", "tag"])
async def test_filters_with_text_postgresql_cannot_hold_are_bad_input(
    api: Api, bad: str, name: str
) -> None:
    token = (await api.register("unstorable@example.com"))["accessToken"]
    result = await send(api, "Tasks", {"filter": {name: bad}}, token)
    assert errors_of(result) == ["BAD_USER_INPUT"]


async def test_completed_at_follows_done_and_version_grows(api: Api) -> None:
    token = (await api.register("done@example.com"))["accessToken"]
    task = await create(api, token)
    done = await api.op("UpdateTask", {"id": task["id"], "input": {"status": "DONE"}}, token)
    updated = done["data"]["updateTask"]["task"]
    assert updated["completedAt"] is not None
    assert updated["version"] == 2
    renamed = await api.op("UpdateTask", {"id": task["id"], "input": {"title": "Renamed"}}, token)
    assert renamed["data"]["updateTask"]["task"]["completedAt"] == updated["completedAt"]
    reopened = await api.op(
        "UpdateTask", {"id": task["id"], "input": {"status": "IN_PROGRESS"}}, token
    )
    task = reopened["data"]["updateTask"]["task"]
    assert (task["completedAt"], task["version"]) == (None, 4)
    deleted = await api.op("DeleteTask", {"id": task["id"]}, token)
    assert deleted["data"]["deleteTask"]["deletedId"] == task["id"]


async def test_filters_and_order(api: Api) -> None:
    token = (await api.register("filters@example.com"))["accessToken"]
    await create(
        api, token, title="Pay rent", priority="URGENT", dueAt="2026-12-01T09:00:00Z", tags=["home"]
    )
    await create(api, token, title="Book dentist", priority="LOW", tags=["health"])
    await create(
        api,
        token,
        title="File taxes",
        priority="HIGH",
        dueAt="2026-11-25T09:00:00Z",
        description="Receipts folder",
    )
    done = await create(
        api, token, title="Water plants", dueAt="2026-11-20T09:00:00Z", tags=["home"]
    )
    await api.op("UpdateTask", {"id": done["id"], "input": {"status": "DONE"}}, token)

    assert await titles(api, token) == ["Water plants", "File taxes", "Pay rent", "Book dentist"]
    assert await titles(api, token, status=["TODO"]) == ["File taxes", "Pay rent", "Book dentist"]
    assert await titles(api, token, priority=["URGENT", "HIGH"]) == ["File taxes", "Pay rent"]
    assert await titles(api, token, tag="HOME") == ["Water plants", "Pay rent"]
    assert await titles(api, token, dueBefore="2026-11-30T00:00:00Z") == [
        "Water plants",
        "File taxes",
    ]
    assert await titles(api, token, dueAfter="2026-11-21T00:00:00Z") == ["File taxes", "Pay rent"]
    assert await titles(api, token, search="rece") == ["File taxes"]
    assert await titles(api, token, search="dent") == ["Book dentist"]

    pages: list[str] = []
    after = None
    while True:
        result = await api.op("Tasks", {"first": 3, "after": after}, token)
        connection = result["data"]["tasks"]
        pages += [edge["node"]["title"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert pages == ["Water plants", "File taxes", "Pay rent", "Book dentist"]


async def test_listing_runs_a_constant_number_of_statements(
    api: Api, statements: StatementCounter
) -> None:
    token = (await api.register("count@example.com"))["accessToken"]
    for index in range(25):
        await create(api, token, title=f"Task {index}")
    statements.count = 0
    result = await api.op("Tasks", {"first": 25}, token)
    assert len(result["data"]["tasks"]["edges"]) == 25
    assert statements.count == 2, statements.count  # principal, page (with its count)


async def test_another_users_task_is_not_found_by_any_path(api: Api) -> None:
    owner = (await api.register("owner@example.com"))["accessToken"]
    other = (await api.register("other@example.com"))["accessToken"]
    task = await create(api, owner)
    assert (await api.op("Node", {"id": task["id"]}, other))["data"]["node"] is None
    assert (await api.op("Node", {"id": task["id"]}, owner))["data"]["node"]["title"] == "A task"
    assert (await api.op("Tasks", {}, other))["data"]["tasks"]["totalCount"] == 0
    update = await api.op("UpdateTask", {"id": task["id"], "input": {"title": "x"}}, other)
    assert update["data"]["updateTask"]["userErrors"][0]["code"] == "NOT_FOUND"
    delete = await api.op("DeleteTask", {"id": task["id"]}, other)
    assert delete["data"]["deleteTask"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert errors_of(await api.op("Tasks", {})) == ["UNAUTHENTICATED"]


async def test_a_filter_repeating_a_status_thousands_of_times_is_one_status(api: Api) -> None:
    """Each repeat was one more query argument, and asyncpg takes at most 32,767."""
    token = (await api.register("repeats@example.com"))["accessToken"]
    await create(api, token, title="Open", priority="HIGH")
    many = {"status": ["TODO", "IN_PROGRESS"] * 20_000, "priority": ["HIGH"] * 40_000}
    assert await titles(api, token, **many) == ["Open"]
