"""lifegraph's GraphQL API over real HTTP, against a hand-written endpoint in the same run.

    python bench/http_load.py [--duration 10] [--connections 16] [--rounds 2] [--workers 1,2]
                         [--out bench/results] [--reencode-lifegraph]

1. A fresh database (a new one on the server of DATABASE_URL, dropped at the end, or the
   embedded PostgreSQL in a temporary folder), migrated, then filled straight through
   COPY (``bench/seed.py``, seeded): 20 members, each with 2,000 purchases of 3 items,
   500 processed receipts with their OCR results (400 linked to purchases), 300 tasks,
   300 notes and 10 habits with a month of check-ins.
2. ``lifegraph serve --workers N`` as users start it, in production mode, with the rate
   limits raised out of the way, local storage in the temporary folder and no job worker;
   beside it the reference (``bench/reference.py``) on Uvicorn with as many workers. The
   users sign in with the contract's ``Login``.
3. Every operation is checked to answer without errors, and the reference's answers to
   ``Purchases(first: 50)`` and ``Dashboard`` must be byte for byte lifegraph's ``data``
   (its ``extensions.cost`` aside) for several users; the first difference is printed
   and the run stops. Image links are signed with an expiry, so links made in different
   seconds are compared with their ``expires`` and ``signature`` masked (the run says
   so). ``--reencode-lifegraph`` compares ``orjson.dumps(json.loads(body))`` instead, for
   a lifegraph that does not serialise with orjson yet (the run says so too).
4. wrk drives each operation at a fixed number of connections, rotating over the users'
   tokens (``bench/wrk_graphql.lua``), one server at a time, lifegraph and the reference
   alternating, for ``--rounds`` rounds; the figures are the medians over rounds.
   Server CPU is user+system time of the server's processes (the parent and every
   child) from /proc, before and after each run, per completed request; database CPU
   likewise for the PostgreSQL backends of the bench's database, when they are on this
   machine. SQL statements per request are counted for lifegraph in this process, through
   the same app (an SQLAlchemy ``before_cursor_execute`` listener, with the connections
   taken from the pool), and by the reference in its code (its ``x-sql-statements``).

Ratios are to the reference's answer to the same operation, and for operations the
reference does not answer, to its ``Purchases``. Results go to
``<out>/http-<UTC date>-<commit>.json`` and ``.md`` (a table ready for the README).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from client_contract import Contract  # noqa: E402
from seed import PASSWORD, SeededUser, seed  # noqa: E402
from subscriptions import (  # noqa: E402
    free_port,
    fresh_database,
    proc_cpu_seconds,
    say,
    server_preexec,
    tail,
)

from auth.passwords import PasswordHasher  # noqa: E402
from lifegraph.app import create_app  # noqa: E402
from lifegraph.services import build_services  # noqa: E402
from lifegraph.settings import Settings  # noqa: E402
from resolvers import ids  # noqa: E402

LUA = BENCH / "wrk_graphql.lua"
STARTUP_SECONDS = 90.0
STOP_SECONDS = 30.0
CHECK_USERS = 5
WRITES = ("CreateTask", "CheckInHabit", "UpdateNote")
IMAGE_SIGNATURE = re.compile(rb"expires=\d+&signature=[A-Za-z0-9_%\-]+")

# As production runs, but with budgets no load of this bench reaches.
SETTINGS: dict[str, Any] = {
    "environment": "production",
    "rate_limit_user_points": 10**12,
    "rate_limit_address_points": 10**12,
    "access_token_ttl_seconds": 86_400,
    "in_process_worker": False,
}


@dataclass(frozen=True)
class Operation:
    label: str
    names: tuple[str, ...]  # one, or the mix of writes
    lines: list[tuple[int, dict[str, Any]]]  # (user, body), sent in turn
    reference: bool = False


@dataclass
class Run:
    workers: int
    round: int
    server: str
    operation: str
    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    failed: int
    server_cpu_ms: float
    database_cpu_ms: float | None


@dataclass
class Summary:
    workers: int
    server: str
    operation: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float
    database_cpu_ms: float | None
    statements: float
    checkouts: float | None
    failed: int
    ratios: dict[str, float] = field(default_factory=dict)
    ratio_to: str = ""


# --- operations ------------------------------------------------------------------------


def operations(contract: Contract, users: list[SeededUser], today: date) -> list[Operation]:
    def body(name: str, variables: dict[str, Any]) -> dict[str, Any]:
        return {"query": contract.document_of(name), "operationName": name, "variables": variables}

    def each_user(name: str, variables: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
        return [(index, body(name, variables)) for index in range(len(users))]

    month = {"from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat()}
    year = {"from": (today - timedelta(days=364)).isoformat(), "to": today.isoformat()}
    tasks = {"first": 50, "filter": {"status": ["TODO", "IN_PROGRESS"]}}
    writes: list[tuple[int, dict[str, Any]]] = []
    for number in range(30 * len(users)):
        index = number % len(users)
        user = users[index]
        kind = WRITES[number % len(WRITES)]
        if kind == "CreateTask":
            variables: dict[str, Any] = {
                "input": {"title": f"Load task {number}", "tags": ["load"]}
            }
        elif kind == "CheckInHabit":
            day = today - timedelta(days=number * 7 % 59)
            habit = user.habit_ids[number % len(user.habit_ids)]
            variables = {"id": ids.encode("habit", habit), "date": day.isoformat()}
        else:
            note = user.note_ids[number % len(user.note_ids)]
            variables = {
                "id": ids.encode("note", note),
                "input": {"content": f"Edited under load, {number}."},
            }
        writes.append((index, body(kind, variables)))
    return [
        Operation(
            "Purchases(first: 50)", ("Purchases",), each_user("Purchases", {"first": 50}), True
        ),
        Operation("Dashboard", ("Dashboard",), each_user("Dashboard", {}), True),
        Operation("Receipts(first: 50)", ("Receipts",), each_user("Receipts", {"first": 50})),
        Operation("Tasks(first: 50), open", ("Tasks",), each_user("Tasks", tasks)),
        Operation(
            "Notes, search",
            ("Notes",),
            each_user("Notes", {"first": 50, "filter": {"search": "garden"}}),
        ),
        Operation("Habits, a month", ("Habits",), each_user("Habits", month)),
        Operation(
            "SpendingSummary, a year", ("SpendingSummary",), each_user("SpendingSummary", year)
        ),
        Operation("Writes: " + ", ".join(WRITES), WRITES, writes),
    ]


def failure(answer: dict[str, Any]) -> str | None:
    """Why an answer does not count as a success: errors, or a payload's userErrors."""
    if answer.get("errors"):
        return json.dumps(answer["errors"])[:500]
    for payload in (answer.get("data") or {}).values():
        if isinstance(payload, dict) and payload.get("userErrors"):
            return json.dumps(payload["userErrors"])[:500]
    return None


