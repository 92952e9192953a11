"""The demo account: made through the resolvers, read back through the client contract."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import Api, CountingEngine, run_jobs

from lifegraph import demo_data
from lifegraph.demo import DemoAccount, DemoError, create_demo
from resolvers.context import Services
from storage.ocr import OcrResult

# A fixed "now" (the services' clock), so that the plan, and the receipts drawn from it,
# are the same on every run.
NOW = datetime(2026, 3, 18, 14, 0, tzinfo=UTC)
EMAIL = "demo@example.com"
PASSWORD = "demo-password-123"
MONTHS = 2
RECEIPTS = 3


class Recorder:
    """Progress as a progress bar sees it."""

    def __init__(self) -> None:
        self.totals: dict[str, int] = {}
        self.done: Counter[str] = Counter()

    def start(self, task: str, total: int) -> None:
        assert task not in self.totals, f"{task} started twice"
        self.totals[task] = total

    def advance(self, task: str, steps: int = 1) -> None:
        assert task in self.totals, f"{task} advanced before it started"
        self.done[task] += steps


@pytest.fixture
def services(services: Services) -> Services:
    return dataclasses.replace(services, clock=lambda: NOW)


def planned() -> demo_data.Plan:
    now = NOW.astimezone(ZoneInfo(demo_data.TIMEZONE))
    return demo_data.plan(random.Random(7), now, months=MONTHS, receipts=RECEIPTS)


async def sign_in(api: Api, email: str = EMAIL, password: str = PASSWORD) -> dict[str, Any]:
    result = await api.op("Login", {"input": {"email": email, "password": password}})
    payload: dict[str, Any] = result["data"]["login"]
    return payload


async def nodes(api: Api, operation: str, token: str, **variables: Any) -> list[dict[str, Any]]:
    """Every node of a connection, page by page."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        result = await api.op(operation, {"first": 100, "after": after, **variables}, token)
        assert "errors" not in result, result
        connection = next(iter(result["data"].values()))
        found += [edge["node"] for edge in connection["edges"]]
        after = connection["pageInfo"]["endCursor"]
        if not connection["pageInfo"]["hasNextPage"]:
            assert connection["totalCount"] == len(found)
            return found


async def make_demo(services: Services, recorder: Recorder, email: str = EMAIL) -> DemoAccount:
    return await create_demo(
        services, email, PASSWORD, months=MONTHS, progress=recorder, receipts=RECEIPTS
    )


