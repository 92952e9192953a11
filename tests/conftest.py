"""Fixtures: a fresh PostgreSQL database per test run, an app per test, and a GraphQL client.

With ``DATABASE_URL`` set, the run creates its own database on that server and drops it
at the end; otherwise it starts the embedded PostgreSQL in a temporary folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from moto.server import ThreadedMotoServer
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from starlette.applications import Starlette

sys.path.insert(0, str(Path(__file__).parent))

from client_contract import Contract

from auth.tokens import TokenService
from lifegraph import embedded
from lifegraph.app import create_app, server_options
from lifegraph.migrate import upgrade
from lifegraph.services import build_services
from lifegraph.settings import OWASP_MIN_MEMORY_KIB, OWASP_MIN_TIME_COST, Settings
from resolvers.context import Services
from storage.ocr import OcrEngine, OcrResult
from storage.ocr.local import LocalOcrEngine

ADMIN_PASSWORD = "admin-password-123"
MEMBER_PASSWORD = "member-password-123"


@contextlib.asynccontextmanager
async def raw_connection(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain asyncpg connection, for set-up outside the app (databases, direct checks)."""
    url = make_url(database_url)
    connection = await asyncpg.connect(
        user=url.username,
        password=url.password,
        host=url.host or url.query.get("host"),
        port=url.port,
        database=url.database,
    )
    try:
        yield connection
    finally:
        await connection.close()


async def _execute(admin_url: str, statement: str) -> None:
    async with raw_connection(admin_url) as connection:
        await connection.execute(statement)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    name = f"lifegraph_test_{uuid.uuid4().hex[:12]}"
    server_url = os.environ.get("DATABASE_URL")
    if server_url:
        asyncio.run(_execute(server_url, f'CREATE DATABASE "{name}"'))
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    else:
        url = embedded.start(tmp_path_factory.mktemp("embedded") / "pgdata", database=name)
    upgrade(url)
    yield url
    if server_url:
        asyncio.run(_execute(server_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "public_url": "http://lifegraph.test",
        "secret_key": "test-secret-key-that-is-long-enough-for-hs256",
        "password_memory_kib": OWASP_MIN_MEMORY_KIB,
        "password_time_cost": OWASP_MIN_TIME_COST,
        "password_parallelism": 1,
        "cors_origins": ["http://app.test"],
        "tune_gc": False,
        # Tests send many requests from one address; tests/test_attacks.py sets its own.
        "rate_limit_user_points": 10**9,
        "rate_limit_address_points": 10**9,
        "rate_limit_connections_per_address": 10**9,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """An S3 endpoint over HTTP on loopback: moto's server mode."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, data_dir=tmp_path / "data")


class CountingEngine:
    """The real OCR engine, counting how often it reads."""

    def __init__(self, engine: OcrEngine) -> None:
        self.engine = engine
        self.name = engine.name
        self.calls = 0

    async def read(self, image: bytes, content_type: str) -> OcrResult:
        self.calls += 1
        return await self.engine.read(image, content_type)


@pytest.fixture(scope="session")
def local_ocr() -> OcrEngine:
    """One engine for the run: its models load once."""
    return LocalOcrEngine()


@pytest.fixture
def services(settings: Settings, local_ocr: OcrEngine) -> Services:
    return dataclasses.replace(build_services(settings), ocr=CountingEngine(local_ocr))


RESET = (
    "TRUNCATE users, ocr_results, object_deletions, sign_in_failures, account_requests, "
    "trusted_documents, "
    "procrastinate_jobs, "
    "procrastinate_events, "
    "procrastinate_periodic_defers, procrastinate_workers CASCADE"
)


@pytest.fixture
async def app(services: Services) -> AsyncIterator[Starlette]:
    application = create_app(services=services)
    async with application.router.lifespan_context(application):
        yield application
    async with services.engine.begin() as connection:
        await connection.execute(text(RESET))
    await services.engine.dispose()


@pytest.fixture
async def emptied(database_url: str) -> AsyncIterator[None]:
    """For a test whose own servers store things: the database is emptied afterwards."""
    yield
    await reset(database_url)


async def reset(database_url: str) -> None:
    """Empties what a test stored, for tests that build an app of their own."""
    async with raw_connection(database_url) as connection:
        await connection.execute(RESET)


async def run_jobs(services: Services) -> None:
    """Runs every queued job, then returns (a worker that does not wait for more)."""
    await services.jobs.run_worker(
        services, wait=False, concurrency=1, install_signal_handlers=False, listen_notify=False
    )


@pytest.fixture
def contract() -> Contract:
    return Contract.load()


@pytest.fixture
async def api(app: Starlette, contract: Contract) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://lifegraph.test") as client:
        yield Api(client, contract)


class Api:
    """Sends the client contract's own operations, by name, as the apps do."""

    def __init__(self, client: httpx.AsyncClient, contract: Contract) -> None:
        self.client = client
        self.contract = contract

    async def query(
        self,
        document: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
        operation: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body: dict[str, Any] = {"query": document, "variables": variables or {}}
        if operation:
            body["operationName"] = operation
        response = await self.client.post("/graphql", json=body, headers=headers)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def op(
        self, name: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        return await self.query(self.contract.document_of(name), variables, token, name)

    async def register(
        self, email: str, password: str = MEMBER_PASSWORD, name: str = "Member"
    ) -> dict[str, Any]:
        result = await self.op(
            "Register", {"input": {"email": email, "password": password, "displayName": name}}
        )
        payload = result["data"]["register"]
        assert payload["userErrors"] == [], payload
        session: dict[str, Any] = payload["session"]
        return session

    async def admin(self, email: str = "admin@example.com") -> dict[str, Any]:
        """Registers a user and grants admin directly in the database, as `create-admin` does."""
        session = await self.register(email, ADMIN_PASSWORD, "Admin")
        services = self.client._transport.app.state.services  # type: ignore[attr-defined]
        async with services.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO user_roles (user_id, role_id) "
                    "SELECT CAST(:id AS uuid), id FROM roles WHERE name = 'admin'"
                ),
                {"id": session["user"]["id"].removeprefix("user_")},
            )
        return session


def errors_of(result: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in result.get("errors", [])]


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *args: Any) -> None:
        self.count += 1


@pytest.fixture
def statements(app: Starlette) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    engine = app.state.services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine, "before_cursor_execute", counter)


