"""Receipts through the GraphQL endpoint: both upload paths, background OCR, the OCR
cache, failures and retries, purchases from receipts, and ownership."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import os
import signal
import sys
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from conftest import Api, CountingEngine, StatementCounter, errors_of, make_settings, run_jobs
from receipt_images import Receipt, blank, pixel_bomb, render
from sqlalchemy import text
from starlette.applications import Starlette
from unstorable import UNSTORABLE, send

from db import receipts as receipt_rows
from db.jobs import Task
from db.receipts import Receipt as ReceiptRow
from db.receipts import ReceiptStatus
from lifegraph.settings import Settings
from lifegraph.worker import run_worker
from resolvers.context import Services
from resolvers.dates import writes_month_first
from storage.ocr import OcrEngine, OcrError, OcrItem, OcrResult, OcrUnavailable

HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"


async def upload(
    api: Api,
    token: str,
    data: bytes,
    filename: str = "receipt.jpg",
    content_type: str = "image/jpeg",
    preflight: bool = True,
) -> httpx.Response:
    operations = {
        "query": api.contract.document_of("UploadReceipt"),
        "operationName": "UploadReceipt",
        "variables": {"file": None},
    }
    files: dict[str, Any] = {
        "operations": (None, json.dumps(operations)),
        "map": (None, json.dumps({"0": ["variables.file"]})),
        "0": (filename, data, content_type),
    }
    headers = {"Authorization": f"Bearer {token}"}
    if preflight:
        headers["Apollo-Require-Preflight"] = "true"
    return await api.client.post("/graphql", files=files, headers=headers)


async def uploaded(api: Api, token: str, data: bytes, **options: Any) -> dict[str, Any]:
    response = await upload(api, token, data, **options)
    payload = response.json()["data"]["uploadReceipt"]
    assert payload["userErrors"] == [], payload
    receipt: dict[str, Any] = payload["receipt"]
    return receipt


async def fetch(api: Api, token: str, receipt_id: str) -> dict[str, Any]:
    result = await api.op("Receipt", {"id": receipt_id}, token)
    assert "errors" not in result, result
    receipt: dict[str, Any] = result["data"]["receipt"]
    return receipt


async def count(app: Starlette, sql: str) -> int:
    async with app.state.services.engine.connect() as connection:
        return int(await connection.scalar(text(sql)) or 0)


async def test_multipart_upload_is_read_in_the_background(api: Api, services: Services) -> None:
    token = (await api.register("ocr@example.com"))["accessToken"]
    printed = Receipt()
    image = render(printed)
    receipt = await uploaded(api, token, image, filename="../../shop receipt.jpg")
    assert receipt["status"] == "PENDING"
    assert receipt["originalName"] == "shop receipt.jpg"
    assert (receipt["contentType"], receipt["size"]) == ("image/jpeg", len(image))

    await run_jobs(services)
    read = await fetch(api, token, receipt["id"])
    assert read["status"] == "PROCESSED"
    assert read["sha256"] == hashlib.sha256(image).hexdigest()
    assert read["failureReason"] is None
    assert read["processedAt"] is not None
    ocr = read["ocr"]
    assert Decimal(ocr["total"]) == printed.total
    assert ocr["purchasedOn"] == printed.purchased_on.isoformat()
    assert ocr["currency"] == "MYR"
    assert ocr["merchantName"] == printed.merchant
    assert ocr["engine"] == "local"
    assert 0 < ocr["confidence"] <= 1
    assert printed.merchant in ocr["rawText"]

    image_url = read["imageUrl"]
    download = await api.client.get(image_url)
    assert download.status_code == 200
    assert download.content == image


async def test_multipart_uploads_need_the_preflight_header(api: Api, app: Starlette) -> None:
    token = (await api.register("csrf@example.com"))["accessToken"]
    response = await upload(api, token, render(), preflight=False)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert await count(app, "SELECT count(*) FROM receipts") == 0


@pytest.mark.parametrize(
    ("data", "filename", "code"),
    [
        (HTML, "receipt.png", "UNSUPPORTED_MEDIA_TYPE"),
        (b"", "empty.jpg", "UNSUPPORTED_MEDIA_TYPE"),
        (b"GIF89a" + bytes(64), "receipt.gif", "UNSUPPORTED_MEDIA_TYPE"),
        (b"\xff\xd8\xff\xe0" + bytes(10 * 1024 * 1024), "huge.jpg", "TOO_LARGE"),
        (pixel_bomb(), "bomb.png", "TOO_LARGE"),
    ],
)
async def test_bad_files_are_refused_and_nothing_is_left(
    api: Api, app: Starlette, settings: Settings, data: bytes, filename: str, code: str
) -> None:
    token = (await api.register("bad-files@example.com"))["accessToken"]
    response = await upload(api, token, data, filename=filename, content_type="image/png")
    payload = response.json()["data"]["uploadReceipt"]
    assert payload["receipt"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["file"], code)]
    assert await count(app, "SELECT count(*) FROM receipts") == 0
    objects = settings.objects_dir
    assert not objects.exists() or not any(p.is_file() for p in objects.rglob("*"))


async def test_the_same_image_is_read_once(api: Api, services: Services) -> None:
    engine = services.ocr
    assert isinstance(engine, CountingEngine)
    image = render(Receipt(merchant="TWICE TRADING SDN BHD"))
    first_user = (await api.register("first@example.com"))["accessToken"]
    second_user = (await api.register("second@example.com"))["accessToken"]
    receipts = [
        await uploaded(api, first_user, image),
        await uploaded(api, first_user, image),
        await uploaded(api, second_user, image, filename="mine.jpg"),
    ]
    await run_jobs(services)
    assert engine.calls == 1
    owners = [first_user, first_user, second_user]
    read = [await fetch(api, t, r["id"]) for t, r in zip(owners, receipts, strict=True)]
    assert {r["status"] for r in read} == {"PROCESSED"}
    assert len({json.dumps(r["ocr"], sort_keys=True) for r in read}) == 1

    again = await api.op("ReprocessReceipt", {"id": receipts[0]["id"]}, first_user)
    assert again["data"]["reprocessReceipt"]["receipt"]["status"] == "PENDING"
    await run_jobs(services)
    assert engine.calls == 2
    assert (await fetch(api, first_user, receipts[0]["id"]))["status"] == "PROCESSED"


class FailingOnce:
    """An engine that is down for its first read (like a service outage), then recovers."""

    def __init__(self, engine: OcrEngine) -> None:
        self.engine = engine
        self.name = engine.name
        self.failed = False

    async def read(self, image: bytes, content_type: str) -> OcrResult:
        if not self.failed:
            self.failed = True
            raise OcrError("The OCR service could not read this image.")
        return await self.engine.read(image, content_type)


async def test_a_failed_read_is_visible_and_reprocessing_recovers_it(
    api: Api, services: Services
) -> None:
    flaky = dataclasses.replace(services, ocr=FailingOnce(services.ocr))
    token = (await api.register("flaky@example.com"))["accessToken"]
    receipt = await uploaded(api, token, render())
    await run_jobs(flaky)
    failed = await fetch(api, token, receipt["id"])
    assert failed["status"] == "FAILED"
    assert failed["failureReason"] == "The OCR service could not read this image."
    assert failed["ocr"] is None

    result = await api.op("ReprocessReceipt", {"id": receipt["id"]}, token)
    assert result["data"]["reprocessReceipt"]["userErrors"] == []
    await run_jobs(flaky)
    recovered = await fetch(api, token, receipt["id"])
    assert recovered["status"] == "PROCESSED"
    assert recovered["failureReason"] is None
    assert Decimal(recovered["ocr"]["total"]) == Receipt().total


async def test_an_image_without_text_fails_with_a_reason(api: Api, services: Services) -> None:
    token = (await api.register("blank@example.com"))["accessToken"]
    receipt = await uploaded(api, token, blank(), filename="blank.png")
    await run_jobs(services)
    failed = await fetch(api, token, receipt["id"])
    assert failed["status"] == "FAILED"
    assert failed["failureReason"]


@pytest.fixture
def settings(
    database_url: str, tmp_path: Path, moto_endpoint: str, request: pytest.FixtureRequest
) -> Settings:
    """Local storage by default; S3 on moto's server for tests marked ``s3``."""
    if request.node.get_closest_marker("s3"):
        return make_settings(
            database_url,
            data_dir=tmp_path / "data",
            s3_bucket=f"receipts-{uuid.uuid4().hex[:8]}",
            s3_endpoint_url=moto_endpoint,
            s3_access_key_id="testing",
            s3_secret_access_key="testing",
        )
    return make_settings(database_url, data_dir=tmp_path / "data")


