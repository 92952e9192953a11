"""Projects and subtasks: ordering, archiving, validation, ownership, deletion with their
tasks, DataLoaders, and the projects' activity."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from conftest import Api, StatementCounter, raw_connection
from planning_operations import problems, project, run, task
from sqlalchemy import text
from starlette.applications import Starlette

from db.events import CHANNEL


async def names(api: Api, token: str, **variables: Any) -> list[tuple[str, int]]:
    listed = await run(api, token, "Projects", **variables)
    return [(found["name"], found["position"]) for found in listed]


async def test_projects_are_ordered_renamed_coloured_archived_and_reordered(api: Api) -> None:
    token = (await api.register("projects@example.com"))["accessToken"]
    home = await project(api, token, " Home ", color="#3fa34d")
    assert (home["name"], home["color"], home["position"], home["version"]) == (
        "Home",
        "#3FA34D",
        0,
        1,
    )
    assert (home["archived"], home["openTasks"]) == (False, 0)
    work = await project(api, token, "Work")
    garden = await project(api, token, "Garden")
    assert await names(api, token) == [("Home", 0), ("Work", 1), ("Garden", 2)]

    moved = await run(api, token, "UpdateProject", id=garden["id"], input={"position": 0})
    assert moved["project"]["position"] == 0
    assert await names(api, token) == [("Garden", 0), ("Home", 1), ("Work", 2)]
    last = await run(api, token, "UpdateProject", id=garden["id"], input={"position": 99})
    assert last["project"]["position"] == 2
    assert await names(api, token) == [("Home", 0), ("Work", 1), ("Garden", 2)]

    renamed = await run(
        api, token, "UpdateProject", id=work["id"], input={"name": "Office", "color": None}
    )
    assert (renamed["project"]["name"], renamed["project"]["color"]) == ("Office", None)
    await run(api, token, "UpdateProject", id=home["id"], input={"archived": True})
    assert await names(api, token) == [("Office", 1), ("Garden", 2)]
    assert await names(api, token, includeArchived=True) == [
        ("Home", 0),
        ("Office", 1),
        ("Garden", 2),
    ]

    deleted = await run(api, token, "DeleteProject", id=work["id"])
    assert deleted["deletedId"] == work["id"]
    assert await names(api, token, includeArchived=True) == [("Home", 0), ("Garden", 1)]


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"name": ""}, "name"), ({"name": "x" * 101}, "name"), ({"color": "green"}, "color")],
)
async def test_invalid_projects_are_refused(api: Api, fields: dict[str, Any], field: str) -> None:
    token = (await api.register("bad-projects@example.com"))["accessToken"]
    payload = await run(api, token, "CreateProject", input={"name": "ok", **fields})
    assert problems(payload) == [(["input", field], "INVALID")]
    assert await run(api, token, "Projects") == []


async def test_open_tasks_count_in_one_statement(api: Api, statements: StatementCounter) -> None:
    token = (await api.register("open@example.com"))["accessToken"]
    counts: list[int] = []
    for name in ("A", "B", "C"):
        created = await project(api, token, name)
        for number in range(len(counts) + 1):
            made = await task(api, token, f"{name}{number}", projectId=created["id"])
        await run(api, token, "CompleteTask", id=made["id"])
        counts.append(len(counts))
    statements.count = 0
    listed = await run(api, token, "Projects")
    assert [found["openTasks"] for found in listed] == counts
    assert statements.count <= 3  # the session, the user, the list


async def test_other_users_projects_and_tasks_are_not_found(api: Api) -> None:
    owner = (await api.register("owner@example.com"))["accessToken"]
    other = (await api.register("other@example.com"))["accessToken"]
    theirs = await project(api, owner, "Theirs")
    parent = await task(api, owner, "Their task")
    for operation, variables in (
        ("UpdateProject", {"id": theirs["id"], "input": {"name": "Mine"}}),
        ("DeleteProject", {"id": theirs["id"]}),
        ("CompleteTask", {"id": parent["id"]}),
    ):
        payload = await run(api, other, operation, **variables)
        assert problems(payload) == [(["id"], "NOT_FOUND")]
    payload = await run(
        api,
        other,
        "CreatePlannedTask",
        input={"title": "x", "projectId": theirs["id"], "parentId": parent["id"]},
    )
    assert problems(payload) == [
        (["input", "projectId"], "NOT_FOUND"),
        (["input", "parentId"], "NOT_FOUND"),
    ]
    assert await run(api, other, "Projects") == []
    filtered = await run(api, other, "PlannedTasks", filter={"projectId": theirs["id"]})
    assert filtered["totalCount"] == 0


PROJECT_NODE = """query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Project { name color archived position openTasks createdAt updatedAt version }
  }
}"""


async def node(api: Api, token: str, global_id: str) -> dict[str, Any] | None:
    result = await api.query(PROJECT_NODE, {"id": global_id}, token)
    assert "errors" not in result, result
    found: dict[str, Any] | None = result["data"]["node"]
    return found


async def test_a_project_is_a_node_of_its_owner_only(api: Api) -> None:
    owner = (await api.register("node-owner@example.com"))["accessToken"]
    other = (await api.register("node-other@example.com"))["accessToken"]
    await project(api, owner, "First")
    garden = await project(api, owner, "Garden", color="#3fa34d")
    await task(api, owner, "Dig", projectId=garden["id"])
    await task(api, owner, "Plant", projectId=garden["id"])

    listed = {found["id"]: found for found in await run(api, owner, "Projects")}
    found = await node(api, owner, garden["id"])
    assert found is not None
    assert found.pop("__typename") == "Project"
    assert found == listed[garden["id"]]
    assert (found["openTasks"], found["position"]) == (2, 1)

    assert await node(api, other, garden["id"]) is None
    assert await node(api, owner, f"project_{uuid.uuid4()}") is None
    assert await node(api, owner, "project_nonsense") is None


async def test_subtasks_stay_in_their_parents_project_and_nest_three_deep(api: Api) -> None:
    token = (await api.register("subtasks@example.com"))["accessToken"]
    home = await project(api, token, "Home")
    work = await project(api, token, "Work")
    top = await task(api, token, "Move house", projectId=home["id"])
    middle = await task(api, token, "Pack", parentId=top["id"])
    assert middle["project"] == {"id": home["id"]}  # taken from the parent
    bottom = await task(api, token, "Kitchen", parentId=middle["id"])

    too_deep = await run(
        api, token, "CreatePlannedTask", input={"title": "Plates", "parentId": bottom["id"]}
    )
    assert problems(too_deep) == [(["input", "parentId"], "INVALID")]
    elsewhere = await run(
        api,
        token,
        "CreatePlannedTask",
        input={"title": "x", "parentId": top["id"], "projectId": work["id"]},
    )
    assert problems(elsewhere) == [(["input", "parentId"], "INVALID")]

    cycle = await api.op(
        "UpdateTask", {"id": top["id"], "input": {"parentId": bottom["id"]}}, token
    )
    assert problems(cycle["data"]["updateTask"]) == [(["input", "parentId"], "INVALID")]
    itself = await api.op("UpdateTask", {"id": top["id"], "input": {"parentId": top["id"]}}, token)
    assert problems(itself["data"]["updateTask"]) == [(["input", "parentId"], "INVALID")]
    other = await task(api, token, "Other", projectId=home["id"])
    deeper = await api.op(
        "UpdateTask", {"id": top["id"], "input": {"parentId": other["id"]}}, token
    )
    assert problems(deeper["data"]["updateTask"]) == [(["input", "parentId"], "INVALID")]
    alone = await api.op(
        "UpdateTask", {"id": middle["id"], "input": {"projectId": work["id"]}}, token
    )
    assert problems(alone["data"]["updateTask"]) == [(["input", "projectId"], "INVALID")]

    moved = await api.op("UpdateTask", {"id": top["id"], "input": {"projectId": work["id"]}}, token)
    assert moved["data"]["updateTask"]["userErrors"] == []
    in_work = await run(api, token, "PlannedTasks", filter={"projectId": work["id"]})
    assert {edge["node"]["title"] for edge in in_work["edges"]} == {"Move house", "Pack", "Kitchen"}
    top_level = await run(
        api, token, "PlannedTasks", filter={"projectId": work["id"], "topLevel": True}
    )
    [node] = [edge["node"] for edge in top_level["edges"]]
    assert (node["title"], node["parent"], node["project"]["name"]) == ("Move house", None, "Work")
    assert [sub["title"] for sub in node["subtasks"]] == ["Pack"]


async def test_completing_a_parent_leaves_its_subtasks_open(api: Api) -> None:
    token = (await api.register("parent-done@example.com"))["accessToken"]
    top = await task(api, token, "Trip")
    await task(api, token, "Book train", parentId=top["id"])
    done = await run(api, token, "CompleteTask", id=top["id"])
    assert done["task"]["status"] == "DONE"
    assert done["completion"]["completedAt"] == done["task"]["completedAt"]
    again = await run(api, token, "CompleteTask", id=top["id"])
    assert problems(again) == [(["id"], "INVALID")]
    listed = await run(api, token, "PlannedTasks", filter={"topLevel": False})
    assert [(e["node"]["title"], e["node"]["status"]) for e in listed["edges"]] == [
        ("Book train", "TODO")
    ]


async def tombstones(app: Starlette) -> int:
    async with app.state.services.engine.connect() as connection:
        count = await connection.scalar(
            text("SELECT count(*) FROM sync_changes WHERE deleted AND collection = 'TASKS'")
        )
    return int(count or 0)


async def test_deleting_removes_tasks_and_subtasks_with_tombstones(
    api: Api, app: Starlette
) -> None:
    token = (await api.register("cascade@example.com"))["accessToken"]
    home = await project(api, token, "Home")
    top = await task(api, token, "Paint", projectId=home["id"])
    sub = await task(api, token, "Buy paint", parentId=top["id"])
    await task(api, token, "Brushes", parentId=sub["id"])
    await task(api, token, "Elsewhere")
    lone = await task(api, token, "Lone")
    await task(api, token, "Lone's part", parentId=lone["id"])

    await api.op("DeleteTask", {"id": lone["id"]}, token)
    assert await tombstones(app) == 2
    await run(api, token, "DeleteProject", id=home["id"])
    assert await tombstones(app) == 5
    left = await run(api, token, "PlannedTasks")
    assert [edge["node"]["title"] for edge in left["edges"]] == ["Elsewhere"]
    assert await run(api, token, "Projects") == []


async def test_planned_tasks_load_projects_parents_and_subtasks_in_batches(
    api: Api, statements: StatementCounter
) -> None:
    token = (await api.register("batches@example.com"))["accessToken"]

    async def listing() -> int:
        statements.count = 0
        result = await run(api, token, "PlannedTasks", first=100)
        assert result["totalCount"] > 0
        return statements.count

    home = await project(api, token, "Home")
    top = await task(api, token, "Top", projectId=home["id"])
    await task(api, token, "Sub", parentId=top["id"])
    few = await listing()
    for number in range(6):
        other = await project(api, token, f"P{number}")
        parent = await task(api, token, f"T{number}", projectId=other["id"])
        await task(api, token, f"S{number}", parentId=parent["id"])
    assert await listing() == few


async def test_projects_have_their_own_activity(api: Api, database_url: str) -> None:
    token = (await api.register("activity@example.com"))["accessToken"]
    heard: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    def note(_connection: object, _pid: int, _channel: str, payload: str) -> None:
        event = json.loads(payload)
        heard.put_nowait((event["k"], event["e"]))

    async with raw_connection(database_url) as connection:
        await connection.add_listener(CHANNEL, note)
        home = await project(api, token, "Home")
        await run(api, token, "UpdateProject", id=home["id"], input={"name": "House"})
        await run(api, token, "DeleteProject", id=home["id"])
        kinds = [await asyncio.wait_for(heard.get(), 10) for _ in range(3)]
    entity = home["id"].removeprefix("project_")
    assert kinds == [
        ("PROJECT_CREATED", entity),
        ("PROJECT_UPDATED", entity),
        ("PROJECT_DELETED", entity),
    ]


async def pulled_tasks(api: Api, token: str) -> dict[str, Any]:
    """The pulled tasks' fields by ID."""
    pulled = await api.op("SyncPull", {"collections": ["TASKS"]}, token)
    return {c["id"]: c["fields"] for c in pulled["data"]["syncPull"]["changes"]}


