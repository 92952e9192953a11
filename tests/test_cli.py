"""The real ``lifegraph`` command, run as a subprocess: serve, migrate, create-admin,
export-schema, receipts reprocess, demo, and every command's help.

Every server binds 127.0.0.1 on a free port, waits at most ``STARTUP_SECONDS`` to come up
and is always stopped (SIGTERM, then SIGKILL) in a ``finally``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import difflib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.script import ScriptDirectory
from client_contract import Contract
from conftest import MEMBER_PASSWORD, Api, raw_connection, run_jobs
from receipt_images import Receipt, blank, render
from sqlalchemy.engine import make_url

from db.receipts import ReceiptStatus
from lifegraph.migrate import alembic_config
from lifegraph.reprocess import Tally, reprocess
from lifegraph.settings import Settings
from resolvers.context import Services
from storage.ocr import OcrError, OcrResult

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 60.0
STOP_SECONDS = 30.0
COMMAND_SECONDS = 120.0
# Uvicorn shuts down gracefully on SIGTERM, then re-raises it: -15, or 143 from a Python
# handler that exits with 128 + SIGTERM; 0 when it returns normally.
GRACEFUL_EXITS = {0, -signal.SIGTERM, 128 + signal.SIGTERM}

# The OWASP minimum, so that hashing stays quick in the subprocess.
FAST_PASSWORDS = {
    "LIFEGRAPH_PASSWORD_MEMORY_KIB": "19456",
    "LIFEGRAPH_PASSWORD_TIME_COST": "2",
    "LIFEGRAPH_PASSWORD_PARALLELISM": "1",
}


def lifegraph() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m lifegraph.cli``."""
    script = Path(sys.executable).parent / "lifegraph"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "lifegraph.cli"]


def clean_env(**values: str) -> dict[str, str]:
    """This environment without ``DATABASE_URL`` or any ``LIFEGRAPH_`` setting, plus ``values``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "DATABASE_URL" and not key.startswith("LIFEGRAPH_")
    }
    env.update(values)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*lifegraph(), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
        check=False,
    )


def stop_embedded_postgres(pgdata: Path) -> None:
    """Stops the embedded server a ``lifegraph serve`` left running in ``pgdata``, if any.

    Only that server: the postmaster whose pid is in ``pgdata/postmaster.pid``.
    """
    pid_file = pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown
    deadline = time.monotonic() + STOP_SECONDS
    while pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)


@contextlib.contextmanager
def serving(
    env: dict[str, str], cwd: Path, log: Path, *options: str, stderr: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Runs ``lifegraph serve [options]`` until it answers /healthz; yields its base URL and
    process. Its output goes to ``log``, or its stderr to a file of its own if given."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    errors = stderr or log
    with log.open("ab") as output, errors.open("ab") as error_output:
        process = subprocess.Popen(
            [*lifegraph(), "serve", "--host", "127.0.0.1", "--port", str(port), *options],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=error_output,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            said = errors.read_text()
            assert process.poll() is None, f"exited with {process.returncode}:\n{said}"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}/healthz", timeout=2, trust_env=False).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"not up in {STARTUP_SECONDS}s:\n{said}"
            time.sleep(0.2)
        yield base, process
    finally:
        terminate(process)


def terminate(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_SECONDS)
    return process.returncode


def graphql(
    base: str, document: str, variables: dict[str, Any] | None = None, operation: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"query": document, "variables": variables or {}}
    if operation:
        body["operationName"] = operation
    response = httpx.post(f"{base}/graphql", json=body, timeout=30, trust_env=False)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def op(base: str, contract: Contract, name: str, variables: dict[str, Any]) -> dict[str, Any]:
    return graphql(base, contract.document_of(name), variables, name)


def upload_receipt(base: str, contract: Contract, token: str, image: bytes) -> str:
    operations = {
        "query": contract.document_of("UploadReceipt"),
        "operationName": "UploadReceipt",
        "variables": {"file": None},
    }
    response = httpx.post(
        f"{base}/graphql",
        files={
            "operations": (None, json.dumps(operations)),
            "map": (None, json.dumps({"0": ["variables.file"]})),
            "0": ("receipt.jpg", image, "image/jpeg"),
        },
        headers={"Authorization": f"Bearer {token}", "Apollo-Require-Preflight": "true"},
        timeout=30,
        trust_env=False,
    )
    payload = response.json()["data"]["uploadReceipt"]
    assert payload["userErrors"] == [], payload
    receipt_id: str = payload["receipt"]["id"]
    return receipt_id


def wait_processed(base: str, contract: Contract, token: str, receipt_id: str) -> str:
    """Polls the receipt until it is read; returns the total OCR found."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        response = httpx.post(
            f"{base}/graphql",
            json={"query": contract.document_of("Receipt"), "variables": {"id": receipt_id}},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
            trust_env=False,
        )
        receipt = response.json()["data"]["receipt"]
        if receipt["status"] in ("PROCESSED", "FAILED"):
            assert receipt["status"] == "PROCESSED", receipt
            total: str = receipt["ocr"]["total"]
            return total
        time.sleep(0.2)
    raise AssertionError("the receipt was never read")


