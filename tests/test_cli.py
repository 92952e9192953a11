"""The real ``lifegraph`` command, run as a subprocess: serve, migrate, create-admin, export-schema.

Every server binds 127.0.0.1 on a free port, waits at most ``STARTUP_SECONDS`` to come up
and is always stopped (SIGTERM, then SIGKILL) in a ``finally``.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from client_contract import Contract
from conftest import MEMBER_PASSWORD, raw_connection
from receipt_images import Receipt, render

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
    env: dict[str, str], cwd: Path, log: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Runs ``lifegraph serve`` until it answers /healthz; yields its base URL and process."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("ab") as output:
        process = subprocess.Popen(
            [*lifegraph(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, f"exited with {process.returncode}:\n{log.read_text()}"
            try:
                if httpx.get(f"{base}/healthz", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"not up in {STARTUP_SECONDS}s:\n{log.read_text()}"
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