async def test_sync_carries_project_parent_and_recurrence(api: Api) -> None:
    token = (await api.register("sync-plan@example.com"))["accessToken"]
    other = (await api.register("sync-other@example.com"))["accessToken"]
    home = await project(api, token, "Home")
    theirs = await project(api, other, "Theirs")
    parent = await task(api, token, "Parent", projectId=home["id"])
    minted = f"task_{uuid.uuid4()}"
    fields = {
        "title": "Offline",
        "dueAt": "2026-05-04T09:00:00Z",
        "projectId": home["id"],
        "parentId": parent["id"],
        "recurrence": "FREQ=WEEKLY",
    }
    change = {"collection": "TASKS", "id": minted, "fields": fields}
    pushed = await api.op(
        "SyncPush", {"input": {"clientId": "laptop", "mutationId": 1, "changes": [change]}}, token
    )
    assert pushed["data"]["syncPush"]["userErrors"] == [], pushed
    records = await pulled_tasks(api, token)
    assert {name: records[minted][name] for name in fields} == {
        **fields,
        "recurrence": "FREQ=WEEKLY",
    }
    assert records[parent["id"]]["projectId"] == home["id"]

    foreign = {"collection": "TASKS", "id": f"task_{uuid.uuid4()}"}
    foreign["fields"] = {"title": "x", "projectId": theirs["id"]}  # type: ignore[assignment]
    refused = await api.op(
        "SyncPush", {"input": {"clientId": "laptop", "mutationId": 2, "changes": [foreign]}}, token
    )
    [error] = refused["data"]["syncPush"]["userErrors"]
    assert (error["field"][-2:], error["code"]) == (["fields", "projectId"], "NOT_FOUND")


async def test_minted_ids_are_kept_and_never_reused_and_positions_are_checked(api: Api) -> None:
    token = (await api.register("minted-projects@example.com"))["accessToken"]
    other = (await api.register("minted-other@example.com"))["accessToken"]
    minted = f"project_{uuid.uuid4()}"
    created = await project(api, token, "Offline", id=minted)
    assert created["id"] == minted
    for who in (token, other):
        again = await run(api, who, "CreateProject", input={"name": "x", "id": minted})
        assert problems(again) == [(["input", "id"], "CONFLICT")]
    moved = await run(api, token, "UpdateProject", id=minted, input={"position": -1})
    assert problems(moved) == [(["input", "position"], "INVALID")]