# --- processes -------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """The process and all its children, grandchildren and so on."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, []))
    return found


def tree_cpu(pid: int) -> float:
    total = 0.0
    for member in descendants(pid):
        with contextlib.suppress(OSError):
            total += proc_cpu_seconds(member)
    return total


def pids_cpu(pids: list[int]) -> dict[int, float]:
    found = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            found[pid] = proc_cpu_seconds(pid)
    return found


@dataclass
class Server:
    name: str
    base: str
    process: subprocess.Popen[bytes]
    log: Path


@contextlib.contextmanager
def serving(
    name: str, command: list[str], env: dict[str, str], folder: Path, health: str, port: int
) -> Iterator[Server]:
    base = f"http://127.0.0.1:{port}"
    log = folder / f"{name}.log"
    with log.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603 (our interpreter, our modules)
            [*command, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=folder,  # no .env file of the project's folder is read
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # SIGTERM should this process die first.
            preexec_fn=server_preexec(resource.getrlimit(resource.RLIMIT_NOFILE)[0]),
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail(log)}")
            with contextlib.suppress(httpx.TransportError):
                answer = httpx.get(f"{base}{health}", timeout=2, trust_env=False)
                if answer.status_code < 500:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not up in {STARTUP_SECONDS:.0f} s:\n{tail(log)}")
            time.sleep(0.2)
        yield Server(name, base, process, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(STOP_SECONDS)
        problems = [
            line
            for line in log.read_text(errors="replace").splitlines()
            if line.startswith(("WARNING", "ERROR", "CRITICAL", "Traceback"))
        ]
        if problems:
            say(f"{name} log: {len(problems)} warnings or errors, e.g.:")
            for line in problems[:5]:
                say(f"  {line[:200]}")


def server_env(database_url: str, folder: Path, public_url: str, secret: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "DATABASE_URL" and not key.startswith("LIFEGRAPH_")
    }
    env.update({f"LIFEGRAPH_{key.upper()}": str(value) for key, value in SETTINGS.items()})
    env.update(
        DATABASE_URL=database_url,
        LIFEGRAPH_SECRET_KEY=secret,
        LIFEGRAPH_DATA_DIR=str(folder / "data"),
        LIFEGRAPH_PUBLIC_URL=public_url,
    )
    return env


def lifegraph_command(workers: int) -> list[str]:
    script = Path(sys.executable).parent / "lifegraph"
    start = [str(script)] if script.exists() else [sys.executable, "-m", "lifegraph.cli"]
    return [*start, "serve", "--no-migrate", "--workers", str(workers)]


def reference_command(workers: int) -> list[str]:
    return [sys.executable, str(BENCH / "reference.py"), "--workers", str(workers)]


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    say("wrk is missing: apt-get install -y wrk")
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True)  # noqa: S607
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk could not be installed")
    return found