async def presigned_upload(
    api: Api, token: str, data: bytes, content_type: str = "image/jpeg", declared: int = 0
) -> dict[str, Any]:
    """Signs an upload and posts ``data``; a client may lie about its size and type."""
    size = declared or len(data)
    created = await api.op(
        "CreateReceiptUpload",
        {"input": {"filename": "scan.jpg", "contentType": content_type, "size": size}},
        token,
    )
    payload = created["data"]["createReceiptUpload"]
    assert payload["userErrors"] == [], payload
    upload: dict[str, Any] = payload["upload"]
    assert upload["maxSize"] == 10 * 1024 * 1024
    form = {"data": upload["fields"], "files": {"file": ("scan.jpg", data, content_type)}}
    if upload["url"].startswith(str(api.client.base_url)):
        posted = await api.client.post(upload["url"], **form)
    else:
        async with httpx.AsyncClient(trust_env=False) as http:
            posted = await http.post(upload["url"], **form)
    assert posted.status_code in (200, 201, 204), posted.text
    return upload


@pytest.mark.s3
async def test_presigned_upload_to_s3(api: Api, services: Services) -> None:
    token = (await api.register("s3@example.com"))["accessToken"]
    image = render()
    upload = await presigned_upload(api, token, image)
    assert upload["url"].startswith("http://127.0.0.1:")
    assert upload["key"].startswith("receipts/")
    completed = await api.op("CompleteReceiptUpload", {"key": upload["key"]}, token)
    receipt = completed["data"]["completeReceiptUpload"]["receipt"]
    assert (receipt["status"], receipt["size"], receipt["originalName"]) == (
        "PENDING",
        len(image),
        "scan.jpg",
    )
    twice = await api.op("CompleteReceiptUpload", {"key": upload["key"]}, token)
    assert twice["data"]["completeReceiptUpload"]["userErrors"][0]["code"] == "NOT_FOUND"
    await run_jobs(services)
    read = await fetch(api, token, receipt["id"])
    assert read["status"] == "PROCESSED"
    assert Decimal(read["ocr"]["total"]) == Receipt().total
    async with httpx.AsyncClient(trust_env=False) as http:
        download = await http.get(read["imageUrl"])
    assert download.content == image


