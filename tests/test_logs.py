"""Logs: the real ``lifegraph serve`` writes JSON lines only, every request's carrying its
request id, one access line per request with the GraphQL facts, and never a secret."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from client_contract import Contract
from conftest import MEMBER_PASSWORD, Api, make_settings, raw_connection
from starlette.applications import Starlette
from test_cli import (
    FAST_PASSWORDS,
    GRACEFUL_EXITS,
    clean_env,
    serving,
    terminate,
)
from test_subscriptions import PROTOCOL, Socket
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from lifegraph import http as http_pieces
from lifegraph.logs import REDACTED, formatter, redact_secrets, uses_console
from lifegraph.settings import Environment
from resolvers import roles as role_resolvers


@contextlib.contextmanager
def serving_json(database_url: str, folder: Path) -> Iterator[tuple[str, Path]]:
    """``lifegraph serve --workers 2`` with JSON logs; yields its base URL and its stderr's
    file, complete once the block has ended (the server is stopped then)."""
    env = clean_env(
        DATABASE_URL=database_url,
        LIFEGRAPH_DATA_DIR=str(folder / "data"),
        LIFEGRAPH_LOG_FORMAT="json",
        **FAST_PASSWORDS,
    )
    stderr = folder / "stderr.log"
    with serving(env, folder, folder / "stdout.log", "--workers", "2", stderr=stderr) as (
        base,
        process,
    ):
        yield base, stderr
        assert terminate(process) in GRACEFUL_EXITS, stderr.read_text()


def post(
    base: str,
    contract: Contract,
    name: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body = {"query": contract.document_of(name), "operationName": name, "variables": variables}
    response = httpx.post(
        f"{base}/graphql", json=body, headers=headers or {}, timeout=30, trust_env=False
    )
    assert response.status_code == 200, response.text
    return response


async def subscribe_and_complete(base: str, contract: Contract, token: str) -> str:
    """One DashboardUpdates subscription over a websocket, ended by the client; returns
    the request id the handshake's answer echoed."""
    async with connect(
        f"ws://{base.removeprefix('http://')}/graphql",
        subprotocols=[Subprotocol(PROTOCOL)],
        additional_headers={"X-Request-ID": "socket-7"},
    ) as connection:
        assert connection.response is not None
        client = Socket(connection, contract)
        await client.send({"type": "connection_init", "payload": {"Authorization": token}})
        assert (await client.receive())["type"] == "connection_ack"
        await client.subscribe("DashboardUpdates")
        await client.next_data()
        await client.send({"id": "DashboardUpdates", "type": "complete"})
        echoed: str = connection.response.headers["X-Request-ID"]
        return echoed


async def delete_user(database_url: str, email: str) -> None:
    async with raw_connection(database_url) as connection:
        await connection.execute("DELETE FROM users WHERE email = $1", email)


def test_serve_logs_json_lines_with_request_ids(
    tmp_path: Path, database_url: str, contract: Contract
) -> None:
    email = f"logged-{uuid.uuid4().hex[:8]}@example.com"
    credentials = {"email": email, "password": MEMBER_PASSWORD}
    try:
        with serving_json(database_url, tmp_path) as (base, stderr):
            registered = post(
                base,
                contract,
                "Register",
                {"input": {**credentials, "displayName": "Logged"}},
                {"X-Request-ID": "abc-123"},
            )
            assert registered.headers["X-Request-ID"] == "abc-123"
            session = registered.json()["data"]["register"]["session"]
            token = f"Bearer {session['accessToken']}"
            user_id = session["user"]["id"].removeprefix("user_")

            login = post(base, contract, "Login", {"input": credentials})
            again = login.json()["data"]["login"]["session"]
            tokens = [session["accessToken"], session["refreshToken"]]
            tokens += [again["accessToken"], again["refreshToken"]]

            me = post(base, contract, "Me", headers={"Authorization": token, "X-Request-ID": "me"})
            assert me.json()["data"]["me"]["email"] == email
            anonymous = post(base, contract, "Me")
            generated = anonymous.headers["X-Request-ID"]
            assert len(generated) == 32
            for insane in ("two words", "x" * 200):
                replaced = post(base, contract, "Me", headers={"X-Request-ID": insane})
                assert len(replaced.headers["X-Request-ID"]) == 32

            assert asyncio.run(subscribe_and_complete(base, contract, token)) == "socket-7"
        output = stderr.read_text()
    finally:
        asyncio.run(delete_user(database_url, email))

    lines = [json.loads(line) for line in output.splitlines()]
    assert all({"event", "level", "logger", "timestamp"} <= line.keys() for line in lines)
    started = [line for line in lines if line["event"].startswith("Started server process")]
    assert len(started) == 2, "each worker process logs in JSON"
    assert any(line["logger"].startswith("alembic") for line in lines)

    requests = {line["request_id"]: line for line in lines if line["event"] == "request"}
    register = requests["abc-123"]
    assert register["logger"] == "lifegraph.access"
    assert (register["method"], register["path"], register["status"]) == ("POST", "/graphql", 200)
    assert (register["operation"], register["operation_kind"]) == ("Register", "mutation")
    assert register["error_codes"] == []
    assert register["duration_ms"] > 0
    assert register["client"] == "127.0.0.1"
    assert (requests["me"]["operation"], requests["me"]["user_id"]) == ("Me", user_id)
    assert requests[generated]["error_codes"] == ["UNAUTHENTICATED"]
    assert requests[generated]["user_id"] is None
    assert requests[replaced.headers["X-Request-ID"]]["operation"] == "Me"
    # The start-up probes of /healthz log at debug level, below the default.
    assert not any(line["path"] == "/healthz" for line in requests.values())

    (subscription,) = [line for line in lines if line["event"] == "operation"]
    assert subscription["request_id"] == "socket-7"
    assert subscription["operation"] == "DashboardUpdates"
    assert subscription["operation_kind"] == "subscription"
    assert subscription["user_id"] == user_id

    for secret in [MEMBER_PASSWORD, *tokens]:
        assert secret not in output
        assert secret not in (tmp_path / "stdout.log").read_text()