# --- the API ---------------------------------------------------------------------------


def post(base: str, body: dict[str, Any], token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = httpx.post(f"{base}/graphql", json=body, headers=headers, timeout=60, trust_env=False)
    answer.raise_for_status()
    return answer


def sign_in(base: str, contract: Contract, users: list[SeededUser]) -> list[str]:
    tokens = []
    for user in users:
        body = {
            "query": contract.document_of("Login"),
            "operationName": "Login",
            "variables": {"input": {"email": user.email, "password": PASSWORD}},
        }
        answer = post(base, body).json()
        problem = failure(answer)
        if problem:
            raise SystemExit(f"{user.email} cannot sign in: {problem}")
        tokens.append(answer["data"]["login"]["session"]["accessToken"])
    return tokens


def check_answers(base: str, operation: Operation, tokens: list[str]) -> None:
    for user, body in operation.lines[: len(WRITES)]:
        problem = failure(post(base, body, tokens[user]).json())
        if problem:
            raise SystemExit(f"{operation.label} ({body['operationName']}) failed: {problem}")


def data_bytes(body: bytes) -> bytes:
    """lifegraph's answer without its ``extensions`` (the cost and the budget left), as the
    bytes it sent: ``{"data":…}``."""
    cut = body.rfind(b',"extensions":')
    kept = body[:cut] + b"}" if cut > 0 else body
    parsed = json.loads(body)
    if json.loads(kept) != {"data": parsed.get("data")} or "errors" in parsed:
        raise SystemExit(f"unexpected answer: {body[:300]!r}")
    return kept


def first_difference(left: bytes, right: bytes) -> str:
    at = next(
        (i for i, (a, b) in enumerate(zip(left, right, strict=False)) if a != b),
        min(len(left), len(right)),
    )
    return (
        f"first difference at byte {at} (lengths {len(left)} and {len(right)}):\n"
        f"  lifegraph: {left[max(0, at - 80) : at + 80]!r}\n"
        f"  reference: {right[max(0, at - 80) : at + 80]!r}"
    )


def check_identical(
    lifegraph: str, reference: str, operations: list[Operation], tokens: list[str], reencode: bool
) -> dict[str, str]:
    """Which comparison each of the reference's operations passed; stops the run if none."""
    passed = {}
    for operation in (o for o in operations if o.reference):
        modes = set()
        for user, body in operation.lines[:CHECK_USERS]:
            ours = data_bytes(post(lifegraph, body, tokens[user]).content)
            if reencode:
                ours = orjson.dumps(json.loads(ours))
            theirs = post(reference, body, tokens[user]).content
            if ours == theirs:
                modes.add("strict")
            elif IMAGE_SIGNATURE.sub(b"", ours) == IMAGE_SIGNATURE.sub(b"", theirs):
                modes.add("image link signatures masked")
            else:
                raise SystemExit(
                    f"{operation.label}: the reference's answer differs for user {user}; "
                    + first_difference(ours, theirs)
                )
        mode = " / ".join(sorted(modes)) + (
            ", lifegraph re-encoded with orjson" if reencode else ""
        )
        say(f"identical: {operation.label}, {CHECK_USERS} users ({mode})")
        passed[operation.label] = mode
    return passed


def reference_statements(reference: str, operation: Operation, tokens: list[str]) -> float:
    user, body = operation.lines[0]
    return float(post(reference, body, tokens[user]).headers["x-sql-statements"])


async def count_statements(
    settings: Settings, operations: list[Operation], tokens: list[str]
) -> dict[str, tuple[float, float]]:
    """Statements and pool checkouts of one request of each operation (the mean of the
    mix), through the same app in this process."""
    services = build_services(settings)
    app = create_app(services=services)
    counts = {"statements": 0, "checkouts": 0}

    def statement(*_: object) -> None:
        counts["statements"] += 1

    def checkout(*_: object) -> None:
        counts["checkouts"] += 1

    event.listen(services.engine.sync_engine, "before_cursor_execute", statement)
    event.listen(services.engine.sync_engine, "checkout", checkout)
    found = {}
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
    ):
        for operation in operations:
            samples = []
            for user, body in operation.lines[: len(operation.names)]:
                counts.update(statements=0, checkouts=0)
                headers = {"Authorization": f"Bearer {tokens[user]}"}
                answer = (await client.post("/graphql", json=body, headers=headers)).json()
                problem = failure(answer)
                if problem:
                    raise SystemExit(f"{operation.label} in process: {problem}")
                samples.append((counts["statements"], counts["checkouts"]))
            found[operation.label] = (
                statistics.mean(s for s, _ in samples),
                statistics.mean(c for _, c in samples),
            )
    return found


