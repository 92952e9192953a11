"""Builds a data export: one zip file of everything an account holds.

The records are read through the app's own schema, signed in as the user, with the
documents below: each JSON file holds exactly what the API returns for them (the nodes
of every page of a connection, in its order). CSV files put the same records in rows for
spreadsheets, and the stored images are copied as they are. The zip is written to a
temporary file, a page at a time, then uploaded to storage in parts; nothing holds it
all in memory.

Files of the zip:

- ``profile.json``: the user and their settings; ``sessions.json``: the signed-in devices.
- ``purchases.json``, ``purchases.csv`` (a row per purchase) and ``purchase_items.csv``
  (a row per line item, by ``purchase_id``).
- ``spending.csv``: by currency, month (in the user's time zone) and category, as
  ``spendingSummary`` gives it for each month.
- ``budgets.json``: each budget's category, currency and amount.
- ``receipts.json`` with what OCR read; ``habits.json`` with their schedules, targets and
  every check-in (its value, or skipped), and ``habit_check_ins.csv``.
- ``projects.json``, archived ones included; ``tasks.json`` with each task's project,
  parent, recurrence, reminder and completions (every occurrence completed), and
  ``tasks.csv`` and ``task_completions.csv`` (a row per completion, by ``task_id``);
  ``notes.json``.
- ``images/receipts/<receipt id>.<ext>``, ``images/notes/<note id>/<image id>.<ext>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import functools
import io
import json
import logging
import mimetypes
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import IO, Any
from zoneinfo import ZoneInfo

import strawberry

from resolvers import exports, ids
from resolvers.context import Context, Services
from schema.root import build_schema
from storage.objects import ObjectNotFound

logger = logging.getLogger("lifegraph.exports")

PAGE = 100
PAGE_INFO = "pageInfo { hasNextPage endCursor }"
LINE = "description quantity unitPrice amount"
OCR = f"merchantName total currency purchasedOn confidence engine rawText items {{ {LINE} }}"

PROFILE = """query ExportProfile {
  me {
    id email emailVerified displayName createdAt
    settings { weekStart locale timezone currency notificationsEmailEnabled dailyDigestHour }
    roles { name description permissions }
  }
}"""
SESSIONS = """query ExportSessions {
  mySessions { id createdAt lastUsedAt userAgent ipAddress }
}"""
PURCHASES = f"""query ExportPurchases($after: String) {{
  purchases(first: {PAGE}, after: $after) {{
    {PAGE_INFO}
    edges {{ node {{
      id merchant amount currency category purchasedAt note createdAt updatedAt
      items {{ {LINE} }}
      receipt {{ id }}
    }} }}
  }}
}}"""
SPENDING = """query ExportSpending($from: Date!, $to: Date!, $currency: String!) {
  spendingSummary(from: $from, to: $to, currency: $currency) {
    currency total count byCategory { category total count }
  }
}"""
BUDGETS = """query ExportBudgets {
  budgets { id category currency amount }
}"""
RECEIPTS = f"""query ExportReceipts($after: String) {{
  receipts(first: {PAGE}, after: $after) {{
    {PAGE_INFO}
    edges {{ node {{
      id status originalName contentType size sha256 createdAt processedAt failureReason
      ocr {{ {OCR} }}
      purchase {{ id }}
    }} }}
  }}
}}"""
HABITS = """query ExportHabits {
  habits(includeArchived: true) {
    id name description color frequency targetPerWeek daysOfWeek target unit archived position
    checkIns(from: "0001-01-01", to: "9999-12-31") { date value skipped }
  }
}"""
PROJECTS = """query ExportProjects {
  projects(includeArchived: true) { id name color archived position createdAt updatedAt }
}"""
TASKS = f"""query ExportTasks($after: String) {{
  tasks(first: {PAGE}, after: $after) {{
    {PAGE_INFO}
    edges {{ node {{
      id title description status priority dueAt remindAt completedAt tags createdAt updatedAt
      version recurrence
      project {{ id }}
      parent {{ id }}
      completions {{ dueAt completedAt }}
    }} }}
  }}
}}"""
NOTES = f"""query ExportNotes($after: String, $archived: Boolean) {{
  notes(first: {PAGE}, after: $after, filter: {{ archived: $archived }}) {{
    {PAGE_INFO}
    edges {{ node {{
      id title content tags pinned archived createdAt updatedAt version
      images {{ id contentType size createdAt }}
    }} }}
  }}
}}"""

JSON_FILES: dict[str, tuple[str, str]] = {
    "profile.json": (PROFILE, "me"),
    "sessions.json": (SESSIONS, "mySessions"),
    "purchases.json": (PURCHASES, "purchases"),
    "budgets.json": (BUDGETS, "budgets"),
    "receipts.json": (RECEIPTS, "receipts"),
    "habits.json": (HABITS, "habits"),
    "projects.json": (PROJECTS, "projects"),
    "tasks.json": (TASKS, "tasks"),
    "notes.json": (NOTES, "notes"),
}
"""Each JSON file of the zip: the document it holds the answer to, and the root field."""

PURCHASE_COLUMNS = (
    "id",
    "purchased_at",
    "merchant",
    "category",
    "amount",
    "currency",
    "note",
    "receipt_id",
    "items",
    "created_at",
    "updated_at",
)
ITEM_COLUMNS = ("purchase_id", "line", "description", "quantity", "unit_price", "amount")
SPENDING_COLUMNS = ("currency", "month", "category", "total", "count")
CHECK_IN_COLUMNS = ("habit_id", "habit", "date", "value", "skipped")
TASK_COLUMNS = (
    "id",
    "title",
    "status",
    "priority",
    "due_at",
    "completed_at",
    "tags",
    "description",
    "created_at",
    "updated_at",
    "remind_at",
    "project_id",
    "parent_id",
    "recurrence",
)
COMPLETION_COLUMNS = ("task_id", "task", "due_at", "completed_at")
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heic",
    "image/heif": "heif",
    "application/pdf": "pdf",
}


class ExportError(Exception):
    """The schema refused a read of the export (a fault: the documents are the server's)."""


@functools.cache
def _schema() -> strawberry.Schema:
    return build_schema(introspection=False, metered=False)


async def build(services: Services, export_id: uuid.UUID) -> None:
    """The job: claims the export, writes the zip, uploads it and marks it READY. Any
    error propagates, for the queue to retry."""
    claimed = await exports.claim(services, export_id)
    if claimed is None:
        return
    with tempfile.TemporaryFile(prefix="lifegraph-export-") as file:
        await write(services, claimed, file)
        size = file.tell()
        file.seek(0)
        await services.storage.put_file(claimed.object_key, file, exports.CONTENT_TYPE)
    await exports.finish(services, claimed, size)


class Reader:
    """Runs the export's documents through the schema, signed in as the user."""

    def __init__(self, services: Services, claimed: exports.Claimed) -> None:
        self.services = services
        self.claimed = claimed

    async def read(self, document: str, variables: dict[str, Any] | None = None) -> Any:
        ctx = Context.acting_as(self.services, self.claimed.principal)
        try:
            result = await _schema().execute(document, variables, context_value=ctx)
        finally:
            await ctx.close()
        if result.errors:
            raise ExportError(result.errors[0].message)
        assert result.data is not None
        return result.data

    async def nodes(
        self, document: str, field: str, variables: dict[str, Any] | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """Every node of a connection, a page at a time."""
        after: str | None = None
        while True:
            connection = (await self.read(document, {**(variables or {}), "after": after}))[field]
            for edge in connection["edges"]:
                yield edge["node"]
            if not connection["pageInfo"]["hasNextPage"]:
                return
            after = connection["pageInfo"]["endCursor"]


class JsonList:
    """A JSON array written to a zip entry one element (a line) at a time."""

    def __init__(self, entry: IO[bytes]) -> None:
        self.entry = entry
        self.count = 0
        entry.write(b"[")

    def add(self, value: object) -> None:
        self.entry.write(b",\n" if self.count else b"\n")
        self.entry.write(json.dumps(value, ensure_ascii=False).encode())
        self.count += 1

    def close(self) -> None:
        self.entry.write(b"\n]\n" if self.count else b"]\n")


class CsvSpool:
    """CSV rows kept in a temporary file while their zip entry cannot be open yet (the
    JSON file of the same records is being written)."""

    def __init__(self, file: IO[bytes], columns: Iterable[str]) -> None:
        self.file = file
        self.text = io.TextIOWrapper(self.file, encoding="utf-8", newline="")
        self.writer = csv.writer(self.text)
        self.writer.writerow(columns)

    def row(self, values: Iterable[object]) -> None:
        self.writer.writerow(["" if value is None else value for value in values])

    def copy_into(self, archive: zipfile.ZipFile, name: str) -> None:
        self.text.flush()
        self.file.seek(0)
        with archive.open(name, "w") as entry:
            shutil.copyfileobj(self.file, entry)


@contextlib.contextmanager
def json_list(archive: zipfile.ZipFile, name: str) -> Iterator[JsonList]:
    with archive.open(name, "w") as entry:
        written = JsonList(entry)
        yield written
        written.close()


@contextlib.contextmanager
def spooled(columns: Iterable[str]) -> Iterator[CsvSpool]:
    with tempfile.TemporaryFile(prefix="lifegraph-export-") as file:
        spool = CsvSpool(file, columns)
        try:
            yield spool
        finally:
            spool.text.detach()  # the file is closed by its own context


async def write(services: Services, claimed: exports.Claimed, file: IO[bytes]) -> None:
    reader = Reader(services, claimed)
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        profile = (await reader.read(PROFILE))["me"]
        with archive.open("profile.json", "w") as entry:
            entry.write(json.dumps(profile, ensure_ascii=False, indent=2).encode() + b"\n")
        await _listed(reader, archive, "sessions.json")
        months = await _purchases(reader, archive, ZoneInfo(profile["settings"]["timezone"]))
        await _spending(reader, archive, months)
        await _listed(reader, archive, "budgets.json")
        with json_list(archive, "receipts.json") as receipts:
            async for node in reader.nodes(RECEIPTS, "receipts"):
                receipts.add(node)
        await _habits(reader, archive)
        await _listed(reader, archive, "projects.json")
        await _tasks(reader, archive)
        with json_list(archive, "notes.json") as notes:
            for archived in (False, True):  # the default list leaves archived notes out
                async for node in reader.nodes(NOTES, "notes", {"archived": archived}):
                    notes.add(node)
        await _images(services, claimed, archive)


async def _listed(reader: Reader, archive: zipfile.ZipFile, name: str) -> None:
    """A JSON file of a list read whole, in one request (one of ``JSON_FILES``)."""
    document, field = JSON_FILES[name]
    found = (await reader.read(document))[field]
    with archive.open(name, "w") as entry:
        entry.write(json.dumps(found, ensure_ascii=False, indent=2).encode() + b"\n")


async def _purchases(
    reader: Reader, archive: zipfile.ZipFile, timezone: ZoneInfo
) -> set[tuple[str, date]]:
    """Writes the purchases; returns the (currency, month) pairs they were spent in."""
    months: set[tuple[str, date]] = set()
    with spooled(PURCHASE_COLUMNS) as rows, spooled(ITEM_COLUMNS) as items:
        with json_list(archive, "purchases.json") as purchases:
            async for node in reader.nodes(PURCHASES, "purchases"):
                purchases.add(node)
                receipt = node["receipt"]
                rows.row(
                    [
                        node["id"],
                        node["purchasedAt"],
                        node["merchant"],
                        node["category"],
                        node["amount"],
                        node["currency"],
                        node["note"],
                        receipt["id"] if receipt else None,
                        len(node["items"]),
                        node["createdAt"],
                        node["updatedAt"],
                    ]
                )
                for line, item in enumerate(node["items"], start=1):
                    items.row(
                        [
                            node["id"],
                            line,
                            item["description"],
                            item["quantity"],
                            item["unitPrice"],
                            item["amount"],
                        ]
                    )
                spent = datetime.fromisoformat(node["purchasedAt"]).astimezone(timezone)
                months.add((node["currency"], spent.date().replace(day=1)))
        rows.copy_into(archive, "purchases.csv")
        items.copy_into(archive, "purchase_items.csv")
    return months


async def _spending(
    reader: Reader, archive: zipfile.ZipFile, months: set[tuple[str, date]]
) -> None:
    with archive.open("spending.csv", "w") as entry, _csv_text(entry) as text:
        writer = csv.writer(text)
        writer.writerow(SPENDING_COLUMNS)
        for currency, first in sorted(months):
            last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            variables = {"from": first.isoformat(), "to": last.isoformat(), "currency": currency}
            summary = (await reader.read(SPENDING, variables))["spendingSummary"]
            for bucket in summary["byCategory"]:
                writer.writerow(
                    [
                        summary["currency"],
                        first.strftime("%Y-%m"),
                        bucket["category"] or "",
                        bucket["total"],
                        bucket["count"],
                    ]
                )


@contextlib.contextmanager
def _csv_text(entry: IO[bytes]) -> Iterator[io.TextIOWrapper]:
    text = io.TextIOWrapper(entry, encoding="utf-8", newline="")
    try:
        yield text
    finally:
        text.flush()
        text.detach()  # the zip entry is closed by its own context


async def _habits(reader: Reader, archive: zipfile.ZipFile) -> None:
    habits = (await reader.read(HABITS))["habits"]
    with json_list(archive, "habits.json") as written:
        for habit in habits:
            written.add(habit)
    with archive.open("habit_check_ins.csv", "w") as entry, _csv_text(entry) as text:
        writer = csv.writer(text)
        writer.writerow(CHECK_IN_COLUMNS)
        for habit in habits:
            for check_in in habit["checkIns"]:
                writer.writerow(
                    [
                        habit["id"],
                        habit["name"],
                        check_in["date"],
                        check_in["value"] or "",
                        "yes" if check_in["skipped"] else "",
                    ]
                )


async def _tasks(reader: Reader, archive: zipfile.ZipFile) -> None:
    with spooled(TASK_COLUMNS) as rows, spooled(COMPLETION_COLUMNS) as completions:
        with json_list(archive, "tasks.json") as tasks:
            async for node in reader.nodes(TASKS, "tasks"):
                tasks.add(node)
                project, parent = node["project"], node["parent"]
                rows.row(
                    [
                        node["id"],
                        node["title"],
                        node["status"],
                        node["priority"],
                        node["dueAt"],
                        node["completedAt"],
                        ", ".join(node["tags"]),
                        node["description"],
                        node["createdAt"],
                        node["updatedAt"],
                        node["remindAt"],
                        project["id"] if project else None,
                        parent["id"] if parent else None,
                        node["recurrence"],
                    ]
                )
                for done in node["completions"]:
                    completions.row([node["id"], node["title"], done["dueAt"], done["completedAt"]])
        rows.copy_into(archive, "tasks.csv")
        completions.copy_into(archive, "task_completions.csv")


def extension(content_type: str) -> str:
    known = EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type)
    return (known or "bin").lstrip(".")


async def _images(services: Services, claimed: exports.Claimed, archive: zipfile.ZipFile) -> None:
    """The stored images, as they were uploaded (stored, not compressed again)."""
    files = await exports.files_of(services, claimed.principal.user_id)
    named = [
        (
            f"images/receipts/{ids.encode('receipt', stored.id)}.{extension(stored.content_type)}",
            stored.object_key,
        )
        for stored in files.receipts
    ] + [
        (
            f"images/notes/{ids.encode('note', image.note_id)}/"
            f"{ids.encode('noteimage', image.id)}.{extension(image.content_type)}",
            image.object_key,
        )
        for image in files.note_images
    ]
    for name, key in named:
        try:
            data = await services.storage.get(key)
        except ObjectNotFound:
            logger.warning("export %s: no stored file %s", claimed.id, key)
            continue
        await asyncio.to_thread(archive.writestr, name, data, zipfile.ZIP_STORED)