async def test_the_demo_account_has_months_of_data_to_show(api: Api, services: Services) -> None:
    recorder = Recorder()
    account = await make_demo(services, recorder)
    plan = planned()
    assert account.receipts == RECEIPTS
    assert (account.habits, account.tasks, account.notes) == (5, 25, 10)
    assert account.check_ins == plan.check_ins > 5 * 10
    assert recorder.totals == {
        "receipts": account.receipts,
        "purchases": account.purchases,
        "habits": account.habits,
        "check-ins": account.check_ins,
        "tasks": account.tasks,
        "notes": account.notes,
    }
    assert recorder.done == Counter(recorder.totals)
    assert isinstance(services.ocr, CountingEngine)
    assert services.ocr.calls == RECEIPTS

    signed_in = await sign_in(api)
    assert signed_in["userErrors"] == []
    session = signed_in["session"]
    assert session["user"]["id"] == f"user_{account.user_id}"
    token = session["accessToken"]

    receipts = await nodes(api, "Receipts", token)
    assert len(receipts) == account.receipts
    assert {r["status"] for r in receipts} == {"PROCESSED"}
    printed = sorted(p.amount for p in plan.receipts)
    assert sorted(Decimal(r["ocr"]["total"]) for r in receipts) == printed
    assert {r["ocr"]["currency"] for r in receipts} == {"EUR"}
    assert {r["ocr"]["purchasedOn"] for r in receipts} == {
        p.at.date().isoformat() for p in plan.receipts
    }

    purchases = await nodes(api, "Purchases", token)
    assert len(purchases) == account.purchases
    assert {p["currency"] for p in purchases} == {"EUR"}
    assert all(p["category"] for p in purchases)
    assert len({p["category"] for p in purchases}) >= 6
    assert sum(len(p["items"]) for p in purchases) > len(purchases)
    from_receipts = [p for p in purchases if p["receipt"] is not None]
    assert len(from_receipts) == sum(1 for p in plan.receipts if p.linked) >= 1
    for purchase in from_receipts:
        assert Decimal(purchase["amount"]) == Decimal(purchase["receipt"]["ocr"]["total"])
    first_day = min(datetime.fromisoformat(p["purchasedAt"]) for p in purchases)
    assert NOW - first_day > timedelta(days=MONTHS * 28)

    today = NOW.astimezone(ZoneInfo(demo_data.TIMEZONE)).date()
    window = {"from": (today - timedelta(days=400)).isoformat(), "to": today.isoformat()}
    habits = (await api.op("Habits", window, token))["data"]["habits"]
    assert len(habits) == account.habits
    assert {h["frequency"] for h in habits} == {"DAILY", "WEEKLY"}
    assert sum(len(h["checkIns"]) for h in habits) == account.check_ins
    reading = next(h for h in habits if h["name"] == "Read 20 pages")
    assert reading["doneToday"]
    assert reading["currentStreak"] >= 12
    assert reading["longestStreak"] >= reading["currentStreak"]
    meditating = next(h for h in habits if h["name"] == "Meditate")
    assert not meditating["doneToday"]
    assert meditating["currentStreak"] == 0
    assert any(0 < h["completionRate"] < 1 for h in habits)

    tasks = await nodes(api, "Tasks", token)
    assert len(tasks) == account.tasks
    assert set(Counter(t["status"] for t in tasks)) == {"TODO", "IN_PROGRESS", "DONE"}
    assert set(Counter(t["priority"] for t in tasks)) == {"LOW", "MEDIUM", "HIGH", "URGENT"}
    assert all(t["completedAt"] for t in tasks if t["status"] == "DONE")
    assert len(await nodes(api, "Notes", token)) == account.notes
    assert len(await nodes(api, "Notes", token, filter={"pinned": True})) == 2

    board = (await api.op("Dashboard", {}, token))["data"]["dashboard"]
    this_month = [
        p
        for p in plan.purchases
        if p.linked and (p.at.year, p.at.month) == (today.year, today.month)
    ]
    assert board["spendingThisMonth"]["count"] == len(this_month) > 0
    assert Decimal(board["spendingThisMonth"]["total"]) == sum(p.amount for p in this_month)
    still_open = [t for t in plan.tasks if t.status != "DONE"]
    assert board["openTasks"] == len(still_open)
    assert board["overdueTasks"] == sum(1 for t in still_open if t.due_at and t.due_at < NOW) > 0
    assert board["dueToday"] == 2
    assert board["habitsActive"] == account.habits
    assert board["habitsDoneToday"] == sum(1 for h in plan.habits if today in h.days)
    assert board["notesCount"] == account.notes
    assert board["receiptsPending"] == 0
    assert len(board["recentPurchases"]) == 5

    await run_jobs(services)  # the jobs the uploads queued find their receipts read
    assert services.ocr.calls == RECEIPTS


async def test_an_email_with_an_account_is_refused(api: Api, services: Services) -> None:
    await api.register(EMAIL.upper(), "someone-elses-password", "Someone")
    recorder = Recorder()
    with pytest.raises(DemoError, match=r"exists already.*pick another --email"):
        await make_demo(services, recorder)
    assert recorder.totals == {}
    assert (await sign_in(api))["session"] is None

    account = await create_demo(
        services, "demo2@example.com", PASSWORD, months=1, progress=Recorder(), receipts=0
    )
    with pytest.raises(DemoError, match="pick another --email"):
        await create_demo(
            services, "Demo2@Example.com", PASSWORD, months=1, progress=Recorder(), receipts=0
        )
    token = (await sign_in(api, "demo2@example.com"))["session"]["accessToken"]
    assert len(await nodes(api, "Tasks", token)) == account.tasks


async def test_bad_credentials_are_refused_with_the_reason(services: Services, api: Api) -> None:
    with pytest.raises(DemoError, match=r"^email: "):
        await create_demo(services, "not an email", PASSWORD, progress=Recorder(), receipts=0)
    with pytest.raises(DemoError, match=r"^password: "):
        await create_demo(services, EMAIL, "short", progress=Recorder(), receipts=0)


class BrokenEngine:
    name = "broken"

    async def read(self, image: bytes, content_type: str) -> OcrResult:
        raise RuntimeError("the OCR engine crashed")


async def test_a_demo_that_fails_midway_leaves_no_account(api: Api, services: Services) -> None:
    broken = dataclasses.replace(services, ocr=BrokenEngine())
    with pytest.raises(RuntimeError, match="crashed"):
        await create_demo(broken, EMAIL, PASSWORD, progress=Recorder(), receipts=1)
    assert (await sign_in(api))["session"] is None
    account = await create_demo(services, EMAIL, PASSWORD, progress=Recorder(), receipts=0)
    token = (await sign_in(api))["session"]["accessToken"]
    assert await nodes(api, "Receipts", token) == []
    assert len(await nodes(api, "Purchases", token)) == account.purchases