# --- load ------------------------------------------------------------------------------


class Database:
    """CPU of the PostgreSQL backends serving the bench's database, if they run here."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def backends(self) -> list[int]:
        connection = await asyncpg.connect(self.url)
        try:
            rows = await connection.fetch(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await connection.close()
        return [row["pid"] for row in rows]

    def sample(self) -> dict[int, float]:
        return pids_cpu(asyncio.run(self.backends()))

    def is_local(self) -> bool:
        """Whether this machine's /proc shows the server's backends."""

        async def backend_seen() -> bool:
            connection = await asyncpg.connect(self.url)
            try:
                pid = await connection.fetchval("SELECT pg_backend_pid()")
                command = await asyncio.to_thread(Path(f"/proc/{pid}/cmdline").read_text)
                return "postgres" in command
            except OSError:
                return False
            finally:
                await connection.close()

        return asyncio.run(backend_seen())


def load(
    wrk: str,
    server: Server,
    lines_file: Path,
    *,
    seconds: float,
    connections: int,
    threads: int,
    database: Database | None,
) -> tuple[dict[str, Any], float, float | None]:
    """One wrk run; its result, and the server's and the database's CPU seconds."""
    db_before = database.sample() if database else {}
    cpu_before = tree_cpu(server.process.pid)
    command = [
        *(wrk, "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s"),
        *("--latency", "--timeout", "10s", "-s", str(LUA), f"{server.base}/graphql"),
        *("--", str(lines_file)),
    ]
    finished = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    cpu = tree_cpu(server.process.pid) - cpu_before
    db_cpu = None
    if database is not None:
        db_after = database.sample()
        db_cpu = sum(value - db_before.get(pid, 0.0) for pid, value in db_after.items())
    line = next((x for x in finished.stdout.splitlines() if x.startswith("RESULT ")), None)
    if finished.returncode != 0 or line is None:
        raise RuntimeError(
            f"wrk failed ({finished.returncode}): {finished.stderr}{finished.stdout}"
        )
    return json.loads(line.removeprefix("RESULT ")), cpu, db_cpu


def write_lines(folder: Path, operation: Operation, tokens: list[str]) -> Path:
    path = folder / f"requests-{abs(hash(operation.label))}.txt"
    with path.open("w") as file:
        for user, body in operation.lines:
            file.write(f"{tokens[user]}\t{json.dumps(body, separators=(',', ':'))}\n")
    return path


# --- report ----------------------------------------------------------------------------

NOTE = re.sub(
    r"\s+",
    " ",
    """