@pytest.mark.s3
@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\xff\xd8\xff\xe0" + bytes(10 * 1024 * 1024), "TOO_LARGE"),
        (HTML, "UNSUPPORTED_MEDIA_TYPE"),
        (pixel_bomb(), "TOO_LARGE"),
    ],
)
async def test_presigned_uploads_of_bad_files_are_refused_and_removed(
    api: Api, app: Starlette, services: Services, data: bytes, code: str
) -> None:
    token = (await api.register("s3-bad@example.com"))["accessToken"]
    # moto, unlike S3, does not enforce the policy's size range: the server checks again.
    upload = await presigned_upload(api, token, data, declared=1000)
    completed = await api.op("CompleteReceiptUpload", {"key": upload["key"]}, token)
    payload = completed["data"]["completeReceiptUpload"]
    assert payload["receipt"] is None
    assert payload["userErrors"][0]["code"] == code
    assert await services.storage.head(upload["key"]) is None
    assert await count(app, "SELECT count(*) FROM receipts") == 0


async def test_presigned_upload_to_the_local_store(api: Api, services: Services) -> None:
    token = (await api.register("local@example.com"))["accessToken"]
    image = render(image_format="PNG")
    upload = await presigned_upload(api, token, image, content_type="image/png")
    assert upload["url"] == "http://lifegraph.test/storage/upload"
    completed = await api.op("CompleteReceiptUpload", {"key": upload["key"]}, token)
    assert completed["data"]["completeReceiptUpload"]["receipt"]["contentType"] == "image/png"


@pytest.mark.parametrize(
    ("variables", "field", "code"),
    [
        ({"contentType": "text/html", "size": 100}, "contentType", "UNSUPPORTED_MEDIA_TYPE"),
        ({"contentType": "image/jpeg", "size": 10 * 1024 * 1024 + 1}, "size", "TOO_LARGE"),
        ({"contentType": "image/jpeg", "size": 0}, "size", "INVALID"),
    ],
)
async def test_presigned_uploads_are_checked_before_signing(
    api: Api, variables: dict[str, Any], field: str, code: str
) -> None:
    token = (await api.register("sign@example.com"))["accessToken"]
    result = await api.op(
        "CreateReceiptUpload", {"input": {"filename": "x.jpg", **variables}}, token
    )
    payload = result["data"]["createReceiptUpload"]
    assert payload["upload"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["input", field], code)]