def test_serve_starts_on_the_embedded_default_and_keeps_data(
    tmp_path: Path, contract: Contract
) -> None:
    data = tmp_path / "data"
    env = clean_env(LIFEGRAPH_DATA_DIR=str(data), **FAST_PASSWORDS)
    log = tmp_path / "serve.log"
    credentials = {"email": "keeper@example.com", "password": MEMBER_PASSWORD}
    try:
        with serving(env, tmp_path, log) as (base, process):
            assert graphql(base, "{ __typename }")["data"] == {"__typename": "Query"}
            assert httpx.get(f"{base}/readyz", timeout=10, trust_env=False).status_code == 200
            ide = httpx.get(
                f"{base}/graphql", headers={"Accept": "text/html"}, timeout=10, trust_env=False
            )
            assert ide.status_code == 200
            assert ide.headers["content-type"].startswith("text/html")
            assert "graphiql" in ide.text.lower()

            registered = op(
                base, contract, "Register", {"input": {**credentials, "displayName": "Keeper"}}
            )
            payload = registered["data"]["register"]
            assert payload["userErrors"] == [], payload
            assert payload["session"]["accessToken"]

            assert terminate(process) in GRACEFUL_EXITS, log.read_text()
        assert "Finished server process" in log.read_text()
        assert (data / "pgdata" / "PG_VERSION").is_file()
        # A graceful stop stops the embedded server too: the second start is a cold one.
        assert not (data / "pgdata" / "postmaster.pid").exists(), "PostgreSQL still running"

        with serving(env, tmp_path, log) as (base, _):
            login = op(base, contract, "Login", {"input": credentials})
            assert login["data"]["login"]["userErrors"] == [], login
            session = login["data"]["login"]["session"]
            assert session["user"]["email"] == credentials["email"]
            # One command is the whole system: the server's own worker reads the receipt.
            receipt = upload_receipt(base, contract, session["accessToken"], render(Receipt()))
            assert wait_processed(base, contract, session["accessToken"], receipt) == str(
                Receipt().total
            )
    finally:
        stop_embedded_postgres(data / "pgdata")


async def _admin_roles(database_url: str, email: str) -> list[str]:
    async with raw_connection(database_url) as connection:
        rows = await connection.fetch(
            "SELECT r.name FROM users u JOIN user_roles ur ON ur.user_id = u.id "
            "JOIN roles r ON r.id = ur.role_id WHERE u.email = $1 ORDER BY r.name",
            email,
        )
    return [row["name"] for row in rows]


async def _delete_user(database_url: str, email: str) -> None:
    async with raw_connection(database_url) as connection:
        await connection.execute("DELETE FROM users WHERE email = $1", email)


def test_create_admin_and_export_schema(tmp_path: Path, database_url: str) -> None:
    email = "root@example.com"
    env = clean_env(
        DATABASE_URL=database_url,
        LIFEGRAPH_DATA_DIR=str(tmp_path / "data"),
        LIFEGRAPH_ADMIN_PASSWORD="root-password-123",
        **FAST_PASSWORDS,
    )
    try:
        migrated = run(["migrate"], env, tmp_path)
        assert migrated.returncode == 0, migrated.stderr

        created = run(["create-admin", email], env, tmp_path)
        assert created.returncode == 0, created.stderr
        assert f"created admin {email}" in created.stdout

        again = run(["create-admin", email], env, tmp_path)
        assert again.returncode == 0, again.stderr
        assert f"made {email} an admin" in again.stdout

        assert asyncio.run(_admin_roles(database_url, email)) == ["admin", "member"]
        # No embedded server was started: DATABASE_URL was given.
        assert not (tmp_path / "data").exists()
    finally:
        asyncio.run(_delete_user(database_url, email))

    exported = run(["export-schema", "-o", "-"], env, tmp_path)
    assert exported.returncode == 0, exported.stderr
    committed = (ROOT / "schema.graphql").read_text()
    drift = "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            exported.stdout.splitlines(keepends=True),
            "schema.graphql",
            "lifegraph export-schema -o -",
        )
    )
    assert exported.stdout == committed, f"run `lifegraph export-schema`:\n{drift}"


