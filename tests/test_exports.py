"""Data exports through the GraphQL endpoint: the zip file's records equal what the API
returns, its CSV files and images; one export at a time, owners only, expiry, failures,
and S3 (moto's server)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import uuid
import zipfile
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from conftest import Api, make_settings, run_jobs
from planning_operations import project, run, task
from receipt_images import Receipt, blank, render
from sqlalchemy import text
from test_notes import JPEG as NOTE_JPEG
from test_notes import add_image, create_note
from test_receipts import uploaded

from lifegraph import data_export
from lifegraph.jobs import recover
from lifegraph.settings import Settings
from resolvers.context import Services
from storage.objects import ObjectInfo, ObjectStore, PresignedPost

JPEG = render(Receipt(merchant="EXPORT TRADING SDN BHD"))
PNG = blank()


@pytest.fixture
def settings(
    database_url: str, tmp_path: Path, moto_endpoint: str, request: pytest.FixtureRequest
) -> Settings:
    """Local storage by default; S3 on moto's server for tests marked ``s3``. Queries
    cost nothing here: the tests send the export's own documents, pages of 100."""
    options: dict[str, Any] = {"data_dir": tmp_path / "data", "max_query_cost": 10**6}
    if request.node.get_closest_marker("s3"):
        options |= {
            "s3_bucket": f"exports-{uuid.uuid4().hex[:8]}",
            "s3_endpoint_url": moto_endpoint,
            "s3_access_key_id": "testing",
            "s3_secret_access_key": "testing",
        }
    return make_settings(database_url, **options)