async def test_purchase_from_a_receipt(api: Api, services: Services) -> None:
    token = (await api.register("buyer@example.com"))["accessToken"]
    printed = Receipt()
    receipt = await uploaded(api, token, render(printed))
    early = await api.op("CreatePurchaseFromReceipt", {"receiptId": receipt["id"]}, token)
    assert early["data"]["createPurchaseFromReceipt"]["userErrors"][0]["code"] == "INVALID"
    await run_jobs(services)

    created = await api.op("CreatePurchaseFromReceipt", {"receiptId": receipt["id"]}, token)
    purchase = created["data"]["createPurchaseFromReceipt"]["purchase"]
    assert purchase["merchant"] == printed.merchant
    assert Decimal(purchase["amount"]) == printed.total
    assert purchase["currency"] == "MYR"
    assert purchase["purchasedAt"].startswith(printed.purchased_on.isoformat())
    assert purchase["receipt"] == {"id": receipt["id"]}
    assert len(purchase["items"]) == len(printed.lines)

    twice = await api.op("CreatePurchaseFromReceipt", {"receiptId": receipt["id"]}, token)
    assert twice["data"]["createPurchaseFromReceipt"]["userErrors"][0]["code"] == "CONFLICT"
    read = await fetch(api, token, receipt["id"])
    assert read["purchase"]["id"] == purchase["id"]


async def test_delete_removes_the_row_now_and_the_image_in_a_job(
    api: Api, app: Starlette, services: Services
) -> None:
    token = (await api.register("delete@example.com"))["accessToken"]
    receipt = await uploaded(api, token, render())
    key = (await services_receipt(services, receipt["id"])).object_key
    assert await services.storage.head(key) is not None
    deleted = await api.op("DeleteReceipt", {"id": receipt["id"]}, token)
    assert deleted["data"]["deleteReceipt"] == {"deletedId": receipt["id"], "userErrors": []}
    assert (await api.op("Receipt", {"id": receipt["id"]}, token))["data"]["receipt"] is None
    assert await count(app, "SELECT count(*) FROM object_deletions") == 1
    await run_jobs(services)
    assert await services.storage.head(key) is None
    assert await count(app, "SELECT count(*) FROM object_deletions") == 0


async def services_receipt(services: Services, global_id: str) -> ReceiptRow:
    async with services.sessionmaker() as session:
        row = await session.get(ReceiptRow, uuid.UUID(global_id.removeprefix("receipt_")))
    assert row is not None
    return row


async def test_listing_receipts_with_ocr_runs_a_constant_number_of_statements(
    api: Api, services: Services, statements: StatementCounter
) -> None:
    session = await api.register("many@example.com")
    token = session["accessToken"]
    await stored_receipts(services, uuid.UUID(session["user"]["id"].removeprefix("user_")), 50)
    statements.count = 0
    result = await api.op("Receipts", {"first": 50}, token)
    edges = result["data"]["receipts"]["edges"]
    assert len(edges) == 50
    assert {edge["node"]["ocr"]["merchantName"] for edge in edges} == {
        f"Shop {i}" for i in range(50)
    }
    # Principal, page (with its count), and one batched OCR query.
    assert statements.count == 3, statements.count
    processed = await api.op("Receipts", {"filter": {"status": "FAILED"}}, token)
    assert processed["data"]["receipts"]["totalCount"] == 0