async def test_a_fault_is_logged_under_the_request_id(
    app: Starlette, api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """In GraphQL's errors and outside them, the correlation id is the request's id."""

    async def broken(*args: object) -> None:
        raise RuntimeError("broken")

    monkeypatch.setattr(role_resolvers, "all_roles", broken)
    admin = await api.admin()
    headers = {"Authorization": f"Bearer {admin['accessToken']}", "X-Request-ID": "fault-1"}
    roles = {"query": "{ roles { name } }"}
    response = await api.client.post("/graphql", json=roles, headers=headers)
    assert response.headers["X-Request-ID"] == "fault-1"
    assert response.json()["errors"][0]["extensions"]["correlationId"] == "fault-1"

    def refused(*args: object) -> None:
        raise RuntimeError("refused")

    monkeypatch.setattr(http_pieces, "text", refused)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://lifegraph.test") as client:
        response = await client.get("/readyz", headers={"X-Request-ID": "fault-2"})
    assert response.status_code == 500
    assert response.json()["errors"][0]["extensions"]["correlationId"] == "fault-2"

    faults = [record.getMessage() for record in caplog.records if record.levelname == "ERROR"]
    assert any("fault-1" in fault for fault in faults)
    assert any("fault-2" in fault for fault in faults)


def test_secrets_are_redacted_at_any_depth() -> None:
    event = {
        "event": "signing in",
        "password": MEMBER_PASSWORD,
        "headers": {"Authorization": "Bearer abc", "Accept": "*/*"},
        "sessions": [{"refresh_token": "r", "id": 1}],
        "email_body": "Hello",
    }
    assert redact_secrets(None, "info", event) == {
        "event": "signing in",
        "password": REDACTED,
        "headers": {"Authorization": REDACTED, "Accept": "*/*"},
        "sessions": [{"refresh_token": REDACTED, "id": 1}],
        "email_body": REDACTED,
    }


@pytest.mark.parametrize(
    ("environment", "log_format", "tty", "console"),
    [
        (Environment.DEVELOPMENT, "auto", True, True),
        (Environment.DEVELOPMENT, "auto", False, False),
        (Environment.PRODUCTION, "auto", True, False),
        (Environment.PRODUCTION, "console", False, True),
        (Environment.DEVELOPMENT, "json", True, False),
    ],
)
def test_the_console_format_is_for_a_developer_terminal(
    monkeypatch: pytest.MonkeyPatch,
    environment: Environment,
    log_format: str,
    tty: bool,
    console: bool,
) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty)
    settings = make_settings(
        "postgresql://unused",
        environment=environment,
        log_format=log_format,
        secret_key="a-production-secret-that-is-long-enough",
    )
    assert uses_console(settings) is console
    renderer = formatter(settings).processors[-1]
    assert isinstance(renderer, structlog.dev.ConsoleRenderer) is console
    assert isinstance(renderer, structlog.processors.JSONRenderer) is not console
