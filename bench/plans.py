"""Compiled plans against the standard executor, on the heaviest list the apps ask for.

    python bench/plans.py [--rounds N] [--rows N]

Builds a fresh database (DATABASE_URL's server, else the embedded PostgreSQL), fills one
account through the API with receipts read by OCR (a stand-in engine that reads the same
lines from every image), a purchase made from each, and tasks, then runs the contract's
``Purchases(first: 50)`` (items, receipt, OCR: resolvers and DataLoaders on every row) and
``Tasks(first: 50)`` (plain attributes only) in this process through ``schema.execute`` of
two schemas, one with ``compiled_plans`` and one without, alternating requests. The
figure is the ratio of the two medians, measured in the same run; the same is reported
for the execution step alone (what a plan replaces), timed inside the executor.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from starlette.requests import Request
from starlette.responses import Response

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(Path(__file__).parent)]

from client_contract import Contract  # noqa: E402
from subscriptions import fresh_database  # noqa: E402

from lifegraph.app import create_app, query_limits  # noqa: E402
from lifegraph.services import build_services  # noqa: E402
from lifegraph.settings import Settings  # noqa: E402
from resolvers.context import Context, Services  # noqa: E402
from schema.plans import plan_cache  # noqa: E402
from schema.root import build_schema  # noqa: E402
from storage.ocr import OcrItem, OcrResult  # noqa: E402

PASSWORD = "bench-password-123"
OCR = OcrResult(
    engine="given",
    merchant_name="Green Leaf Grocers",
    total=Decimal("42.50"),
    currency="MYR",
    purchased_on=None,
    items=[OcrItem(f"Line {n}", Decimal("2"), Decimal("1.25"), Decimal("2.50")) for n in range(6)],
    confidence=0.87,
    raw_text="GREEN LEAF GROCERS",
)


class Reads:
    name = "given"

    async def read(self, image: bytes, content_type: str) -> OcrResult:
        return OCR


def image(index: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (index % 256, index // 256, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


async def fill(http: httpx.AsyncClient, services: Services, contract: Contract, rows: int) -> str:
    async def op(name: str, variables: dict[str, Any], token: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = {"query": contract.document_of(name), "variables": variables}
        return (await http.post("/graphql", json=body, headers=headers)).json()

    registered = await op(
        "Register",
        {"input": {"email": "bench@example.com", "password": PASSWORD, "displayName": "Bench"}},
    )
    token: str = registered["data"]["register"]["session"]["accessToken"]
    receipts = []
    for index in range(rows):
        operations = {
            "query": contract.document_of("UploadReceipt"),
            "variables": {"file": None},
        }
        response = await http.post(
            "/graphql",
            files={
                "operations": (None, json.dumps(operations)),
                "map": (None, json.dumps({"0": ["variables.file"]})),
                "0": (f"receipt-{index}.png", image(index), "image/png"),
            },
            headers={"Authorization": f"Bearer {token}", "Apollo-Require-Preflight": "true"},
        )
        receipts.append(response.json()["data"]["uploadReceipt"]["receipt"]["id"])
    await services.jobs.run_worker(
        services, wait=False, concurrency=1, install_signal_handlers=False, listen_notify=False
    )
    for index, receipt in enumerate(receipts):
        await op("CreatePurchaseFromReceipt", {"receiptId": receipt}, token)
        task = {"title": f"Task {index}", "tags": ["bench", "plans"], "priority": "HIGH"}
        await op("CreateTask", {"input": task}, token)
    return token


def context(services: Services, token: str) -> Context:
    scope: dict[str, Any] = {"type": "http", "method": "POST", "path": "/graphql"}
    scope |= {"headers": [], "client": ("127.0.0.1", 50000)}
    return Context(
        services=services,
        request=Request(scope),
        authorization=f"Bearer {token}",
        response=Response(),
    )


async def run(url: str, rounds: int, rows: int, data_dir: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=url,
        data_dir=data_dir,
        password_memory_kib=19456,
        password_time_cost=2,
        password_parallelism=1,
        rate_limit_user_points=10**9,
        rate_limit_address_points=10**9,
    )
    base = build_services(settings)
    services = Services(**{**base.__dict__, "ocr": Reads()})
    app = create_app(services=services)
    contract = Contract.load()
    schemas = {on: build_schema(query_limits(settings), compiled_plans=on) for on in (False, True)}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as http,
    ):
        print(f"filling: {rows} receipts read by OCR, a purchase from each; {rows} tasks")
        token = await fill(http, services, contract, rows)
        for name in ("Purchases", "Tasks"):
            await measure(schemas, services, token, contract, name, rounds)
    await services.engine.dispose()


async def measure(
    schemas: dict[bool, Any],
    services: Services,
    token: str,
    contract: Contract,
    name: str,
    rounds: int,
) -> None:
    document = contract.document_of(name)
    answers = {}
    samples: dict[bool, list[float]] = {False: [], True: []}
    plans = plan_cache(schemas[True])
    assert plans is not None
    hits = plans.stats.hits
    steps: dict[bool, list[float]] = {False: [], True: []}
    for on, schema in schemas.items():
        schema.execution_context_class = timed(schema.execution_context_class, steps[on])
    for round_ in range(rounds + 2):
        # Each goes first every other round: what one request leaves to finish in the
        # background (a connection going back to the pool) then delays both alike.
        for on in (False, True) if round_ % 2 else (True, False):
            schema = schemas[on]
            started = time.perf_counter()
            request = context(services, token)
            result = await schema.execute(
                document, {"first": 50}, context_value=request, operation_name=name
            )
            await request.close()  # its connection back to the pool, as the app does
            elapsed = time.perf_counter() - started
            if result.errors:
                raise RuntimeError(result.errors)
            answers[on] = result.data
            if round_ >= 2:  # the first two: the parser cache fills, the plan is built
                samples[on].append(elapsed)
    assert unsigned(answers[True]) == unsigned(answers[False])
    hits = plans.stats.hits - hits
    values = sum(1 for _ in walk(answers[True]))
    standard, compiled = (statistics.median(samples[on]) for on in (False, True))
    print(f"\n{name}(first: 50): {values} values in the answer, {rounds} rounds each")
    print(f"  standard executor  median {standard * 1000:8.2f} ms")
    print(f"  compiled plan      median {compiled * 1000:8.2f} ms  ({hits} runs from the plan)")
    print(f"  ratio              {standard / compiled:8.2f}x")
    standard, compiled = (statistics.median(steps[on][2:]) for on in (False, True))
    print(
        f"  execution step only: {standard * 1000:.2f} ms against {compiled * 1000:.2f} ms,"
        f" {standard / compiled:.2f}x (resolvers and their SQL included)"
    )
    for schema in schemas.values():
        schema.execution_context_class = schema.execution_context_class.__base__


def timed(executor: type[Any], samples: list[float]) -> type[Any]:
    """The executor class, noting how long each operation's execution takes."""

    class Timed(executor):  # type: ignore[misc]
        def execute_operation(self, serially: bool | None = None) -> Any:
            started = time.perf_counter()
            result = super().execute_operation(serially)

            async def finished() -> Any:
                value = await result
                samples.append(time.perf_counter() - started)
                return value

            return finished()

    return Timed


def unsigned(value: Any) -> Any:
    """The answer with image URLs cut before their signature, which is made per second."""
    if isinstance(value, dict):
        return {
            key: item.partition("?")[0] if key == "imageUrl" and item else unsigned(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [unsigned(item) for item in value]
    return value


def walk(value: Any) -> Any:
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)
    else:
        yield value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=60, help="requests per executor")
    parser.add_argument("--rows", type=int, default=50, help="receipts and purchases")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, fresh_database(Path(folder)) as url:
        asyncio.run(run(url, args.rounds, args.rows, Path(folder) / "data"))


if __name__ == "__main__":
    main()