def test_production_refuses_the_default_secret(tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(
        LIFEGRAPH_ENVIRONMENT="production",
        LIFEGRAPH_DATA_DIR=str(tmp_path / "data"),
        # Never reached: nothing may start before the settings are checked.
        DATABASE_URL="postgresql://nobody@127.0.0.1:1/nothing",
    )
    started = time.monotonic()
    refused = subprocess.run(
        [*lifegraph(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=STARTUP_SECONDS,
        check=False,
    )
    assert refused.returncode != 0
    assert "LIFEGRAPH_SECRET_KEY" in refused.stderr
    assert time.monotonic() - started < 30
    assert "Uvicorn running" not in refused.stderr
    assert not (tmp_path / "data").exists()


HELP = {
    (): [
        "serve",
        "worker",
        "migrate",
        "create-admin",
        "trust-documents",
        "export-schema",
        "receipts",
        "demo",
    ],
    ("serve",): ["serve the GraphQL API", "--host", "--port", "--workers", "--no-migrate"],
    ("worker",): ["background jobs", "--concurrency"],
    ("migrate",): ["database migrations", "up", "down", "current", "history"],
    ("migrate", "up"): ["Apply migrations up to REVISION", "head"],
    ("migrate", "down"): ["Undo migrations down to REVISION", "-1", "base"],
    ("migrate", "current"): ["database's revision", "head"],
    ("migrate", "history"): ["List the migrations"],
    ("create-admin",): ["Create an admin", "LIFEGRAPH_ADMIN_PASSWORD", "--password-stdin"],
    ("trust-documents",): ["trusted documents", "FOLDER"],
    ("export-schema",): ["GraphQL schema", "--output"],
    ("receipts",): ["reprocess"],
    ("receipts", "reprocess"): ["Read again, with OCR", "--status", "--user", "Ctrl-C"],
    ("demo",): ["Create a demo user", "--email", "--password", "--months"],
}


@pytest.mark.parametrize("command", list(HELP), ids=lambda command: " ".join(command) or "-")
def test_every_command_says_what_it_does(command: tuple[str, ...], tmp_path: Path) -> None:
    # Wide enough that no phrase is wrapped.
    shown = run([*command, "--help"], clean_env(COLUMNS="200"), tmp_path)
    assert shown.returncode == 0, shown.stderr
    for words in HELP[command]:
        assert words in shown.stdout, f"{words!r} not in:\n{shown.stdout}"


@contextlib.contextmanager
def fresh_database(database_url: str) -> Iterator[str]:
    """A database of its own on the tests' server, without any migration; dropped after."""
    name = f"{make_url(database_url).database}_fresh"

    async def execute(statement: str) -> None:
        async with raw_connection(database_url) as connection:
            await connection.execute(statement)

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(execute(f'DROP DATABASE "{name}" WITH (FORCE)'))


async def _versions(database_url: str) -> list[str]:
    async with raw_connection(database_url) as connection:
        if await connection.fetchval("SELECT to_regclass('alembic_version')") is None:
            return []
        rows = await connection.fetch("SELECT version_num FROM alembic_version")
    return [row["version_num"] for row in rows]


def test_migrate_up_down_current_and_history(tmp_path: Path, database_url: str) -> None:
    with fresh_database(database_url) as url:
        env = clean_env(DATABASE_URL=url, COLUMNS="200")
        scripts = ScriptDirectory.from_config(alembic_config(url))
        (head,) = scripts.get_heads()
        before_head = scripts.get_revision(head).down_revision
        assert isinstance(before_head, str)

        empty = run(["migrate", "current"], env, tmp_path)
        assert empty.returncode == 0, empty.stderr
        assert "no revision (not head)" in empty.stdout
        assert asyncio.run(_versions(url)) == []

        up = run(["migrate", "up"], env, tmp_path)
        assert up.returncode == 0, up.stderr
        assert asyncio.run(_versions(url)) == [head]
        assert f"Running upgrade {before_head} -> {head}" in up.stderr
        assert f"{head} (head)" in run(["migrate", "current"], env, tmp_path).stdout

        down = run(["migrate", "down", "-1"], env, tmp_path)
        assert down.returncode == 0, down.stderr
        assert asyncio.run(_versions(url)) == [before_head]
        assert f"Running downgrade {head} -> {before_head}" in down.stderr
        behind = run(["migrate", "current"], env, tmp_path)
        assert f"{before_head} (not head): 1 migration to apply" in behind.stdout

        listed = run(["migrate", "history"], env, tmp_path)
        assert listed.returncode == 0, listed.stderr
        states = {
            cells[0]: cells[1]
            for line in listed.stdout.splitlines()
            if len(cells := [cell.strip() for cell in line.strip("│ ").split("│")]) == 3
        }
        every = [script.revision for script in scripts.walk_revisions()]
        assert set(every) <= set(states), listed.stdout
        assert states[head] == "to apply, head"
        assert states[before_head] == "applied, current"
        assert all(states[revision] == "applied" for revision in every[2:])

        unknown = run(["migrate", "down", "nosuchrevision"], env, tmp_path)
        assert unknown.returncode == 1
        assert "nosuchrevision" in unknown.stderr
        assert asyncio.run(_versions(url)) == [before_head]

        # Plain `lifegraph migrate` is `migrate up head`, as the deploy steps use it.
        again = run(["migrate"], env, tmp_path)
        assert again.returncode == 0, again.stderr
        assert asyncio.run(_versions(url)) == [head]

        emptied = run(["migrate", "down", "base"], env, tmp_path)
        assert emptied.returncode == 0, emptied.stderr
        assert asyncio.run(_versions(url)) == []


class Outage:
    """An OCR engine that cannot read anything (a service having a bad day)."""

    name = "local"

    async def read(self, image: bytes, content_type: str) -> OcrResult:
        raise OcrError("The OCR service could not read this image.")


class Stalled:
    """An engine that starts reading and never finishes, until the pass is interrupted."""

    name = "local"

    def __init__(self) -> None:
        self.reading = asyncio.Event()

    async def read(self, image: bytes, content_type: str) -> OcrResult:
        self.reading.set()
        await asyncio.Event().wait()
        raise AssertionError("never finishes")


class NoBars:
    def __init__(self) -> None:
        self.totals: dict[str, int] = {}

    def start(self, task: str, total: int) -> None:
        self.totals[task] = total

    def advance(self, task: str, steps: int = 1) -> None:
        pass


async def _upload(api: Api, token: str, image: bytes, filename: str) -> str:
    operations = {
        "query": api.contract.document_of("UploadReceipt"),
        "operationName": "UploadReceipt",
        "variables": {"file": None},
    }
    response = await api.client.post(
        "/graphql",
        files={
            "operations": (None, json.dumps(operations)),
            "map": (None, json.dumps({"0": ["variables.file"]})),
            "0": (filename, image, "image/png"),
        },
        headers={"Authorization": f"Bearer {token}", "Apollo-Require-Preflight": "true"},
    )
    payload = response.json()["data"]["uploadReceipt"]
    assert payload["userErrors"] == [], payload
    receipt_id: str = payload["receipt"]["id"]
    return receipt_id


async def _receipt(api: Api, token: str, receipt_id: str) -> dict[str, Any]:
    result = await api.op("Receipt", {"id": receipt_id}, token)
    assert "errors" not in result, result
    receipt: dict[str, Any] = result["data"]["receipt"]
    return receipt


async def _failed_receipts(api: Api, services: Services) -> dict[str, tuple[str, str]]:
    """Two users' receipts that a service outage failed: a readable one each, and a blank
    sheet of A's. By name: (token, receipt id)."""
    receipts: dict[str, tuple[str, str]] = {}
    for user in ("a", "b"):
        token = (await api.register(f"{user}@example.com"))["accessToken"]
        receipts[user] = (token, await _upload(api, token, render(Receipt(), "PNG"), "r.png"))
    receipts["blank"] = (receipts["a"][0], await _upload(api, receipts["a"][0], blank(), "b.png"))
    await run_jobs(dataclasses.replace(services, ocr=Outage()))
    for token, receipt_id in receipts.values():
        failed = await _receipt(api, token, receipt_id)
        assert (failed["status"], failed["failureReason"]) == (
            "FAILED",
            "The OCR service could not read this image.",
        )
    return receipts


def _command_env(settings: Settings) -> dict[str, str]:
    """A command on the tests' database and object store."""
    return clean_env(
        DATABASE_URL=str(settings.database_url),
        LIFEGRAPH_DATA_DIR=str(settings.data_dir),
        LIFEGRAPH_SECRET_KEY=settings.secret_key,
        LIFEGRAPH_PUBLIC_URL=settings.public_url,
        COLUMNS="200",
        **FAST_PASSWORDS,
    )


async def test_receipts_reprocess_reads_failed_receipts_again(
    api: Api, services: Services, settings: Settings, tmp_path: Path
) -> None:
    receipts = await _failed_receipts(api, services)
    env = _command_env(settings)

    async def status_of(name: str) -> dict[str, Any]:
        return await _receipt(api, *receipts[name])

    async def reprocess_command(*options: str) -> str:
        done = await asyncio.to_thread(run, ["receipts", "reprocess", *options], env, tmp_path)
        assert done.returncode == 0, done.stderr
        return done.stdout

    ours = await reprocess_command("--user", "A@example.com")
    assert "2 receipts read again: 1 processed, 1 failed again." in ours
    read = await status_of("a")
    assert (read["status"], read["failureReason"]) == ("PROCESSED", None)
    assert Decimal(read["ocr"]["total"]) == Receipt().total
    unreadable = await status_of("blank")
    assert unreadable["status"] == "FAILED"
    assert unreadable["failureReason"] not in (None, "The OCR service could not read this image.")
    assert f"1: {unreadable['failureReason']}" in ours
    assert (await status_of("b"))["status"] == "FAILED", "another user's receipt was read"

    everyone = await reprocess_command()
    assert "2 receipts read again: 1 processed, 1 failed again." in everyone
    assert (await status_of("b"))["status"] == "PROCESSED"
    assert (await status_of("blank"))["status"] == "FAILED"

    deleted = await api.op("DeleteReceipt", {"id": receipts["blank"][1]}, receipts["a"][0])
    assert deleted["data"]["deleteReceipt"]["userErrors"] == []
    assert "No FAILED receipts: nothing to do." in await reprocess_command()
    assert "No PENDING receipts: nothing to do." in await reprocess_command("--status", "pending")

    again = await reprocess_command("--status", "PROCESSED", "--user", "b@example.com")
    assert "1 receipt read again: 1 processed, 0 failed again." in again
    assert (await status_of("b"))["status"] == "PROCESSED"
    assert (await status_of("a"))["status"] == "PROCESSED"

    unknown = await asyncio.to_thread(
        run, ["receipts", "reprocess", "--user", "nobody@example.com"], env, tmp_path
    )
    assert unknown.returncode == 1
    assert "no user has the email nobody@example.com" in unknown.stderr


async def test_an_interrupted_reprocess_loses_nothing(api: Api, services: Services) -> None:
    receipts = await _failed_receipts(api, services)
    stalled = Stalled()
    tally = Tally()
    bars = NoBars()
    # What asyncio.run does on Ctrl-C: the pass is cancelled in the middle of a read.
    interrupted = asyncio.create_task(
        reprocess(
            dataclasses.replace(services, ocr=stalled),
            ReceiptStatus.FAILED,
            email=None,
            progress=bars,
            tally=tally,
        )
    )
    await stalled.reading.wait()
    interrupted.cancel()
    with pytest.raises(asyncio.CancelledError):
        await interrupted
    assert bars.totals == {"receipts": 3}
    assert tally.total == 0
    for token, receipt_id in receipts.values():
        # The receipt being read went back to FAILED, as it was: not left PROCESSING.
        assert (await _receipt(api, token, receipt_id))["status"] == "FAILED"

    tally = Tally()
    await reprocess(services, ReceiptStatus.FAILED, email=None, progress=bars, tally=tally)
    assert (tally.processed, tally.failed, tally.skipped) == (2, 1, 0)
    statuses = [(await _receipt(api, *receipt))["status"] for receipt in receipts.values()]
    assert statuses == ["PROCESSED", "PROCESSED", "FAILED"]


async def test_demo_makes_an_account_to_sign_in_with(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    pytest.importorskip("lifegraph.demo")
    env = _command_env(settings)
    made = await asyncio.to_thread(
        run, ["demo", "--email", "visitor@example.com", "--months", "1"], env, tmp_path
    )
    assert made.returncode == 0, made.stderr
    password = next(
        line.split(":", 1)[1].strip()
        for line in made.stdout.splitlines()
        if line.strip().startswith("password:")
    )
    assert f"{settings.public_url}/graphql" in made.stdout

    login = await api.op("Login", {"input": {"email": "visitor@example.com", "password": password}})
    assert login["data"]["login"]["userErrors"] == [], login
    token = login["data"]["login"]["session"]["accessToken"]
    listed = await api.op("Receipts", {"first": 50}, token)
    assert listed["data"]["receipts"]["totalCount"] > 0

    twice = await asyncio.to_thread(
        run, ["demo", "--email", "visitor@example.com", "--months", "1"], env, tmp_path
    )
    assert twice.returncode == 1
    assert "error: " in twice.stderr
    assert "visitor@example.com" in twice.stderr
