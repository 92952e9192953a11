"""The dashboard query: figures in the user's calendar, in a fixed number of statements;
and the live dashboard following projects, budgets, completions and skips."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from client_contract import Contract
from conftest import Api, StatementCounter, errors_of
from planning_operations import project, run, task
from test_subscriptions import Socket, signed_in

from db import receipts
from db.receipts import Receipt, ReceiptStatus
from lifegraph.services import build_services
from lifegraph.settings import Settings
from resolvers.context import Services
from storage.ocr import OcrEngine

# 2026-11-30 23:30 in UTC is already 1 December in Auckland: a new day and a new month.
NOW = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)


@pytest.fixture
def services(settings: Settings, local_ocr: OcrEngine) -> Services:
    return dataclasses.replace(build_services(settings), ocr=local_ocr, clock=lambda: NOW)


async def test_dashboard_figures(
    api: Api, services: Services, statements: StatementCounter
) -> None:
    session = await api.register("board@example.com")
    token = session["accessToken"]
    user_id = uuid.UUID(session["user"]["id"].removeprefix("user_"))
    profile = {"settings": {"timezone": "Pacific/Auckland", "currency": "NZD"}}
    await api.op("UpdateProfile", {"input": profile}, token)

    async def op(name: str, **variables: object) -> dict[str, object]:
        result = await api.op(name, variables, token)
        assert "errors" not in result, result
        return result

    # Tasks: overdue, due today (Auckland's 1 December), later, none, and one done.
    for title, due in (
        ("overdue", "2026-11-29T10:00:00Z"),
        ("today", "2026-12-01T03:00:00Z"),
        ("later", "2026-12-20T03:00:00Z"),
        ("whenever", None),
    ):
        await op("CreateTask", input={"title": title, "dueAt": due})
    done = await op("CreateTask", input={"title": "done", "dueAt": "2026-11-01T00:00:00Z"})
    task_id = done["data"]["createTask"]["task"]["id"]  # type: ignore[index]
    await op("UpdateTask", id=task_id, input={"status": "DONE"})

    habits = []
    for name in ("Read", "Walk", "Old"):
        created = await op("CreateHabit", input={"name": name})
        habits.append(created["data"]["createHabit"]["habit"]["id"])  # type: ignore[index]
    await op("CheckInHabit", id=habits[0])  # today: 1 December in Auckland
    await op("CheckInHabit", id=habits[2])
    await op("ArchiveHabit", id=habits[2], archived=True)

    for title in ("a", "b", "c"):
        await op("CreateNote", input={"title": title})

    for merchant, amount, currency, at in (
        ("Bakery", "4.50", "NZD", "2026-11-30T20:00:00Z"),  # 1 December, Auckland
        ("Books", "20.00", "NZD", "2026-12-01T09:00:00Z"),
        ("Abroad", "9.00", "USD", "2026-11-30T22:00:00Z"),
        ("Last month", "99.00", "NZD", "2026-11-30T10:00:00Z"),  # still November there
    ):
        await op(
            "CreatePurchase",
            input={"merchant": merchant, "amount": amount, "currency": currency, "purchasedAt": at},
        )

    async with services.sessionmaker.begin() as db:
        for index, status in enumerate((ReceiptStatus.PENDING, ReceiptStatus.PROCESSED)):
            await receipts.add(
                db,
                Receipt(
                    user_id=user_id,
                    status=status,
                    object_key=f"receipts/{user_id}/{index}",
                    original_name="r.jpg",
                    content_type="image/jpeg",
                    size=1,
                    sha256="0" * 64,
                ),
            )

    statements.count = 0
    board = (await op("Dashboard"))["data"]["dashboard"]  # type: ignore[index]
    assert statements.count == 3, statements.count  # principal, figures, recent purchases
    assert board["spendingThisMonth"] == {"total": "24.50", "currency": "NZD", "count": 2}
    assert (board["openTasks"], board["overdueTasks"], board["dueToday"]) == (4, 1, 1)
    assert (board["habitsDoneToday"], board["habitsActive"]) == (1, 2)
    assert (board["notesCount"], board["receiptsPending"]) == (3, 1)
    assert [p["merchant"] for p in board["recentPurchases"]] == [
        "Books",
        "Abroad",
        "Bakery",
        "Last month",
    ]


async def test_the_dashboard_needs_a_user_and_shows_only_theirs(api: Api) -> None:
    assert errors_of(await api.op("Dashboard")) == ["UNAUTHENTICATED"]
    owner = (await api.register("mine@example.com"))["accessToken"]
    other = (await api.register("yours@example.com"))["accessToken"]
    await api.op("CreateNote", {"input": {"title": "private"}}, owner)
    board = (await api.op("Dashboard", {}, other))["data"]["dashboard"]
    assert board["notesCount"] == 0
    assert board["recentPurchases"] == []


BOARD_PROJECTS = """query DashboardProjects {
  dashboard { openTasks projects { id name color archived position openTasks } }
}"""


async def test_the_dashboard_lists_active_projects_in_order_in_a_fixed_number_of_statements(
    api: Api, statements: StatementCounter
) -> None:
    token = (await api.register("board-projects@example.com"))["accessToken"]
    home, work, garden = [await project(api, token, name) for name in ("Home", "Work", "Garden")]
    for title in ("Dig", "Sow"):
        await task(api, token, title, projectId=garden["id"])
    mail = await task(api, token, "Mail", projectId=work["id"])
    await run(api, token, "CompleteTask", id=mail["id"])
    await task(api, token, "In no project")
    await run(api, token, "UpdateProject", id=garden["id"], input={"position": 0})
    await run(api, token, "UpdateProject", id=home["id"], input={"archived": True})

    statements.count = 0
    result = await api.query(BOARD_PROJECTS, {}, token)
    assert "errors" not in result, result
    assert statements.count == 3, statements.count  # principal, figures, projects
    board = result["data"]["dashboard"]
    assert board["openTasks"] == 3
    assert [(p["name"], p["position"], p["openTasks"]) for p in board["projects"]] == [
        ("Garden", 0, 2),
        ("Work", 2, 0),
    ]
    listed = await run(api, token, "Projects")
    fields = board["projects"][0].keys()
    assert board["projects"] == [{name: found[name] for name in fields} for found in listed]

    other = (await api.register("board-projects-other@example.com"))["accessToken"]
    statements.count = 0
    theirs = await api.query(BOARD_PROJECTS, {}, other)
    assert statements.count == 3, statements.count  # as many for none
    assert theirs["data"]["dashboard"]["projects"] == []


LIVE_BOARD = """subscription LiveBoard {
  dashboardUpdated {
    openTasks habitsDoneToday
    projects { name openTasks }
    budgets { category amount }
  }
}"""


async def board_when(socket: Socket, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The first dashboard sent that passes ``check`` (each must come within 10 s)."""
    while True:
        board: dict[str, Any] = (await socket.next_data())["dashboardUpdated"]
        if check(board):
            return board


