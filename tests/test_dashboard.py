"""The dashboard query: figures in the user's calendar, in a fixed number of statements."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

import pytest
from conftest import Api, StatementCounter, errors_of

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