def loopback_server(services: Services) -> tuple[uvicorn.Server, int]:
    """The app as Uvicorn serves it (the same server options), on a free loopback port;
    the caller runs it, in its event loop or a thread of its own."""
    from test_cli import free_port

    port = free_port()
    config = uvicorn.Config(
        create_app(services=services),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        **server_options(services.settings),
    )
    return uvicorn.Server(config), port


@contextlib.asynccontextmanager
async def served(services: Services) -> AsyncIterator[str]:
    """The app served by Uvicorn on a loopback port, in this test's event loop."""
    instance, port = loopback_server(services)
    task = asyncio.create_task(instance.serve())
    for _ in range(500):
        if instance.started:
            break
        await asyncio.sleep(0.02)
    assert instance.started, "Uvicorn did not start within 10 s"
    yield f"127.0.0.1:{port}"
    instance.should_exit = True
    await asyncio.wait_for(task, 10)


@pytest.fixture
def access_ttl() -> timedelta | None:
    """A test that parametrizes this gets access tokens of that lifetime (None: the
    settings'), even shorter than the settings allow, so that it need not wait long."""
    return None


@pytest.fixture
async def server(services: Services, access_ttl: timedelta | None) -> AsyncIterator[str]:
    """The app served on a loopback port (``served``), its access tokens lasting
    ``access_ttl``; what the test stored is emptied afterwards."""
    if access_ttl is not None:
        settings = services.settings
        tokens = TokenService(
            secret=settings.secret_key,
            issuer=settings.token_issuer,
            audience=settings.token_audience,
            ttl=access_ttl,
        )
        services = dataclasses.replace(services, tokens=tokens)
    async with served(services) as address:
        yield address
    assert services.settings.database_url is not None
    await reset(services.settings.database_url)


# --- a real SMTP server on loopback (aiosmtpd) that keeps what it receives -------------


class Inbox:
    """An aiosmtpd handler keeping what it received; ``refuse`` makes it answer 451, and
    ``delay`` holds each message that long before accepting it."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse = False
        self.delay = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 4.3.0 Try again later"
        await asyncio.sleep(self.delay)
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def take(self) -> list[EmailMessage]:
        taken, self.messages = self.messages, []
        return taken


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    from test_cli import free_port

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def inbox(smtp: tuple[Inbox, int]) -> Inbox:
    return smtp[0]


@pytest.fixture
def mail_settings(database_url: str, tmp_path: Path, smtp: tuple[Inbox, int]) -> Settings:
    """Settings sending the app's mail to ``smtp``: a test module's ``settings`` may be these."""
    return make_settings(
        database_url,
        data_dir=tmp_path / "data",
        smtp_url=f"smtp://127.0.0.1:{smtp[1]}",
        mail_from="lifegraph <no-reply@lifegraph.test>",
        app_url="https://app.lifegraph.test/",
    )


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())