def payload(result: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in result, result
    found: dict[str, Any] = next(iter(result["data"].values()))
    assert found["userErrors"] == [], found
    return found


async def start_export(api: Api, token: str) -> dict[str, Any]:
    export: dict[str, Any] = payload(await api.op("ExportMyData", {}, token))["export"]
    return export


async def read_export(api: Api, token: str, export_id: str) -> dict[str, Any] | None:
    result = await api.op("DataExport", {"id": export_id}, token)
    assert "errors" not in result, result
    export: dict[str, Any] | None = result["data"]["dataExport"]
    return export


async def fill(api: Api, token: str) -> dict[str, Any]:
    """An account with something of every kind: what was made, by kind."""
    await api.op("UpdateProfile", {"input": {"settings": {"timezone": "Asia/Tokyo"}}}, token)
    receipt = await uploaded(api, token, JPEG)
    items = [
        {"description": "Coffee beans", "quantity": "2", "unitPrice": "7.50", "amount": "15.00"},
        {"description": "Filter papers", "amount": "3.20"},
    ]
    purchases = [
        payload(
            await api.op(
                "CreatePurchase",
                {
                    "input": {
                        "merchant": "Roastery",
                        "amount": "18.20",
                        "currency": "EUR",
                        "category": "groceries",
                        "purchasedAt": "2026-10-31T20:30:00Z",  # November in Tokyo
                        "items": items,
                    }
                },
                token,
            )
        )["purchase"],
        payload(
            await api.op(
                "CreatePurchase",
                {
                    "input": {
                        "merchant": 'Bookshop, "Old" Town',
                        "amount": "12.00",
                        "currency": "USD",
                        "purchasedAt": "2026-09-02T10:00:00Z",
                        "note": "a gift\nfor a friend",
                    }
                },
                token,
            )
        )["purchase"],
    ]
    habit = payload(await api.op("CreateHabit", {"input": {"name": "Read"}}, token))["habit"]
    for day in ("2026-11-20", "2026-11-21"):
        payload(await api.op("CheckInHabit", {"id": habit["id"], "date": day}, token))
    tasks = [
        payload(
            await api.op("CreateTask", {"input": {"title": f"Task {n}", "tags": ["a", "b"]}}, token)
        )["task"]
        for n in range(data_export.PAGE + 1)  # more than a page
    ]
    note = await create_note(api, token, title="Holiday", content="# Kyoto\nTemples.")
    images = [
        payload_image(await add_image(api, token, note["id"], PNG, "a.png", "image/png")),
        payload_image(await add_image(api, token, note["id"])),
    ]
    return {
        "receipt": receipt,
        "purchases": purchases,
        "habit": habit,
        "tasks": tasks,
        "note": note,
        "images": images,
    }


def payload_image(found: dict[str, Any]) -> dict[str, Any]:
    assert found["userErrors"] == [], found
    image: dict[str, Any] = found["note"]["images"][-1]
    return image


async def api_answer(api: Api, token: str, document: str, field: str) -> Any:
    """What the API returns for an export's document: the nodes of every page."""
    result = await api.query(document, {}, token)
    assert "errors" not in result, result
    found = result["data"][field]
    if not isinstance(found, dict) or "edges" not in found:
        return found
    nodes = [edge["node"] for edge in found["edges"]]
    while found["pageInfo"]["hasNextPage"]:
        after = found["pageInfo"]["endCursor"]
        result = await api.query(document, {"after": after}, token)
        found = result["data"][field]
        nodes += [edge["node"] for edge in found["edges"]]
    return nodes


def csv_rows(archive: zipfile.ZipFile, name: str) -> list[list[str]]:
    with archive.open(name) as entry:
        return list(csv.reader(io.TextIOWrapper(entry, encoding="utf-8", newline="")))


async def count(services: Services, sql: str) -> int:
    async with services.engine.connect() as connection:
        return int(await connection.scalar(text(sql)) or 0)


async def test_an_export_holds_every_record_as_the_api_returns_it(
    api: Api, services: Services
) -> None:
    token = (await api.register("export@example.com"))["accessToken"]
    other = (await api.register("other@example.com"))["accessToken"]
    await create_note(api, other, title="Not mine")
    await run_jobs(services)  # the receipt's OCR
    made = await fill(api, token)
    await run_jobs(services)

    export = await start_export(api, token)
    assert export["status"] == "PENDING"
    assert export["id"].startswith("dataexport_")
    waiting = await read_export(api, token, export["id"])
    assert waiting is not None
    assert (waiting["downloadUrl"], waiting["size"], waiting["finishedAt"]) == (None, None, None)

    await run_jobs(services)
    ready = await read_export(api, token, export["id"])
    assert ready is not None
    assert ready["status"] == "READY"
    assert ready["failureReason"] is None
    finished = datetime.fromisoformat(ready["finishedAt"])
    assert datetime.fromisoformat(ready["expiresAt"]) - finished == timedelta(days=7)
    download = await api.client.get(ready["downloadUrl"])
    assert download.status_code == 200
    assert len(download.content) == ready["size"]
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    assert archive.testzip() is None

    for name, (document, field) in data_export.JSON_FILES.items():
        with archive.open(name) as entry:
            assert json.load(entry) == await api_answer(api, token, document, field), name

    receipts = json.loads(archive.read("receipts.json"))
    assert [r["id"] for r in receipts] == [made["receipt"]["id"]]
    assert receipts[0]["ocr"]["merchantName"] == "EXPORT TRADING SDN BHD"
    notes = json.loads(archive.read("notes.json"))
    assert [n["title"] for n in notes] == ["Holiday"]
    habits = json.loads(archive.read("habits.json"))
    assert [c["date"] for c in habits[0]["checkIns"]] == ["2026-11-20", "2026-11-21"]
    assert len(json.loads(archive.read("tasks.json"))) == data_export.PAGE + 1

    purchases = csv_rows(archive, "purchases.csv")
    assert purchases[0] == list(data_export.PURCHASE_COLUMNS)
    assert sorted(row[2] for row in purchases[1:]) == ['Bookshop, "Old" Town', "Roastery"]
    items = csv_rows(archive, "purchase_items.csv")
    assert items[0] == list(data_export.ITEM_COLUMNS)
    assert [row[2:] for row in items[1:]] == [
        ["Coffee beans", "2", "7.50", "15.00"],
        ["Filter papers", "", "", "3.20"],
    ]
    tasks = csv_rows(archive, "tasks.csv")
    assert tasks[0] == list(data_export.TASK_COLUMNS)
    assert len(tasks) == 1 + data_export.PAGE + 1
    assert {row[6] for row in tasks[1:]} == {"a, b"}
    check_ins = csv_rows(archive, "habit_check_ins.csv")
    assert check_ins == [
        list(data_export.CHECK_IN_COLUMNS),
        [made["habit"]["id"], "Read", "2026-11-20", "", ""],
        [made["habit"]["id"], "Read", "2026-11-21", "", ""],
    ]
    assert csv_rows(archive, "spending.csv") == [
        list(data_export.SPENDING_COLUMNS),
        ["EUR", "2026-11", "groceries", "18.20", "1"],
        ["USD", "2026-09", "", "12.00", "1"],
    ]

    note_id = made["note"]["id"]
    assert archive.read(f"images/receipts/{made['receipt']['id']}.jpg") == JPEG
    png, jpeg = made["images"]
    assert archive.read(f"images/notes/{note_id}/{png['id']}.png") == PNG
    assert archive.read(f"images/notes/{note_id}/{jpeg['id']}.jpg") == NOTE_JPEG


async def test_one_export_at_a_time_and_only_for_its_owner(api: Api, services: Services) -> None:
    token = (await api.register("once@example.com"))["accessToken"]
    other = (await api.register("nosy@example.com"))["accessToken"]
    first = await start_export(api, token)
    again = await start_export(api, token)
    assert again["id"] == first["id"]
    assert await count(services, "SELECT count(*) FROM data_exports") == 1
    assert (
        await count(
            services,
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'lifegraph:export_data'",
        )
        == 1
    )

    assert await read_export(api, other, first["id"]) is None
    node = await api.op("Node", {"id": first["id"]}, other)
    assert node["data"]["node"] is None
    assert await start_export(api, other) != first

    await run_jobs(services)
    ready = await read_export(api, token, first["id"])
    assert ready is not None
    assert ready["status"] == "READY"
    assert await read_export(api, other, first["id"]) is None
    unsigned = await api.op("DataExport", {"id": first["id"]})
    assert unsigned["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"

    # Once it is built, another may be asked for.
    second = await start_export(api, token)
    assert second["id"] != first["id"]


async def test_an_export_expires_and_its_file_is_deleted(api: Api, services: Services) -> None:
    token = (await api.register("expires@example.com"))["accessToken"]
    export = await start_export(api, token)
    await run_jobs(services)
    ready = await read_export(api, token, export["id"])
    assert ready is not None
    assert ready["status"] == "READY"
    async with services.engine.connect() as connection:
        key = str(await connection.scalar(text("SELECT object_key FROM data_exports")))
    assert key.startswith("exports/")
    assert await services.storage.head(key) is not None

    await recover(services)  # not yet
    assert (await read_export(api, token, export["id"]) or {})["status"] == "READY"

    later = datetime.fromisoformat(ready["expiresAt"]) + timedelta(seconds=1)
    await recover(dataclasses.replace(services, clock=lambda: later))
    expired = await read_export(api, token, export["id"])
    assert expired is not None
    assert (expired["status"], expired["downloadUrl"]) == ("EXPIRED", None)
    await run_jobs(services)
    assert await services.storage.head(key) is None
    assert await count(services, "SELECT count(*) FROM object_deletions") == 0
    assert (await api.client.get(ready["downloadUrl"])).status_code == 404


class PutFails:
    """Object storage that cannot take a file (a bucket that refuses writes)."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        raise ConnectionError("connection reset by peer")

    async def put_file(self, key: str, source: IO[bytes], content_type: str) -> None:
        raise ConnectionError("connection reset by peer")

    async def get(self, key: str, *, max_bytes: int | None = None) -> bytes:
        return await self.store.get(key, max_bytes=max_bytes)

    async def head(self, key: str) -> ObjectInfo | None:
        return await self.store.head(key)

    async def delete(self, key: str) -> None:
        await self.store.delete(key)

    async def presigned_post(
        self, key: str, *, content_type: str, max_size: int, expires_in: int
    ) -> PresignedPost:
        raise NotImplementedError

    async def presigned_get(self, key: str, *, expires_in: int) -> str:
        return await self.store.presigned_get(key, expires_in=expires_in)

    async def presigned_get_many(self, keys: Sequence[str], *, expires_in: int) -> list[str]:
        return await self.store.presigned_get_many(keys, expires_in=expires_in)


async def test_a_failing_export_is_retried_then_fails_with_a_reason(
    api: Api, services: Services
) -> None:
    broken = dataclasses.replace(services, storage=PutFails(services.storage))
    token = (await api.register("fails@example.com"))["accessToken"]
    export = await start_export(api, token)
    await run_jobs(broken)
    waiting = await read_export(api, token, export["id"])
    assert waiting is not None
    assert waiting["status"] == "PENDING"
    jobs = "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'lifegraph:export_data'"
    assert await count(services, f"{jobs} AND status = 'todo' AND attempts = 1") == 1

    # The last attempt: the retry due now, as if the backoff had run its course.
    async with services.engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE procrastinate_jobs SET attempts = 5, scheduled_at = now() "
                "WHERE task_name = 'lifegraph:export_data'"
            )
        )
    await run_jobs(broken)
    failed = await read_export(api, token, export["id"])
    assert failed is not None
    assert failed["status"] == "FAILED"
    assert failed["failureReason"] == "The export could not be built; please start a new one."
    assert failed["downloadUrl"] is None
    assert failed["finishedAt"] is not None

    again = await start_export(api, token)
    assert again["id"] != export["id"]
    await run_jobs(services)
    assert (await read_export(api, token, again["id"]) or {})["status"] == "READY"


@pytest.mark.s3
async def test_an_export_in_s3_downloads_by_its_signed_link(api: Api, services: Services) -> None:
    token = (await api.register("s3-export@example.com"))["accessToken"]
    note = await create_note(api, token, title="With a photo")
    image = payload_image(await add_image(api, token, note["id"], PNG, "p.png", "image/png"))
    export = await start_export(api, token)
    await run_jobs(services)
    ready = await read_export(api, token, export["id"])
    assert ready is not None
    assert ready["status"] == "READY"
    assert ready["downloadUrl"].startswith("http://127.0.0.1:")
    async with httpx.AsyncClient(trust_env=False) as http:
        download = await http.get(ready["downloadUrl"])
    assert download.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    assert archive.read(f"images/notes/{note['id']}/{image['id']}.png") == PNG
    assert [n["title"] for n in json.loads(archive.read("notes.json"))] == ["With a photo"]


async def test_an_export_holds_archived_notes_and_skipped_days(
    api: Api, services: Services
) -> None:
    token = (await api.register("archived-export@example.com"))["accessToken"]
    await create_note(api, token, title="Kept")
    old = await create_note(api, token, title="Archived")
    updated = await api.op("UpdateNote", {"id": old["id"], "input": {"archived": True}}, token)
    assert updated["data"]["updateNote"]["userErrors"] == [], updated
    habit = (await api.op("CreateHabit", {"input": {"name": "Read"}}, token))["data"]
    habit_id = habit["createHabit"]["habit"]["id"]
    skipped = await api.query(
        'mutation($id: ID!) { skipHabitDay(id: $id, date: "2026-11-20") { userErrors { code } } }',
        {"id": habit_id},
        token,
    )
    assert skipped["data"]["skipHabitDay"]["userErrors"] == [], skipped
    export = await start_export(api, token)
    await run_jobs(services)
    ready = await read_export(api, token, export["id"])
    assert ready is not None
    assert ready["status"] == "READY"
    download = await api.client.get(ready["downloadUrl"])
    archive = zipfile.ZipFile(io.BytesIO(download.content))
    notes = {n["title"]: n["archived"] for n in json.loads(archive.read("notes.json"))}
    assert notes == {"Kept": False, "Archived": True}
    assert csv_rows(archive, "habit_check_ins.csv")[1:] == [
        [habit_id, "Read", "2026-11-20", "", "yes"]
    ]


async def test_an_export_holds_projects_budgets_subtasks_completions_and_measured_days(
    api: Api, services: Services
) -> None:
    token = (await api.register("planner-export@example.com"))["accessToken"]
    home = await project(api, token, "Home", color="#336699")
    await run(api, token, "UpdateProject", id=home["id"], input={"archived": True})
    parent = await task(api, token, "Paint the hall", projectId=home["id"])
    subtask = await task(api, token, "Buy paint", parentId=parent["id"])
    weekly = await task(
        api, token, "Water plants", dueAt="2026-11-02T09:00:00Z", recurrence="FREQ=WEEKLY"
    )
    completed = await run(api, token, "CompleteTask", id=weekly["id"])
    assert completed["userErrors"] == [], completed
    budget = payload(
        await api.op(
            "SetBudget", {"input": {"category": "food", "amount": "50", "currency": "EUR"}}, token
        )
    )["budget"]
    water = {"name": "Water", "daysOfWeek": [1, 5], "target": "8", "unit": "glass"}
    habit = payload(await api.op("CreateHabit", {"input": water}, token))["habit"]
    for day, value in (("2026-11-20", "3"), ("2026-11-23", "8")):  # a Friday, a Monday
        payload(await api.op("LogHabit", {"id": habit["id"], "date": day, "value": value}, token))
    payload(await api.op("SkipHabitDay", {"id": habit["id"], "date": "2026-11-27"}, token))

    export = await start_export(api, token)
    await run_jobs(services)
    ready = await read_export(api, token, export["id"])
    assert ready is not None
    assert ready["status"] == "READY", ready
    archive = zipfile.ZipFile(io.BytesIO((await api.client.get(ready["downloadUrl"])).content))
    for name, (document, field) in data_export.JSON_FILES.items():
        with archive.open(name) as entry:
            assert json.load(entry) == await api_answer(api, token, document, field), name

    (exported,) = json.loads(archive.read("projects.json"))
    assert sorted(exported) == sorted(
        ["id", "name", "color", "archived", "position", "createdAt", "updatedAt"]
    )
    assert (exported["id"], exported["name"], exported["color"]) == (home["id"], "Home", "#336699")
    assert (exported["archived"], exported["position"]) == (True, 0)
    assert json.loads(archive.read("budgets.json")) == [
        {"id": budget["id"], "category": "food", "currency": "EUR", "amount": "50.00"}
    ]

    tasks = {found["id"]: found for found in json.loads(archive.read("tasks.json"))}
    assert tasks[subtask["id"]]["project"] == {"id": home["id"]}
    assert tasks[subtask["id"]]["parent"] == {"id": parent["id"]}
    assert tasks[parent["id"]]["parent"] is None
    assert tasks[weekly["id"]]["recurrence"] == "FREQ=WEEKLY"
    assert tasks[weekly["id"]]["completions"] == [completed["completion"]]
    assert tasks[weekly["id"]]["dueAt"] == completed["task"]["dueAt"]  # the next occurrence
    assert tasks[subtask["id"]]["completions"] == []
    rows = csv_rows(archive, "tasks.csv")
    assert rows[0] == list(data_export.TASK_COLUMNS)
    by_id = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert (by_id[subtask["id"]]["project_id"], by_id[subtask["id"]]["parent_id"]) == (
        home["id"],
        parent["id"],
    )
    assert by_id[weekly["id"]]["recurrence"] == "FREQ=WEEKLY"
    assert by_id[weekly["id"]]["project_id"] == ""
    done = completed["completion"]
    assert csv_rows(archive, "task_completions.csv") == [
        list(data_export.COMPLETION_COLUMNS),
        [weekly["id"], "Water plants", done["dueAt"], done["completedAt"]],
    ]

    (measured,) = json.loads(archive.read("habits.json"))
    assert (measured["daysOfWeek"], measured["unit"]) == ([1, 5], "glass")
    assert Decimal(measured["target"]) == 8
    check_ins = measured["checkIns"]
    days = [(c["date"], c["value"] and Decimal(c["value"]), c["skipped"]) for c in check_ins]
    assert days == [
        ("2026-11-20", Decimal(3), False),
        ("2026-11-23", Decimal(8), False),
        ("2026-11-27", None, True),
    ]
    assert [row[2:] for row in csv_rows(archive, "habit_check_ins.csv")[1:]] == [
        ["2026-11-20", check_ins[0]["value"], ""],
        ["2026-11-23", check_ins[1]["value"], ""],
        ["2026-11-27", "", "yes"],
    ]