In brackets, lifegraph's figure divided by the reference's for the same operation; ¹ by
the reference's for `Purchases(first: 50)`. CPU is user+system time of the server's
processes (database: of the PostgreSQL backends) per completed request; SQL statements per
request as counted in process for lifegraph and by the reference's code, and the
connections each request takes from its pool (a checkout may cost round trips besides the
statements: asyncpg's pool resets a connection on release). Medians over the rounds.
""",
).strip()


def machine(database_url: str) -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        platform.processor() or "unknown",
    )
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    ram_kib = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])

    def git(*args: str) -> str:
        return subprocess.run(  # noqa: S603
            ["git", *args],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()

    async def server_version() -> str:
        connection = await asyncpg.connect(database_url)
        try:
            return str(await connection.fetchval("SHOW server_version"))
        finally:
            await connection.close()

    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "ram_gib": round(ram_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "postgresql": asyncio.run(server_version()),
        "wrk": subprocess.run(  # noqa: S603
            [ensure_wrk(), "-v"], capture_output=True, text=True, check=False
        ).stdout.split(" [")[0],
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def summarise(
    runs: list[Run],
    lifegraph_counts: dict[str, tuple[float, float]],
    reference_counts: dict[str, float],
) -> list[Summary]:
    summaries = []
    keys = sorted({(r.workers, r.server, r.operation) for r in runs}, key=lambda k: k[0])
    order = {label: index for index, label in enumerate(dict.fromkeys(r.operation for r in runs))}
    keys.sort(key=lambda k: (k[0], order[k[2]], k[1] != "reference"))
    for workers, server, label in keys:
        mine = [r for r in runs if (r.workers, r.server, r.operation) == (workers, server, label)]
        db = [r.database_cpu_ms for r in mine if r.database_cpu_ms is not None]
        if server == "lifegraph":
            statements, checkouts = lifegraph_counts[label]
        else:
            statements, checkouts = reference_counts[label], 1.0
        summaries.append(
            Summary(
                workers=workers,
                server=server,
                operation=label,
                requests_per_second=statistics.median(r.requests_per_second for r in mine),
                p50_ms=statistics.median(r.p50_ms for r in mine),
                p99_ms=statistics.median(r.p99_ms for r in mine),
                server_cpu_ms=statistics.median(r.server_cpu_ms for r in mine),
                database_cpu_ms=statistics.median(db) if db else None,
                statements=statements,
                checkouts=checkouts,
                failed=sum(r.failed for r in mine),
            )
        )
    for summary in summaries:
        if summary.server == "reference":
            continue
        same = [
            s
            for s in summaries
            if s.server == "reference"
            and s.workers == summary.workers
            and s.operation == summary.operation
        ]
        purchases = [
            s
            for s in summaries
            if s.server == "reference"
            and s.workers == summary.workers
            and s.operation.startswith("Purchases")
        ]
        if not (same or purchases):
            continue
        reference = (same or purchases)[0]
        summary.ratio_to = "same operation" if same else "reference Purchases"
        summary.ratios = {
            "requests_per_second": summary.requests_per_second / reference.requests_per_second,
            "p50_ms": summary.p50_ms / reference.p50_ms,
            "p99_ms": summary.p99_ms / reference.p99_ms,
            "server_cpu_ms": summary.server_cpu_ms / reference.server_cpu_ms,
            "statements": summary.statements / reference.statements,
        }
        if summary.database_cpu_ms is not None and reference.database_cpu_ms:
            summary.ratios["database_cpu_ms"] = summary.database_cpu_ms / reference.database_cpu_ms
    return summaries


def cell(value: float, ratio: float | None, unit: str = "", digits: int = 1) -> str:
    text = f"{value:,.{digits}f}{unit}"
    return f"{text} ({ratio:.2f}x)" if ratio is not None else text


def table(summaries: list[Summary]) -> str:
    lines = [
        "| workers | operation | server | requests/s | p50 | p99 | server CPU/request "
        "| database CPU/request | SQL statements | connections taken |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in summaries:
        r = s.ratios
        mark = "" if s.ratio_to != "reference Purchases" else " ¹"
        db = (
            cell(s.database_cpu_ms, r.get("database_cpu_ms"), " ms", 2)
            if s.database_cpu_ms is not None
            else "n/a"
        )
        failed = f" ({s.failed:,} failed)" if s.failed else ""
        lines.append(
            f"| {s.workers} | {s.operation}{mark}{failed} | {s.server} "
            f"| {cell(s.requests_per_second, r.get('requests_per_second'), '', 0)} "
            f"| {cell(s.p50_ms, r.get('p50_ms'), ' ms')} "
            f"| {cell(s.p99_ms, r.get('p99_ms'), ' ms')} "
            f"| {cell(s.server_cpu_ms, r.get('server_cpu_ms'), ' ms', 2)} "
            f"| {db} "
            f"| {cell(s.statements, r.get('statements'), '', 0)} "
            f"| {'n/a' if s.checkouts is None else f'{s.checkouts:.3g}'} |"
        )
    return "\n".join(lines)


def markdown(
    summaries: list[Summary], info: dict[str, Any], args: argparse.Namespace, checks: dict[str, str]
) -> str:
    dirty = " (with uncommitted changes)" if info["dirty"] else ""
    reencode = " --reencode-lifegraph" if args.reencode_lifegraph else ""
    identical = "; ".join(f"{label}: {mode}" for label, mode in checks.items())
    return "\n".join(
        [
            table(summaries),
            "",
            NOTE,
            "",
            f"Machine: {info['nproc']} cores ({info['cpu']}), {info['ram_gib']} GiB RAM, "
            f"Python {info['python']}, PostgreSQL {info['postgresql']}, {info['wrk']}; "
            f"commit {info['commit']}{dirty}. Run: `bench/http_load.py "
            f"--duration {args.duration:g} --connections {args.connections} "
            f"--rounds {args.rounds} --workers {','.join(map(str, args.workers))}{reencode}`; "
            f"wrk threads {args.threads}, "
            f"on the same machine. The reference's answers were identical ({identical}).",
            "",
        ]
    )


# --- main ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=lambda v: [int(x) for x in v.split(",")], default=[1, 2])
    parser.add_argument("--out", type=Path, default=BENCH / "results")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--reencode-lifegraph",
        action="store_true",
        help="compare orjson.dumps(json.loads(lifegraph's body)) with the reference's",
    )
    args = parser.parse_args()
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory() as name, fresh_database(Path(name)) as url:
        folder = Path(name)
        plain_url = url.replace("postgresql+asyncpg://", "postgresql://")
        run_bench(args, wrk, folder, plain_url)


def run_bench(args: argparse.Namespace, wrk: str, folder: Path, url: str) -> None:
    secret = secrets.token_urlsafe(48)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=url,
        data_dir=folder / "data",
        secret_key=secret,
        **SETTINGS,
    )
    hasher = PasswordHasher(
        memory_kib=settings.password_memory_kib,
        time_cost=settings.password_time_cost,
        parallelism=settings.password_parallelism,
    )
    started = time.monotonic()
    users = asyncio.run(seed(url, password_hash=hasher.hash(PASSWORD), seed=args.seed))
    say(f"seeded {len(users)} users in {time.monotonic() - started:.1f} s")
    contract = Contract.load()
    today = datetime.now(UTC).date()
    ops = operations(contract, users, today)
    database: Database | None = Database(url)
    if database is not None and not database.is_local():
        database = None
        say("the database's backends are not on this machine: no database CPU")
    runs: list[Run] = []
    lifegraph_counts: dict[str, tuple[float, float]] = {}
    reference_counts: dict[str, float] = {}
    checks: dict[str, str] = {}
    tokens: list[str] = []
    for workers in args.workers:
        port = free_port()
        # Both sign image links as lifegraph's, which serves the files.
        public = f"http://127.0.0.1:{port}"
        env = server_env(url, folder, public, secret)
        # Each process holds as many connections as it serves requests at once (every
        # request takes one), so the load never opens new ones and both servers' pools
        # fit within PostgreSQL's default of 100 connections.
        env["LIFEGRAPH_DB_POOL_SIZE"] = str(-(-args.connections // workers) + 2)
        with (
            serving(
                "lifegraph", lifegraph_command(workers), env, folder, "/healthz", port
            ) as lifegraph,
            serving(
                "reference", reference_command(workers), env, folder, "/", free_port()
            ) as reference,
        ):
            if not tokens:
                tokens = sign_in(lifegraph.base, contract, users)
                say(f"signed in {len(tokens)} users")
                settings = settings.model_copy(update={"public_url": public})
                lifegraph_counts = asyncio.run(count_statements(settings, ops, tokens))
            for operation in ops:
                check_answers(lifegraph.base, operation, tokens)
            passed = check_identical(
                lifegraph.base, reference.base, ops, tokens, args.reencode_lifegraph
            )
            checks.update({f"{label} (--workers {workers})": m for label, m in passed.items()})
            for operation in (o for o in ops if o.reference):
                reference_counts[operation.label] = reference_statements(
                    reference.base, operation, tokens
                )
            files = {o.label: write_lines(folder, o, tokens) for o in ops}
            for number in range(args.rounds):
                for operation in ops:
                    servers = [lifegraph, reference] if operation.reference else [lifegraph]
                    for server in servers:
                        if number == 0:  # warm up: pools, caches, every worker
                            load(
                                wrk,
                                server,
                                files[operation.label],
                                seconds=1,
                                connections=args.connections,
                                threads=args.threads,
                                database=None,
                            )
                        result, cpu, db_cpu = load(
                            wrk,
                            server,
                            files[operation.label],
                            seconds=args.duration,
                            connections=args.connections,
                            threads=args.threads,
                            database=database,
                        )
                        runs.append(
                            record(workers, number, server.name, operation, result, cpu, db_cpu)
                        )
                        say(describe(runs[-1]))
    summaries = summarise(runs, lifegraph_counts, reference_counts)
    info = machine(url)
    report = markdown(summaries, info, args, checks)
    print(report)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"http-{datetime.now(UTC):%Y-%m-%d}-{info['commit']}"
    stem.with_suffix(".md").write_text(report)
    stem.with_suffix(".json").write_text(
        json.dumps(
            {
                "machine": info,
                "arguments": {
                    k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
                },
                "identical": checks,
                "summaries": [asdict(s) for s in summaries],
                "runs": [asdict(r) for r in runs],
            },
            indent=2,
        )
    )
    say(f"wrote {stem}.md and .json")


def record(
    workers: int,
    number: int,
    server: str,
    operation: Operation,
    result: dict[str, Any],
    cpu: float,
    db_cpu: float | None,
) -> Run:
    requests = max(1, result["requests"])
    seconds = result["duration_us"] / 1e6
    return Run(
        workers=workers,
        round=number + 1,
        server=server,
        operation=operation.label,
        requests=result["requests"],
        seconds=seconds,
        requests_per_second=result["requests"] / seconds,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        failed=result["failed_answers"] + result["socket_errors"] + result["non_2xx"],
        server_cpu_ms=cpu * 1000 / requests,
        database_cpu_ms=None if db_cpu is None else db_cpu * 1000 / requests,
    )


def describe(run: Run) -> str:
    db = "" if run.database_cpu_ms is None else f", database {run.database_cpu_ms:.2f} ms/request"
    failed = f", {run.failed} FAILED" if run.failed else ""
    return (
        f"workers {run.workers} round {run.round} {run.server:9} {run.operation:28} "
        f"{run.requests_per_second:8.0f}/s p50 {run.p50_ms:6.1f} ms p99 {run.p99_ms:6.1f} ms "
        f"cpu {run.server_cpu_ms:.2f} ms/request{db}{failed}"
    )


if __name__ == "__main__":
    main()