async def test_another_users_receipt_is_not_found_by_any_path(api: Api, services: Services) -> None:
    owner = (await api.register("owner@example.com"))["accessToken"]
    other = (await api.register("other@example.com"))["accessToken"]
    receipt = await uploaded(api, owner, render())
    await run_jobs(services)
    rid = receipt["id"]
    assert (await api.op("Receipt", {"id": rid}, other))["data"]["receipt"] is None
    assert (await api.op("Node", {"id": rid}, other))["data"]["node"] is None
    assert (await api.op("Node", {"id": rid}, owner))["data"]["node"]["status"] == "PROCESSED"
    assert (await api.op("Receipts", {}, other))["data"]["receipts"]["totalCount"] == 0
    for name, variables in (
        ("CreatePurchaseFromReceipt", {"receiptId": rid}),
        ("ReprocessReceipt", {"id": rid}),
        ("DeleteReceipt", {"id": rid}),
    ):
        result = await api.op(name, variables, other)
        payload = next(iter(result["data"].values()))
        assert payload["userErrors"][0]["code"] == "NOT_FOUND", name
    linked = await api.op(
        "CreatePurchase",
        {
            "input": {
                "merchant": "x",
                "amount": "1",
                "purchasedAt": "2026-01-01T00:00:00Z",
                "receiptId": rid,
            }
        },
        other,
    )
    assert linked["data"]["createPurchase"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert errors_of(await api.op("Receipts", {})) == ["UNAUTHENTICATED"]
    assert (await fetch(api, owner, rid))["status"] == "PROCESSED"


async def job_status(services: Services) -> list[str]:
    async with services.engine.connect() as connection:
        rows = await connection.scalars(
            text("SELECT status::text FROM procrastinate_jobs WHERE task_name = :task"),
            {"task": Task.PROCESS_RECEIPT.qualified_name},
        )
        return list(rows)


async def test_a_job_interrupted_by_a_worker_crash_is_retried(
    api: Api, services: Services, settings: Settings, tmp_path: Path
) -> None:
    token = (await api.register("crash@example.com"))["accessToken"]
    receipt = await uploaded(api, token, render())
    receipt_id = receipt["id"].removeprefix("receipt_")
    env = {
        **os.environ,
        "DATABASE_URL": str(settings.database_url),
        "LIFEGRAPH_DATA_DIR": str(settings.data_dir),
        "LIFEGRAPH_SECRET_KEY": settings.secret_key,
        "LIFEGRAPH_JOB_STALLED_AFTER_SECONDS": "1",
    }
    watchful = dataclasses.replace(
        services, settings=settings.model_copy(update={"job_stalled_after_seconds": 1.0})
    )
    log = (tmp_path / "worker.log").open("wb")
    async with services.engine.connect() as holder:
        # Hold the receipt's row: the worker takes the job, then waits in the middle of it.
        transaction = await holder.begin()
        await holder.execute(
            text("SELECT 1 FROM receipts WHERE id = CAST(:id AS uuid) FOR UPDATE"),
            {"id": receipt_id},
        )
        worker = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "lifegraph.cli", "worker", "--concurrency", "1"),
            env=env,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            for _ in range(600):
                if await job_status(services) == ["doing"]:
                    break
                assert worker.returncode is None, (tmp_path / "worker.log").read_text()
                await asyncio.sleep(0.1)
            else:
                pytest.fail("the worker never took the job")
            # Another worker is running: it notices the crash within two stall intervals,
            # with no maintenance pass.
            worker_task = asyncio.create_task(run_worker(watchful, concurrency=1))
            await asyncio.sleep(1.5)
            assert await job_status(services) == ["doing"]  # the first worker is alive
        finally:
            worker.send_signal(signal.SIGKILL)
            await asyncio.wait_for(worker.wait(), timeout=30)
            await transaction.rollback()
    log.close()
    try:
        for _ in range(200):
            if await job_status(services) == ["succeeded"]:
                break
            await asyncio.sleep(0.1)
    finally:
        worker_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker_task
    assert await job_status(services) == ["succeeded"]
    assert (await fetch(api, token, receipt["id"]))["status"] == "PROCESSED"


class Unavailable:
    """An engine whose service is down (Textract throttling, no connection)."""

    name = "local"

    async def read(self, image: bytes, content_type: str) -> OcrResult:
        raise OcrUnavailable("ThrottlingException")


