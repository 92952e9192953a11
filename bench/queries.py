"""Cost of the list queries the apps send, against the cheapest request there is.

    python bench/queries.py [--rounds N] [--rows N]

Builds a fresh database (DATABASE_URL's server, else the embedded PostgreSQL), fills one
user's account through the API (purchases with items, tasks, notes, habits with a month of
check-ins), then times each contract operation through the ASGI app in this process and
counts its SQL statements. Times are reported as ratios to a `{ __typename }` request
measured in the same run, so figures from machines of different speed compare.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(Path(__file__).parent)]

from client_contract import Contract  # noqa: E402
from subscriptions import fresh_database  # noqa: E402

from lifegraph.app import create_app  # noqa: E402
from lifegraph.services import build_services  # noqa: E402
from lifegraph.settings import Settings  # noqa: E402

PASSWORD = "bench-password-123"
OPERATIONS: list[tuple[str, dict[str, Any]]] = [
    ("Purchases", {"first": 50}),
    ("Tasks", {"first": 50}),
    ("Notes", {"first": 50}),
    ("Habits", {"from": "2026-01-01", "to": "2026-12-31"}),
    ("Receipts", {"first": 50}),
    ("Dashboard", {}),
    ("Me", {}),
]


@dataclasses.dataclass
class Client:
    http: httpx.AsyncClient
    contract: Contract
    token: str = ""

    async def op(self, name: str, variables: dict[str, Any]) -> dict[str, Any]:
        return await self.query(self.contract.document_of(name), variables, name)

    async def query(
        self, document: str, variables: dict[str, Any], name: str | None = None
    ) -> dict[str, Any]:
        body = {"query": document, "variables": variables, "operationName": name}
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self.http.post("/graphql", json=body, headers=headers)
        result: dict[str, Any] = response.json()
        if result.get("errors"):
            raise RuntimeError(f"{name}: {result['errors']}")
        return result


async def fill(client: Client, rows: int) -> None:
    session = await client.op(
        "Register",
        {"input": {"email": "bench@example.com", "password": PASSWORD, "displayName": "Bench"}},
    )
    client.token = session["data"]["register"]["session"]["accessToken"]
    for index in range(rows):
        items = [{"description": f"item {index}-{n}", "amount": "1.00"} for n in range(3)]
        await client.op(
            "CreatePurchase",
            {
                "input": {
                    "merchant": f"Shop {index % 7}",
                    "amount": "3.00",
                    "purchasedAt": f"2026-{1 + index % 12:02d}-10T12:00:00Z",
                    "items": items,
                }
            },
        )
        await client.op("CreateTask", {"input": {"title": f"Task {index}", "tags": ["bench"]}})
        await client.op("CreateNote", {"input": {"title": f"Note {index}", "content": "text"}})
    for index in range(10):
        created = await client.op("CreateHabit", {"input": {"name": f"Habit {index}"}})
        habit = created["data"]["createHabit"]["habit"]["id"]
        for day in range(30):
            when = (date(2026, 10, 1) + timedelta(days=day)).isoformat()
            await client.op("CheckInHabit", {"id": habit, "date": when})


async def timed(client: Client, rounds: int, call: Any) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


async def run(url: str, rounds: int, rows: int, data_dir: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=url,
        data_dir=data_dir,
        password_memory_kib=19456,
        password_time_cost=2,
        password_parallelism=1,
    )
    services = build_services(settings)
    app = create_app(services=services)
    statements = 0

    def count(*_: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(services.engine.sync_engine, "before_cursor_execute", count)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bench") as http,
    ):
        client = Client(http, Contract.load())
        print(f"filling: {rows} purchases (3 items each), tasks and notes; 10 habits", flush=True)
        await fill(client, rows)
        reference = await timed(client, rounds, lambda: client.query("{ __typename }", {}))
        print(f"reference: {{ __typename }} median {reference * 1000:.2f} ms over {rounds}\n")
        print(f"{'operation':12} {'median ms':>10} {'x reference':>12} {'statements':>11}")
        for name, variables in OPERATIONS:
            statements = 0
            await client.op(name, variables)
            per_request = statements
            median = await timed(client, rounds, lambda n=name, v=variables: client.op(n, v))
            print(f"{name:12} {median * 1000:10.2f} {median / reference:11.1f}x {per_request:11d}")
    await services.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=100, help="requests per operation")
    parser.add_argument("--rows", type=int, default=60, help="purchases, tasks and notes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, fresh_database(Path(folder)) as url:
        asyncio.run(run(url, args.rounds, args.rows, Path(folder) / "data"))


if __name__ == "__main__":
    main()