async def test_the_live_dashboard_follows_projects_budgets_completions_and_skips(
    server: str, contract: Contract
) -> None:
    async with httpx.AsyncClient(base_url=f"http://{server}", trust_env=False) as client:
        http = Api(client, contract)
        token = (await http.register("live-board@example.com"))["accessToken"]
        async with signed_in(server, contract, token) as socket:
            payload = {"query": LIVE_BOARD, "operationName": "LiveBoard"}
            await socket.send({"id": "board", "type": "subscribe", "payload": payload})
            first = (await socket.next_data())["dashboardUpdated"]
            assert (first["projects"], first["budgets"]) == ([], [])

            home = await project(http, token, "Home")
            await board_when(socket, lambda b: b["projects"] == [{"name": "Home", "openTasks": 0}])
            chore = await task(http, token, "Sweep", projectId=home["id"])
            await board_when(socket, lambda b: b["projects"][0]["openTasks"] == 1)
            await run(http, token, "CompleteTask", id=chore["id"])
            board = await board_when(socket, lambda b: b["projects"][0]["openTasks"] == 0)
            assert board["openTasks"] == 0
            await run(http, token, "UpdateProject", id=home["id"], input={"name": "House"})
            await board_when(socket, lambda b: b["projects"][0]["name"] == "House")

            budget = await run(http, token, "SetBudget", input={"category": "food", "amount": "50"})
            food = [{"category": "food", "amount": "50.00"}]
            await board_when(socket, lambda b: b["budgets"] == food)
            await run(http, token, "DeleteBudget", id=budget["budget"]["id"])
            await board_when(socket, lambda b: b["budgets"] == [])

            habit = (await run(http, token, "CreateHabit", input={"name": "Walk"}))["habit"]
            checked = await http.op("CheckInHabit", {"id": habit["id"]}, token)  # 30 November
            assert checked["data"]["checkInHabit"]["userErrors"] == [], checked
            await board_when(socket, lambda b: b["habitsDoneToday"] == 1)
            await run(http, token, "SkipHabitDay", id=habit["id"], date="2026-11-30")
            await board_when(socket, lambda b: b["habitsDoneToday"] == 0)

            await run(http, token, "DeleteProject", id=home["id"])
            await board_when(socket, lambda b: b["projects"] == [])
