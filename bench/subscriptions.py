"""Delivery of live events to many graphql-transport-ws subscribers of a server.

    python bench/subscriptions.py [--subscribers N] [--mutations M] [--rate R] [--users U]
                                  [--workers W]

Starts a fresh database (a new one on the server of DATABASE_URL, dropped at the end, or
the embedded PostgreSQL in a temporary folder), applies the migrations and runs a real
``lifegraph serve --no-migrate --workers W`` on a free loopback port (W server processes
under Uvicorn's supervisor, each listening for events itself; the run starts once every
one has started), with the OWASP-minimum password cost,
LIFEGRAPH_DASHBOARD_COALESCE_SECONDS=0 and no per-address limit on websocket sign-ins. It
registers U users through the API, opens N websockets from this one process (asyncio and
the ``websockets`` package), spread round-robin over the users, each signed in with its
user's token in ``connection_init`` and subscribed to the contract's ``Activity`` document
with kinds [TASK_CREATED]. A warm-up round (one CreateTask per user) proves every
subscription live. Then M CreateTask mutations go over HTTP at a steady R per second
(open loop: each is sent on schedule whatever the previous ones are doing), made by the
users in turn, and every subscriber of a mutation's user should receive its event.

Each delivered event is matched to its mutation by the task ID, and its latency is taken
from the moment the mutation was sent and from the moment its HTTP response arrived (the
commit happens before the response is written, so the event can beat the response and
that figure can be negative), plus, from the event's own ``at`` (when the server's
listener got the NOTIFY), the fan-out time inside the server and this client.

Latencies are also given as ratios to a reference measured in the same run: the round
trip of a plain HTTP ``{ __typename }`` query to the same server, idle, before any
subscriber opens. Memory per connection is the growth of the RSS of all the server's
processes (the supervisor and its workers) from before the subscribers open (after 4 per
worker have come and gone at once, so one-time costs such as each process's listening
connection are not charged to connections) to when all are open and live, divided by
their number; the client's own growth per connection is shown beside it, and so is how
the sockets were shared out between the processes.

The client runs on uvloop (as the server does under Uvicorn) and, once its sockets are
open, freezes what it holds out of its garbage collector's reach, so that its own pauses
do not add to the latencies measured; it keeps each message raw with its arrival time and
parses it only after the run.

This process raises its open-file limit as far as it may (soft up to hard, and the hard
limit itself when that is permitted) and sets the server's to the same before it starts
(``ulimit -n``, in ``preexec_fn``), reading it back from /proc; it refuses to start when
either cannot hold N sockets. Everything talks to 127.0.0.1 only. The server is always
stopped (SIGTERM, then SIGKILL; it also gets SIGTERM should this process be killed) and
the database dropped, or the embedded one stopped and its folder removed. Every wait is
bounded; progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import math
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvloop
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    OperationDefinitionNode,
    parse,
    print_ast,
    visit,
)
from graphql.language import Visitor
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException
from websockets.protocol import State
from websockets.typing import Subprotocol

from lifegraph import embedded
from lifegraph.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_DIR = ROOT / "contract"
PROTOCOL = Subprotocol("graphql-transport-ws")
PASSWORD = "bench-password-123"
MAX_SUBSCRIBERS = 5000

STARTUP_SECONDS = 60.0
STOP_SECONDS = 30.0
HTTP_SECONDS = 30.0
OPEN_SECONDS = 30.0  # one websocket: TCP, handshake, connection_ack
WARMUP_SECONDS = 60.0
DRAIN_QUIET_SECONDS = 5.0  # stop waiting for events after this long without one
DRAIN_MAX_SECONDS = 120.0
CLOSE_SECONDS = 60.0
REFERENCE_ROUNDS = 200
REFERENCE_SECONDS = 120.0
PR_SET_PDEATHSIG = 1  # prctl(2)
FD_MARGIN = 512  # descriptors besides the sockets: pool, listener, logs, libraries

# The OWASP minimum, so that registering users stays quick.
SERVER_SETTINGS = {
    "LIFEGRAPH_PASSWORD_MEMORY_KIB": "19456",
    "LIFEGRAPH_PASSWORD_TIME_COST": "2",
    "LIFEGRAPH_PASSWORD_PARALLELISM": "1",
    "LIFEGRAPH_DASHBOARD_COALESCE_SECONDS": "0",
    "LIFEGRAPH_IN_PROCESS_WORKER": "false",
    # Subscriptions end when their token expires; a slow run must not hit that.
    "LIFEGRAPH_ACCESS_TOKEN_TTL_SECONDS": "3600",
    # Every socket comes from this one address: its sign-ins are not what is measured.
    "LIFEGRAPH_RATE_LIMIT_CONNECTIONS_PER_ADDRESS": str(10**6),
}


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the client contract ---------------------------------------------------------------


def contract_documents(names: set[str], directory: Path = CONTRACT_DIR) -> dict[str, str]:
    """The contract's documents of these operations, each with the fragments it uses."""
    trees: list[DocumentNode] = [
        parse(path.read_text()) for path in sorted((directory / "operations").glob("*.graphql"))
    ]
    fragments = {
        d.name.value: d
        for tree in trees
        for d in tree.definitions
        if isinstance(d, FragmentDefinitionNode)
    }
    documents: dict[str, str] = {}
    for tree in trees:
        for definition in tree.definitions:
            if not isinstance(definition, OperationDefinitionNode) or definition.name is None:
                continue
            if definition.name.value not in names:
                continue
            used: list[str] = []
            pending: list[Any] = [definition]
            while pending:
                for name in _spreads(pending.pop()):
                    if name not in used:
                        used.append(name)
                        pending.append(fragments[name])
            parts = [print_ast(definition), *(print_ast(fragments[n]) for n in used)]
            documents[definition.name.value] = "\n".join(parts)
    missing = names - documents.keys()
    if missing:
        raise SystemExit(f"not in the contract ({directory}): {sorted(missing)}")
    return documents