async def test_an_unavailable_engine_is_retried_with_backoff_then_fails(
    api: Api, services: Services
) -> None:
    down = dataclasses.replace(services, ocr=Unavailable())
    token = (await api.register("down@example.com"))["accessToken"]
    receipt = await uploaded(api, token, render())
    await run_jobs(down)
    assert (await fetch(api, token, receipt["id"]))["status"] == "PENDING"
    async with services.engine.connect() as connection:
        job = (
            await connection.execute(
                text(
                    "SELECT j.status::text, j.attempts, coalesce(j.scheduled_at >= e.at "
                    "+ interval '0.5 seconds', false) FROM procrastinate_jobs j "
                    "JOIN procrastinate_events e ON e.job_id = j.id AND e.type = 'started' "
                    "WHERE j.task_name = 'lifegraph:process_receipt' "
                    "ORDER BY e.at DESC LIMIT 1"
                )
            )
        ).one()
    # Retried after a wait counted from the last attempt, whatever the time is now (on a
    # slow machine the worker may have met the first retry before it stopped).
    status, attempts, waits = job
    assert (status, waits) == ("todo", True)
    assert attempts >= 1

    # The last attempt: make the retry due now, as if the backoff had run its course.
    async with services.engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE procrastinate_jobs SET attempts = 5, scheduled_at = now() "
                "WHERE task_name = 'lifegraph:process_receipt'"
            )
        )
    await run_jobs(down)
    failed = await fetch(api, token, receipt["id"])
    assert failed["status"] == "FAILED"
    assert failed["failureReason"] == "The receipt could not be read; try again later."


async def test_receipts_filter_by_day_in_the_users_time_zone(api: Api) -> None:
    token = (await api.register("days@example.com"))["accessToken"]
    await api.op(
        "UpdateProfile", {"input": {"settings": {"timezone": "Pacific/Kiritimati"}}}, token
    )
    await uploaded(api, token, render())
    today = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    yesterday = today - timedelta(days=1)

    async def total(**window: str) -> int:
        result = await api.op("Receipts", {"filter": window}, token)
        return int(result["data"]["receipts"]["totalCount"])

    assert await total(**{"from": today.isoformat(), "to": today.isoformat()}) == 1
    assert await total(to=yesterday.isoformat()) == 0
    assert await total(status="PENDING") == 1


class Reads:
    """An engine that reads what it is given, whatever the image."""

    name = "given"

    def __init__(self, result: OcrResult) -> None:
        self.result = result

    async def read(self, image: bytes, content_type: str) -> OcrResult:
        return self.result


CENTS = [("10", "10.00", "100.00"), ("0.5", None, "0.00")]
YEN = [("10", "10", "100"), ("0.5", None, "0")]


@pytest.mark.parametrize(
    ("read_currency", "user_currency", "total", "shown", "items_shown"),
    [
        ("EUR", "USD", "100", "100.00", CENTS),
        (None, "EUR", "9", "9.00", CENTS),
        ("ZZZ", "USD", "9.0000", "9.00", CENTS),
        ("JPY", "EUR", "1E+2", "100", YEN),
        (None, "JPY", "9", "9", YEN),
    ],
)
async def test_ocr_money_has_the_currencys_minor_digits(
    api: Api,
    services: Services,
    read_currency: str | None,
    user_currency: str,
    total: str,
    shown: str,
    items_shown: list[tuple[str, str | None, str]],
) -> None:
    """In the currency OCR read, when it is one; else in the user's."""
    token = (await api.register("digits@example.com"))["accessToken"]
    await api.op("UpdateProfile", {"input": {"settings": {"currency": user_currency}}}, token)
    result = OcrResult(
        engine="given",
        merchant_name="Market",
        total=Decimal(total),
        currency=read_currency,
        purchased_on=None,
        items=[
            OcrItem("Eggs", Decimal("1E+1"), Decimal("10"), Decimal("100")),
            OcrItem("Milk", Decimal("0.5"), None, Decimal("0")),
        ],
        confidence=0.9,
        raw_text="Market",
    )
    receipt = await uploaded(api, token, blank())
    await run_jobs(dataclasses.replace(services, ocr=Reads(result)))
    ocr = (await fetch(api, token, receipt["id"]))["ocr"]
    assert (ocr["total"], ocr["currency"]) == (shown, read_currency)
    assert [(i["quantity"], i["unitPrice"], i["amount"]) for i in ocr["items"]] == items_shown
    created = await api.op("CreatePurchaseFromReceipt", {"receiptId": receipt["id"]}, token)
    purchase = created["data"]["createPurchaseFromReceipt"]["purchase"]
    assert purchase["amount"] == shown
    assert [(i["quantity"], i["unitPrice"], i["amount"]) for i in purchase["items"]] == items_shown


