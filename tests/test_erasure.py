"""Deleting an account deletes its stored files (receipt and note images, exports) and
what OCR read from its images, through durable jobs, against moto's S3 server: another
account's receipt of the same image keeps its file and its OCR result. Its records go
with it, projects, budgets and task completions included."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest
from conftest import MEMBER_PASSWORD, Api, make_settings, run_jobs
from planning_operations import project, run, task
from receipt_images import Receipt, render
from sqlalchemy import text
from test_exports import payload, payload_image, read_export, start_export
from test_notes import add_image, create_note
from test_receipts import fetch, uploaded

from lifegraph.jobs import recover
from lifegraph.settings import Settings
from resolvers.context import Services
from storage.s3 import S3ObjectStore

SHARED = render(Receipt(merchant="SHARED MART SDN BHD"))
OWN = render(Receipt(merchant="OWN GOODS SDN BHD"))

pytestmark = pytest.mark.s3


@pytest.fixture
def settings(database_url: str, tmp_path: Path, moto_endpoint: str) -> Settings:
    return make_settings(
        database_url,
        data_dir=tmp_path / "data",
        s3_bucket=f"erasure-{uuid.uuid4().hex[:8]}",
        s3_endpoint_url=moto_endpoint,
        s3_access_key_id="testing",
        s3_secret_access_key="testing",
    )


def bucket(services: Services) -> set[str]:
    store = services.storage
    assert isinstance(store, S3ObjectStore)
    listed = store.client.list_objects_v2(Bucket=store.bucket)
    return {entry["Key"] for entry in listed.get("Contents", [])}


async def rows(services: Services, sql: str) -> set[str]:
    async with services.engine.connect() as connection:
        return {str(value) for value in (await connection.scalars(text(sql)))}


async def an_account_and_a_neighbour(api: Api, services: Services) -> tuple[str, str, str]:
    """A member with two receipts (one of an image a neighbour has too), a note image, a
    project with a completed task, a budget and a built export; the tokens, and the
    neighbour's receipt id."""
    token = (await api.register("leaving@example.com"))["accessToken"]
    neighbour = (await api.register("staying@example.com"))["accessToken"]
    await uploaded(api, token, SHARED)
    await uploaded(api, token, OWN)
    kept = await uploaded(api, neighbour, SHARED)
    note = await create_note(api, token, title="Photos")
    payload_image(await add_image(api, token, note["id"]))
    home = await project(api, token, "Home")
    chore = await task(api, token, "Sweep", projectId=home["id"])
    assert (await run(api, token, "CompleteTask", id=chore["id"]))["userErrors"] == []
    budget = await run(api, token, "SetBudget", input={"category": "food", "amount": "50"})
    assert budget["userErrors"] == []
    await run_jobs(services)
    export = await start_export(api, token)
    await run_jobs(services)
    assert (await read_export(api, token, export["id"]) or {})["status"] == "READY"

    assert len(bucket(services)) == 5  # three receipts, a note image, an export
    assert await rows(services, "SELECT sha256 FROM ocr_results") == {
        hashlib.sha256(SHARED).hexdigest(),
        hashlib.sha256(OWN).hexdigest(),
    }
    for table in ("projects", "budgets", "task_completions"):
        assert len(await rows(services, f"SELECT id FROM {table}")) == 1, table
    return token, neighbour, kept["id"]


async def assert_nothing_is_left(services: Services, api: Api, neighbour: str, kept: str) -> None:
    (key,) = await rows(services, "SELECT object_key FROM receipts")
    assert bucket(services) == {key}
    assert await rows(services, "SELECT sha256 FROM ocr_results") == {
        hashlib.sha256(SHARED).hexdigest()
    }
    assert await rows(services, "SELECT key FROM object_deletions") == set()
    for table in ("data_exports", "projects", "budgets", "tasks", "task_completions"):
        assert await rows(services, f"SELECT id FROM {table}") == set(), table
    receipt = await fetch(api, neighbour, kept)
    assert receipt["ocr"]["merchantName"] == "SHARED MART SDN BHD"


async def test_deleting_an_account_deletes_its_files_and_ocr_results(
    api: Api, services: Services
) -> None:
    token, neighbour, kept = await an_account_and_a_neighbour(api, services)
    before = bucket(services)
    deleted = await api.op("DeleteMyAccount", {"password": MEMBER_PASSWORD}, token)
    assert payload(deleted)["ok"] is True
    # Listed for deletion in the account's own transaction; the files go with the jobs.
    assert len(await rows(services, "SELECT key FROM object_deletions")) == 4
    assert bucket(services) == before

    await run_jobs(services)
    await assert_nothing_is_left(services, api, neighbour, kept)


async def test_files_are_deleted_even_when_the_jobs_are_lost(api: Api, services: Services) -> None:
    token, neighbour, kept = await an_account_and_a_neighbour(api, services)
    me = await api.op("Me", {}, token)
    admin = (await api.admin())["accessToken"]
    deleted = await api.op("DeleteUser", {"id": me["data"]["me"]["id"]}, admin)
    assert payload(deleted)["deletedId"] == me["data"]["me"]["id"]

    # The worker died with the queued deletions: only the durable list is left.
    async with services.engine.begin() as connection:
        await connection.execute(
            text("DELETE FROM procrastinate_jobs WHERE task_name = 'lifegraph:delete_object'")
        )
    await run_jobs(services)
    assert len(bucket(services)) == 5

    # The maintenance sweep (or a fresh worker's start) finds the overdue deletions.
    async with services.engine.begin() as connection:
        await connection.execute(
            text("UPDATE object_deletions SET requested_at = now() - interval '10 minutes'")
        )
    await recover(services)
    await run_jobs(services)
    await assert_nothing_is_left(services, api, neighbour, kept)