def _spreads(node: Any) -> list[str]:
    found: list[str] = []

    class Spreads(Visitor):
        def enter_fragment_spread(self, spread: FragmentSpreadNode, *_: object) -> None:
            found.append(spread.name.value)

    visit(node, Spreads())
    return found


# --- processes and limits --------------------------------------------------------------


def raise_fd_limit(wanted: int) -> int:
    """Raises this process's open-file limit (inherited by the server) as far as allowed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        with contextlib.suppress(ValueError, OSError):  # raising hard needs privilege
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def proc_status_kib(pid: int | str, key: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} for process {pid}")


def proc_cpu_seconds(pid: int | str) -> float:
    """User plus system time of a process (fields 14 and 15 of /proc/PID/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def proc_tree(pid: int) -> list[int]:
    """The process and its descendants (Uvicorn's supervisor and its workers)."""
    found = [pid]
    for member in found:
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{member}/task"):
                children = Path(f"/proc/{member}/task/{task}/children").read_text()
                found.extend(int(child) for child in children.split())
    return found


def tree_rss_kib(pid: int) -> int:
    return sum(proc_status_kib(member) for member in proc_tree(pid))


def tree_cpu_seconds(pid: int) -> float:
    return sum(proc_cpu_seconds(member) for member in proc_tree(pid))


def tree_sockets(pid: int) -> list[int]:
    """Open TCP sockets of each process of the tree that has any, most first."""
    counts = []
    for member in proc_tree(pid):
        with contextlib.suppress(OSError):
            fds = os.listdir(f"/proc/{member}/fd")
            links = []
            for fd in fds:
                with contextlib.suppress(OSError):
                    links.append(os.readlink(f"/proc/{member}/fd/{fd}"))
            count = sum(1 for link in links if link.startswith("socket:"))
            if count > 1:
                counts.append(count)
    return sorted(counts, reverse=True)


def proc_fd_limit(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            value = line.split()[3]
            return sys.maxsize if value == "unlimited" else int(value)
    raise RuntimeError(f"no open-file limit for process {pid}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# --- the database ----------------------------------------------------------------------


async def _admin_execute(server_url: str, statement: str) -> None:
    url = make_url(server_url)
    connection = await asyncpg.connect(
        user=url.username,
        password=url.password,
        host=url.host or url.query.get("host"),
        port=url.port,
        database=url.database,
        timeout=30,
    )
    try:
        await connection.execute(statement, timeout=60)
    finally:
        await connection.close(timeout=10)


@contextlib.contextmanager
def fresh_database(folder: Path) -> Iterator[str]:
    """A new, migrated database: on DATABASE_URL's server, else embedded in ``folder``."""
    name = f"lifegraph_bench_{uuid.uuid4().hex[:12]}"
    server_url = os.environ.get("DATABASE_URL")
    if server_url:
        asyncio.run(_admin_execute(server_url, f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
            upgrade(url)
            yield url
        finally:
            asyncio.run(_admin_execute(server_url, f'DROP DATABASE "{name}" WITH (FORCE)'))
        return
    pgdata = folder / "pgdata"
    try:
        url = embedded.start(pgdata, database=name)
        upgrade(url)
        yield url
    finally:
        server = embedded._servers.pop(pgdata, None)
        if server is not None:
            server.cleanup()  # pg_ctl stop; the folder goes with the temporary directory


def server_preexec(fd_limit: int) -> Callable[[], None]:
    """Run in the server's process before it starts: its open-file limit (as ``ulimit -n``
    would set it), and SIGTERM should this process die without stopping it."""

    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return preexec


@contextlib.contextmanager
def serving(
    database_url: str, folder: Path, fd_limit: int, workers: int = 1
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``lifegraph serve --workers N`` on a free loopback port, up and answering /healthz
    (with several workers, once each has started)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "DATABASE_URL" and not key.startswith("LIFEGRAPH_")
    }
    env.update(SERVER_SETTINGS)
    env.update(
        DATABASE_URL=database_url,
        LIFEGRAPH_DATA_DIR=str(folder / "data"),
        LIFEGRAPH_PUBLIC_URL=base,
    )
    log = folder / "server.log"
    command = [sys.executable, "-m", "lifegraph.cli", "serve", "--host", "127.0.0.1"]
    with log.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
            [*command, "--port", str(port), "--workers", str(workers), "--no-migrate"],
            env=env,
            cwd=folder,  # no .env file of the project's folder is read
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=server_preexec(fd_limit),  # safe: this process has no threads
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}:\n{tail(log)}")
            with contextlib.suppress(httpx.TransportError):
                answered = httpx.get(f"{base}/healthz", timeout=2, trust_env=False)
                if answered.status_code == 200 and started_workers(log) >= workers:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not up in {STARTUP_SECONDS:.0f} s:\n{tail(log)}")
            time.sleep(0.2)
        yield base, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_SECONDS)
        try:
            lines = log.read_text(errors="replace").splitlines()
        except OSError:
            lines = []
        problems = [line for line in lines if is_bad(line)]
        if problems:
            say(f"server log: {len(problems)} warnings or errors, e.g.:")
            for line in problems[:5]:
                say(f"  {line[:200]}")
            first = next((i for i, line in enumerate(lines) if line.startswith("Traceback")), None)
            if first is not None:
                say("the first traceback:")
                for line in lines[first : first + 40]:
                    say(f"  {line[:200]}")


def started_workers(log: Path) -> int:
    """Worker processes whose start-up Uvicorn has logged (one for a single process)."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return 0
    return text.count("Application startup complete")


def is_bad(line: str) -> bool:
    return line.startswith(("WARNING", "ERROR", "CRITICAL", "Traceback"))


def tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"(no log: {error})"


# --- the API over HTTP -----------------------------------------------------------------


class Api:
    def __init__(self, client: httpx.AsyncClient, documents: dict[str, str]) -> None:
        self.client = client
        self.documents = documents

    async def post(self, body: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.client.post("/graphql", json=body, headers=headers)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def op(
        self, name: str, variables: dict[str, Any], token: str | None = None
    ) -> dict[str, Any]:
        body = {"query": self.documents[name], "operationName": name, "variables": variables}
        return await self.post(body, token)

    async def register(self, email: str) -> str:
        result = await self.op(
            "Register",
            {"input": {"email": email, "password": PASSWORD, "displayName": "Bench"}},
        )
        payload = result["data"]["register"]
        if payload["userErrors"]:
            raise RuntimeError(f"could not register {email}: {payload['userErrors']}")
        token: str = payload["session"]["accessToken"]
        return token

    async def create_task(self, token: str, title: str) -> str:
        result = await self.op("CreateTask", {"input": {"title": title}}, token)
        if result.get("errors") or result["data"]["createTask"]["userErrors"]:
            raise RuntimeError(f"CreateTask failed: {result}")
        task_id: str = result["data"]["createTask"]["task"]["id"]
        return task_id


# --- subscribers -----------------------------------------------------------------------


@dataclass
class Subscriber:
    index: int
    user: int
    connection: ClientConnection | None = None
    received: int = 0
    error: str | None = None


@dataclass
class Crowd:
    """Websockets of one client process; every message is kept raw, with its arrival time,
    and parsed only after the run so that the receiving loop does as little as possible."""

    url: str
    activity: str
    compression: str | None
    subscribers: list[Subscriber] = field(default_factory=list)
    records: list[tuple[int, float, float, str | bytes]] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def total_received(self) -> int:
        return len(self.records)

    @property
    def connected(self) -> list[Subscriber]:
        return [s for s in self.subscribers if s.connection is not None and s.error is None]

    async def open(
        self, users: list[int], tokens: list[str], concurrency: int, within: float
    ) -> float:
        """Opens one subscriber per entry of ``users``; returns the seconds it took."""
        gate = asyncio.Semaphore(concurrency)
        started = time.perf_counter()
        opened: list[asyncio.Future[None]] = []
        for user in users:
            subscriber = Subscriber(len(self.subscribers), user)
            self.subscribers.append(subscriber)
            ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            opened.append(ready)
            self.tasks.append(asyncio.create_task(self._run(subscriber, tokens[user], gate, ready)))
        await asyncio.wait(opened, timeout=within)
        return time.perf_counter() - started

    async def _run(
        self,
        subscriber: Subscriber,
        token: str,
        gate: asyncio.Semaphore,
        ready: asyncio.Future[None],
    ) -> None:
        try:
            async with gate:
                connection = await self._connect(subscriber, token)
        finally:
            if not ready.done():
                ready.set_result(None)
        if connection is None:
            return
        try:
            async for message in connection:
                self.records.append((subscriber.index, time.perf_counter(), time.time(), message))
                subscriber.received += 1
        except WebSocketException as error:
            subscriber.error = f"closed: {error}"
        else:
            if subscriber.error is None and connection.close_code not in (1000, None):
                subscriber.error = f"closed: {connection.close_code}"

    async def _connect(self, subscriber: Subscriber, token: str) -> ClientConnection | None:
        connection = None
        try:
            async with asyncio.timeout(OPEN_SECONDS):
                connection = await connect(
                    self.url,
                    subprotocols=[PROTOCOL],
                    compression=self.compression,
                    proxy=None,  # loopback only, whatever the environment says
                    open_timeout=OPEN_SECONDS,
                    ping_interval=None,  # the server pings; the client answers
                    close_timeout=5,
                    max_queue=64,
                )
                init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
                await connection.send(json.dumps(init))
                ack = json.loads(await connection.recv())
                if ack.get("type") != "connection_ack":
                    raise ValueError(f"no connection_ack: {ack}")
                subscribe = {
                    "id": "activity",
                    "type": "subscribe",
                    "payload": {
                        "query": self.activity,
                        "operationName": "Activity",
                        "variables": {"kinds": ["TASK_CREATED"]},
                    },
                }
                await connection.send(json.dumps(subscribe))
        except (OSError, TimeoutError, WebSocketException, ValueError) as error:
            subscriber.error = f"open: {type(error).__name__}: {error}"[:200]
            if connection is not None:
                connection.transport.abort()
            return None
        subscriber.connection = connection
        return connection

    async def close(self) -> None:
        connections = [s.connection for s in self.subscribers if s.connection is not None]
        closing = [asyncio.create_task(c.close()) for c in connections]
        if closing:
            await asyncio.wait(closing, timeout=CLOSE_SECONDS)
        for connection in connections:
            if connection.state is not State.CLOSED:
                connection.transport.abort()
        for task in [*closing, *self.tasks]:
            task.cancel()
        if closing or self.tasks:
            await asyncio.wait([*closing, *self.tasks], timeout=CLOSE_SECONDS)


async def wait_until(condition: Any, within: float, step: float = 0.05) -> bool:
    deadline = time.perf_counter() + within
    while not condition():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(step)
    return True


# --- the run ---------------------------------------------------------------------------


@dataclass
class Mutation:
    index: int
    user: int
    sent: float = 0.0
    answered: float | None = None
    task_id: str | None = None
    error: str | None = None


@dataclass
class Result:
    requested: int
    users: int
    connected: int = 0
    live: int = 0
    open_seconds: float = 0.0
    open_errors: Counter[str] = field(default_factory=Counter)
    reference_idle: list[float] = field(default_factory=list)
    reference_open: list[float] = field(default_factory=list)
    mutations: list[Mutation] = field(default_factory=list)
    stream_seconds: float = 0.0
    expected: int = 0
    delivered: int = 0
    duplicates: int = 0
    unmatched: int = 0
    graphql_errors: int = 0
    other_messages: int = 0
    closed_during_run: int = 0
    from_send: list[float] = field(default_factory=list)
    from_response: list[float] = field(default_factory=list)
    from_hub: list[float] = field(default_factory=list)
    server_rss_idle_kib: int = 0
    server_rss_open_kib: int = 0
    server_rss_end_kib: int = 0
    client_rss_idle_kib: int = 0
    client_rss_open_kib: int = 0
    server_fds_open: int = 0
    server_sockets: list[int] = field(default_factory=list)
    primer_sockets: list[int] = field(default_factory=list)
    server_fd_limit: int = 0
    client_fd_limit: int = 0
    server_cpu_share: float = 0.0
    server_cpu_share_opening: float = 0.0
    client_cpu_share: float = 0.0


async def http_round_trips(api: Api, rounds: int) -> list[float]:
    async with asyncio.timeout(REFERENCE_SECONDS):
        return await _round_trips(api, rounds)


async def _round_trips(api: Api, rounds: int) -> list[float]:
    for _ in range(10):  # warm the connection and the server's code paths
        await api.post({"query": "{ __typename }"})
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        result = await api.post({"query": "{ __typename }"})
        times.append(time.perf_counter() - started)
        if result.get("data") != {"__typename": "Query"}:
            raise RuntimeError(f"unexpected answer: {result}")
    return times


async def warm_up(api: Api, crowd: Crowd, tokens: list[str], users: set[int]) -> None:
    """One task per user; returns when every open subscriber of theirs has had an event."""
    before = {s.index: s.received for s in crowd.subscribers}
    gate = asyncio.Semaphore(8)

    async def one(user: int) -> None:
        async with gate:
            await api.create_task(tokens[user], f"warm-up {user}")

    await asyncio.wait_for(asyncio.gather(*(one(user) for user in sorted(users))), HTTP_SECONDS)
    waiting = [s for s in crowd.connected if s.user in users]
    await wait_until(
        lambda: all(s.received > before[s.index] or s.error for s in waiting), WARMUP_SECONDS
    )


async def stream(
    api: Api, tokens: list[str], count: int, rate: float, users: int
) -> list[Mutation]:
    """``count`` CreateTask mutations at ``rate`` per second, open loop."""

    async def send(mutation: Mutation) -> None:
        mutation.sent = time.perf_counter()
        try:
            mutation.task_id = await api.create_task(
                tokens[mutation.user], f"bench {mutation.index}"
            )
            mutation.answered = time.perf_counter()
        except (httpx.HTTPError, RuntimeError, ValueError, KeyError, TypeError) as error:
            mutation.error = f"{type(error).__name__}: {error}"[:200]

    mutations = [Mutation(index, index % users) for index in range(count)]
    tasks = []
    start = time.perf_counter() + 0.05
    for mutation in mutations:
        delay = start + mutation.index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(mutation)))
    _, late = await asyncio.wait(tasks, timeout=HTTP_SECONDS + 10)
    for task in late:
        task.cancel()
    return mutations


def analyse(result: Result, crowd: Crowd, first_record: int, live: list[Subscriber]) -> None:
    by_task = {m.task_id: m for m in result.mutations if m.task_id is not None}
    live_per_user = Counter(s.user for s in live)
    result.expected = sum(live_per_user[m.user] for m in by_task.values())
    seen: set[tuple[int, str]] = set()
    for index, arrived, arrived_wall, raw in crowd.records[first_record:]:
        message = json.loads(raw)
        kind = message.get("type")
        if kind == "error" or (kind == "next" and message["payload"].get("errors")):
            result.graphql_errors += 1
            continue
        if kind != "next":
            result.other_messages += 1
            continue
        event = message["payload"]["data"]["activity"]
        mutation = by_task.get(event["entityId"])
        if mutation is None:
            result.unmatched += 1
            continue
        if (index, event["entityId"]) in seen:
            result.duplicates += 1
            continue
        seen.add((index, event["entityId"]))
        result.delivered += 1
        result.from_send.append(arrived - mutation.sent)
        if mutation.answered is not None:
            result.from_response.append(arrived - mutation.answered)
        result.from_hub.append(arrived_wall - datetime.fromisoformat(event["at"]).timestamp())


async def run(
    base: str, server_pid: int, documents: dict[str, str], args: argparse.Namespace
) -> Result:
    result = Result(requested=args.subscribers, users=args.users)
    result.server_fd_limit = proc_fd_limit(server_pid)
    result.client_fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    timeout = httpx.Timeout(HTTP_SECONDS)
    async with httpx.AsyncClient(
        base_url=base, trust_env=False, limits=limits, timeout=timeout
    ) as client:
        api = Api(client, documents)
        gate = asyncio.Semaphore(4)

        async def register(index: int) -> str:
            async with gate:
                return await api.register(f"bench-{index}@example.com")

        say(f"registering {args.users} users")
        tokens = list(
            await asyncio.wait_for(asyncio.gather(*(register(i) for i in range(args.users))), 300)
        )
        ws_url = base.replace("http://", "ws://", 1) + "/graphql"
        compression = None if args.compression == "none" else "deflate"

        # A few subscribers come and go first (several at once, so that each server
        # process is likely to get one), so one-time costs (imports, the event listener's
        # connection, first-use caches) are in the baseline, not per connection.
        primer = Crowd(ws_url, documents["Activity"], compression)
        primers = 4 * args.workers
        try:
            await primer.open([0] * primers, tokens, primers, OPEN_SECONDS + 5)
            await warm_up(api, primer, tokens, {0})
            result.primer_sockets = tree_sockets(server_pid)
        finally:
            await primer.close()

        result.reference_idle = await http_round_trips(api, REFERENCE_ROUNDS)
        await asyncio.sleep(1.0)
        result.server_rss_idle_kib = tree_rss_kib(server_pid)
        result.client_rss_idle_kib = proc_status_kib("self")

        crowd = Crowd(ws_url, documents["Activity"], compression)
        try:
            say(f"opening {args.subscribers} subscribers")
            within = 60 + args.subscribers * 0.1
            assignment = [i % args.users for i in range(args.subscribers)]
            cpu_server = tree_cpu_seconds(server_pid)
            result.open_seconds = await crowd.open(
                assignment, tokens, args.open_concurrency, within
            )
            result.connected = len(crowd.connected)
            opening_cpu = tree_cpu_seconds(server_pid) - cpu_server
            result.server_cpu_share_opening = opening_cpu / result.open_seconds
            say(f"{result.connected} open in {result.open_seconds:.1f} s; warming up")
            await warm_up(api, crowd, tokens, set(assignment))
            live = [s for s in crowd.connected if s.received > 0]
            result.live = len(live)
            # What this client holds from now on is never garbage: keep its collector from
            # scanning it, so that its pauses do not add to the latencies measured.
            gc.collect()
            gc.freeze()
            result.open_errors = Counter(s.error[:100] for s in crowd.subscribers if s.error)
            await asyncio.sleep(1.0)
            result.server_rss_open_kib = tree_rss_kib(server_pid)
            result.client_rss_open_kib = proc_status_kib("self")
            result.server_fds_open = sum(proc_open_files(p) for p in proc_tree(server_pid))
            result.server_sockets = tree_sockets(server_pid)
            result.reference_open = await http_round_trips(api, REFERENCE_ROUNDS)

            say(f"{result.live} live; {args.mutations} mutations at {args.rate}/s")
            first_record = crowd.total_received
            cpu_server, cpu_client = tree_cpu_seconds(server_pid), time.process_time()
            started = time.perf_counter()
            result.mutations = await stream(api, tokens, args.mutations, args.rate, args.users)
            live_per_user = Counter(s.user for s in live)
            expected = sum(live_per_user[m.user] for m in result.mutations if m.task_id)
            last = [crowd.total_received, time.perf_counter()]

            def drained() -> bool:
                now = time.perf_counter()
                if crowd.total_received != last[0]:
                    last[:] = [crowd.total_received, now]
                got = crowd.total_received - first_record
                return got >= expected or now - last[1] > DRAIN_QUIET_SECONDS

            await wait_until(drained, DRAIN_MAX_SECONDS)
            result.stream_seconds = time.perf_counter() - started
            result.server_cpu_share = (
                tree_cpu_seconds(server_pid) - cpu_server
            ) / result.stream_seconds
            result.client_cpu_share = (time.process_time() - cpu_client) / result.stream_seconds
            result.server_rss_end_kib = tree_rss_kib(server_pid)
            result.closed_during_run = sum(1 for s in live if s.error)
            analyse(result, crowd, first_record, live)
        finally:
            say("closing subscribers")
            await crowd.close()
    return result


# --- the report ------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def times(value: float, reference: float) -> str:
    """``value`` as a multiple of ``reference``; a dash for a negative value (no ratio)."""
    return f"{value / reference:.1f}x" if value >= 0 and reference > 0 else "-"


def report(result: Result, args: argparse.Namespace) -> None:
    ok = [m for m in result.mutations if m.task_id is not None]
    reference = percentile(result.reference_idle, 50)
    http_mutation = [m.answered - m.sent for m in ok if m.answered is not None]
    compression = "permessage-deflate" if args.compression == "deflate" else "no compression"
    print(
        f"subscribers   {result.requested} requested, {result.connected} open, "
        f"{result.live} live, over {result.users} users ({compression})"
    )
    rate = result.connected / result.open_seconds if result.open_seconds else math.nan
    print(
        f"opening       {result.open_seconds:.1f} s ({rate:.0f} connections/s; "
        f"server CPU {result.server_cpu_share_opening:.0%} of a core)"
    )
    for error, count in result.open_errors.most_common(3):
        print(f"  failed      {count} x {error}")
    print(
        f"mutations     {len(result.mutations)} CreateTask at {args.rate:g}/s, {len(ok)} ok; "
        f"stream and drain {result.stream_seconds:.1f} s"
    )
    failures = Counter(m.error for m in result.mutations if m.error)
    for error, count in failures.most_common(3):
        print(f"  failed      {count} x {error}")
    share = result.delivered / result.expected if result.expected else math.nan
    print(
        f"events        {result.delivered} delivered of {result.expected} expected "
        f"({share:.1%}); {result.duplicates} duplicates, {result.unmatched} unmatched, "
        f"{result.graphql_errors} errors, {result.other_messages} other messages, "
        f"{result.closed_during_run} sockets closed"
    )
    print(
        f"reference     HTTP {{ __typename }} round trip p50 {reference * 1000:.2f} ms "
        f"(idle; {percentile(result.reference_open, 50) * 1000:.2f} ms "
        f"with {result.connected} sockets open)"
    )
    print()
    print(f"{'latency':24} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'p50/ref':>8} {'p99/ref':>8}")
    rows = [
        ("event from send", result.from_send),
        ("event from response", result.from_response),
        ("event from server 'at'", result.from_hub),
        ("HTTP CreateTask", http_mutation),
        ("HTTP { __typename }", result.reference_idle),
    ]
    for name, values in rows:
        p50, p99, top = (percentile(values, p) for p in (50, 99, 100))
        print(
            f"{name:24} {p50 * 1000:8.2f} {p99 * 1000:8.2f} {top * 1000:8.2f} "
            f"{times(p50, reference):>8} {times(p99, reference):>8}"
        )
    early = sum(1 for value in result.from_response if value < 0)
    if result.from_response:
        print(f"{early / len(result.from_response):.0%} of the events arrived before the response")
    print()
    live = max(result.live, 1)
    server_each = (result.server_rss_open_kib - result.server_rss_idle_kib) / live
    client_each = (result.client_rss_open_kib - result.client_rss_idle_kib) / live
    ratio = server_each / client_each if client_each > 0 else math.nan
    print(
        f"server RSS    {result.server_rss_idle_kib / 1024:.1f} MiB idle, "
        f"{result.server_rss_open_kib / 1024:.1f} MiB with {result.live} live, "
        f"{result.server_rss_end_kib / 1024:.1f} MiB after the stream"
    )
    print(
        f"per socket    server {server_each:.1f} KiB, client {client_each:.1f} KiB "
        f"(server = {ratio:.1f}x client)"
    )
    print(
        f"processes     {args.workers} worker(s); sockets held per process "
        f"{result.server_sockets} with all open, {result.primer_sockets} with the "
        f"{4 * args.workers} first ones open"
    )
    print(
        f"CPU           server {result.server_cpu_share:.0%} of a core, client "
        f"{result.client_cpu_share:.0%}, during the stream; server holds "
        f"{result.server_fds_open} descriptors (limit {result.server_fd_limit}, "
        f"client limit {result.client_fd_limit})"
    )


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000, help="websockets (1..5000)")
    parser.add_argument("--mutations", type=int, default=200, help="CreateTask mutations")
    parser.add_argument("--rate", type=float, default=10.0, help="mutations per second")
    parser.add_argument("--users", type=int, default=50, help="users the sockets are spread over")
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes (lifegraph serve --workers)"
    )
    parser.add_argument(
        "--open-concurrency", type=int, default=100, help="websocket handshakes in flight"
    )
    parser.add_argument(
        "--compression",
        choices=("deflate", "none"),
        default="deflate",
        help="offer permessage-deflate, as browsers do (default), or not",
    )
    args = parser.parse_args()
    if not 1 <= args.subscribers <= MAX_SUBSCRIBERS:
        parser.error(f"--subscribers must be between 1 and {MAX_SUBSCRIBERS}")
    if not 1 <= args.mutations <= 10_000:
        parser.error("--mutations must be between 1 and 10000")
    if not 0 < args.rate <= 1000:
        parser.error("--rate must be above 0 and at most 1000")
    if not 1 <= args.users <= 1000:
        parser.error("--users must be between 1 and 1000")
    if not 1 <= args.workers <= 8:
        parser.error("--workers must be between 1 and 8")
    if not 1 <= args.open_concurrency <= 1000:
        parser.error("--open-concurrency must be between 1 and 1000")
    return args


def main() -> None:
    args = arguments()
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")  # embedded PostgreSQL, as root
    wanted = args.subscribers + FD_MARGIN
    limit = raise_fd_limit(wanted)
    if limit < wanted:
        raise SystemExit(
            f"the open-file limit is {limit} and cannot be raised to {wanted}; "
            f"try --subscribers {max(1, limit - FD_MARGIN)}"
        )
    # A SIGTERM unwinds like Ctrl-C, so that the server is stopped and the database dropped.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    documents = contract_documents({"Register", "CreateTask", "Activity"})
    with (
        tempfile.TemporaryDirectory(prefix="lifegraph-bench-") as temporary,
        fresh_database(Path(temporary)) as database_url,
        serving(database_url, Path(temporary), limit, args.workers) as (base, process),
    ):
        server_limit = proc_fd_limit(process.pid)
        if server_limit < wanted:
            raise SystemExit(f"the server may open only {server_limit} files, {wanted} needed")
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            result = runner.run(run(base, process.pid, documents, args))
    report(result, args)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    sys.exit(128 + signum)


if __name__ == "__main__":
    main()