@pytest.mark.parametrize("bad", UNSTORABLE)
async def test_an_upload_key_postgresql_cannot_hold_is_not_found(api: Api, bad: str) -> None:
    token = (await api.register("keys@example.com"))["accessToken"]
    result = await send(api, "CompleteReceiptUpload", {"key": f"receipts/{bad}"}, token)
    payload = result["data"]["completeReceiptUpload"]
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["key"], "NOT_FOUND")]


@pytest.mark.parametrize("value", ["not a file", 7, {"filename": "receipt.jpg"}])
async def test_an_upload_that_is_no_file_is_bad_user_input(
    api: Api, app: Starlette, value: object
) -> None:
    token = (await api.register("no-file@example.com"))["accessToken"]
    result = await api.op("UploadReceipt", {"file": value}, token)
    assert errors_of(result) == ["BAD_USER_INPUT"]
    literal = await api.query('mutation { uploadReceipt(file: "x") { receipt { id } } }', {}, token)
    assert errors_of(literal) == ["BAD_USER_INPUT"]
    assert await count(app, "SELECT count(*) FROM receipts") == 0


@pytest.mark.parametrize("timezone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
async def test_receipts_filter_from_the_first_to_the_last_day_of_the_calendar(
    api: Api, timezone: str
) -> None:
    """Midnight of 0001-01-01 east of UTC, and of the day after 9999-12-31 anywhere, are
    no datetimes: the range runs to the calendar's ends."""
    token = (await api.register("calendar@example.com"))["accessToken"]
    await api.op("UpdateProfile", {"input": {"settings": {"timezone": timezone}}}, token)
    await uploaded(api, token, render())
    for window in [
        {"from": "0001-01-01", "to": "9999-12-31"},
        {"from": "0001-01-01"},
        {"to": "9999-12-31"},
    ]:
        result = await api.op("Receipts", {"filter": window}, token)
        assert "errors" not in result, result
        assert result["data"]["receipts"]["totalCount"] == 1


async def stored_receipts(services: Services, user_id: uuid.UUID, count: int) -> None:
    async with services.sessionmaker.begin() as db:
        for index in range(count):
            sha = hashlib.sha256(f"stored {user_id} {index}".encode()).hexdigest()
            await receipt_rows.add(
                db,
                ReceiptRow(
                    user_id=user_id,
                    status=ReceiptStatus.PROCESSED,
                    object_key=f"receipts/{user_id}/{index}",
                    original_name=f"{index}.jpg",
                    content_type="image/jpeg",
                    size=1000,
                    sha256=sha,
                    ocr_engine="local",
                ),
            )
            await receipt_rows.save_ocr(
                db,
                {
                    "sha256": sha,
                    "engine": "local",
                    "merchant_name": f"Shop {index}",
                    "total": Decimal(index),
                    "currency": "EUR",
                    "purchased_on": None,
                    "items": [],
                    "confidence": 0.9,
                    "raw_text": "",
                },
            )


async def test_a_page_loads_only_the_relations_its_query_selects(
    api: Api, services: Services, statements: StatementCounter
) -> None:
    session = await api.register("lean@example.com")
    token = session["accessToken"]
    await stored_receipts(services, uuid.UUID(session["user"]["id"].removeprefix("user_")), 5)
    statements.count = 0
    bare = await api.query("{ receipts(first: 5) { edges { node { id status } } } }", {}, token)
    assert len(bare["data"]["receipts"]["edges"]) == 5
    assert statements.count == 2  # principal, page (with its count): no OCR read
    statements.count = 0
    # Through a fragment, an inline fragment and an alias, as clients write them.
    document = """
        query { receipts(first: 5) { edges { node { ...Read } } } }
        fragment Read on Receipt { ... on Receipt { reading: ocr { merchantName } } }
    """
    read = await api.query(document, {}, token)
    names = {edge["node"]["reading"]["merchantName"] for edge in read["data"]["receipts"]["edges"]}
    assert names == {f"Shop {index}" for index in range(5)}
    assert statements.count == 3


async def test_image_links_stay_the_same_while_valid_and_are_signed_once(
    api: Api, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = await api.register("links@example.com")
    token = session["accessToken"]
    await stored_receipts(services, uuid.UUID(session["user"]["id"].removeprefix("user_")), 3)
    signed: list[int] = []
    sign = services.storage.presigned_get_many

    async def counted(keys: list[str], *, expires_in: int) -> list[str]:
        signed.append(len(keys))
        assert expires_in >= services.settings.image_url_ttl_seconds
        return await sign(keys, expires_in=expires_in)

    monkeypatch.setattr(services.storage, "presigned_get_many", counted)
    document = "{ receipts(first: 10) { edges { node { imageUrl } } } }"
    first = await api.query(document, {}, token)
    again = await api.query(document, {}, token)
    assert first["data"] == again["data"]
    assert signed == [3]


AMBIGUOUS = OcrResult(
    engine="given",
    merchant_name="Corner Shop",
    total=Decimal("9.00"),
    currency="USD",
    purchased_on=date(2019, 4, 3),
    purchased_on_month_first=date(2019, 3, 4),
    items=[],
    confidence=0.9,
    raw_text="Corner Shop\n12 Hill Road Springfield\nDATE 03/04/2019\nTOTAL 9.00",
    address="12 Hill Road Springfield",
)
READING = "query ($id: ID!) { receipt(id: $id) { ocr { purchasedOn address } } }"


@pytest.mark.parametrize(
    ("locale", "day"), [("en-US", "2019-03-04"), ("en-GB", "2019-04-03"), ("de-DE", "2019-04-03")]
)
async def test_an_ambiguous_date_is_read_in_the_users_locale_order(
    api: Api, services: Services, locale: str, day: str
) -> None:
    token = (await api.register("locale@example.com"))["accessToken"]
    await api.op("UpdateProfile", {"input": {"settings": {"locale": locale}}}, token)
    receipt = await uploaded(api, token, blank())
    await run_jobs(dataclasses.replace(services, ocr=Reads(AMBIGUOUS)))

    read = await api.query(READING, {"id": receipt["id"]}, token)
    assert read["data"]["receipt"]["ocr"] == {
        "purchasedOn": day,
        "address": "12 Hill Road Springfield",
    }
    created = await api.op("CreatePurchaseFromReceipt", {"receiptId": receipt["id"]}, token)
    purchase = created["data"]["createPurchaseFromReceipt"]["purchase"]
    assert purchase["purchasedAt"].startswith(day)


async def test_one_reading_is_shown_to_each_user_in_their_order(
    api: Api, app: Starlette, services: Services
) -> None:
    """The OCR cache is shared by users with the same image; each sees their own order."""
    days = {}
    for locale in ("en-US", "en-GB"):
        token = (await api.register(f"{locale}@example.com"))["accessToken"]
        await api.op("UpdateProfile", {"input": {"settings": {"locale": locale}}}, token)
        receipt = await uploaded(api, token, blank())
        await run_jobs(dataclasses.replace(services, ocr=Reads(AMBIGUOUS)))
        read = await api.query(READING, {"id": receipt["id"]}, token)
        days[locale] = read["data"]["receipt"]["ocr"]["purchasedOn"]
    assert days == {"en-US": "2019-03-04", "en-GB": "2019-04-03"}
    assert await count(app, "SELECT count(*) FROM ocr_results") == 1


async def test_a_date_read_one_way_and_an_old_reading_keep_their_date(
    api: Api, services: Services
) -> None:
    """No month-first reading (an unambiguous date, or a reading cached before there was
    one): every locale sees the date as read, and no address."""
    token = (await api.register("plain@example.com"))["accessToken"]
    await api.op("UpdateProfile", {"input": {"settings": {"locale": "en-US"}}}, token)
    plain = dataclasses.replace(AMBIGUOUS, purchased_on_month_first=None, address=None)
    receipt = await uploaded(api, token, blank())
    await run_jobs(dataclasses.replace(services, ocr=Reads(plain)))
    read = await api.query(READING, {"id": receipt["id"]}, token)
    assert read["data"]["receipt"]["ocr"] == {"purchasedOn": "2019-04-03", "address": None}


@pytest.mark.parametrize(
    ("locale", "month_first"),
    [
        ("en-US", True),
        ("en-GB", False),
        ("de-DE", False),
        ("ms-MY", False),
        ("xx-QQ", False),
        ("not a locale", False),
        ("", False),
    ],
)
def test_a_locale_writes_dates_month_first_by_its_short_date_pattern(
    locale: str, month_first: bool
) -> None:
    """An unknown locale reads dates day first, as most of the world writes them."""
    assert writes_month_first(locale) is month_first
