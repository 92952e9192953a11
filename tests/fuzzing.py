"""Schemathesis's GraphQL fuzzing of the served app, shared by tests/test_fuzz.py and
bench/fuzz.py: strategies for the custom scalars (and for IDs and strings, so that the
fuzzer meets the records it may touch and the edge cases of each kind), a member account
with one record of each kind, and the verdict on each response.

Every query and mutation is fuzzed, those that end the session too: the member's password
is among the strings tried, so ``deleteMyAccount`` and ``changePassword`` succeed at
times, as ``logoutEverywhere`` does; when the token stops working the member registers
again and makes new records.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import graphql
import requests
import schemathesis
from client_contract import Contract
from conftest import loopback_server
from hypothesis import strategies as st
from receipt_images import blank
from schemathesis.core.result import Ok
from schemathesis.graphql import nodes
from schemathesis.schemas import APIOperation
from schemathesis.specs.graphql.schemas import GraphQLSchema

from resolvers.context import Services

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "fuzz-password-123"
KINDS = ("user", "receipt", "purchase", "habit", "task", "note", "noteimage", "role")
# Names the create inputs use, so that JSON objects (sync's `fields`) reach the checks.
FIELD_NAMES = [
    *("title", "content", "tags", "pinned", "description", "status", "priority", "dueAt"),
    *("completedAt", "name", "color", "frequency", "targetPerWeek", "archived", "position"),
    *("id", "version", "deleted"),
]

_uuid = str(uuid.UUID(int=0x1234_5678_9ABC_DEF0_1234_5678_9ABC_DEF0))
ODD_IDS = [
    "",
    "_",
    "task_",
    f"_{_uuid}",
    f"task__{_uuid}",
    f"task_{_uuid.upper()}",
    f"task_{{{_uuid}}}",
    f"task_urn:uuid:{_uuid}",
    f"task_{_uuid.replace('-', '')}",
    f"TASK_{_uuid}",
    f"task_{_uuid}\x00",
    f"task_{'0' * 10_000}",
    "x" * 100_000,
]


def cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


# Cursors of the right shape holding what no list issued: keys of the wrong type or size.
CURSORS = [
    cursor("x", _uuid),
    cursor("2026-11-21", _uuid),
    cursor("2026-11-21T09:30:00", _uuid),
    cursor("NaN", _uuid),
    cursor("1E+999999999", _uuid),
    cursor("9" * 30, _uuid),
    cursor("9" * 30, "2026-11-21T09:30:00+00:00", _uuid),
    cursor("0.5", "2026-11-21T09:30:00+00:00", _uuid),
    cursor(2**63, "NOTES", _uuid),
    cursor(1, "NOTES", "x"),
    cursor(1, "NOTES"),
    cursor(),
    cursor({"a": 1}, _uuid),
    "!!!",
    base64.urlsafe_b64encode(b"\xff\xfe").decode(),
]
STRINGS = [
    "",
    " ",
    "\x00",
    "\ud800",
    "x" * 100_001,
    "UTC",
    "Europe/Paris",
    "Etc/GMT+12",
    "EUR",
    "JPY",
    "en-US",
    "#ff0000",
    PASSWORD,
    "receipts/",
    "1E+999999",
    "9" * 400,
    *CURSORS,
]
DECIMALS = [
    "0",
    "-0",
    "0.01",
    "1E+999999999",
    "1E-999999999",
    "-1E+2147483648",
    "NaN",
    "sNaN",
    "-Infinity",
    "Infinity",
    "999999999999.99",
    "1" * 400,
    "1e",
    "",
]
DATES = ["0001-01-01", "0001-01-02", "9999-12-31", "9999-12-30", "1969-12-31", "2026-02-29"]
OFFSETS = [timezone(timedelta(hours=hours)) for hours in (-23, -12, 0, 5.5, 14, 23)] + [UTC]
DATETIMES = [
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59.999999Z",
    "4713-01-01T00:00:00Z",
    "294276-01-01T00:00:00Z",
    "2026-11-21T09:30:00",
    "2026-11-21",
]


def value_node(value: Any) -> graphql.ValueNode:
    """A JSON value as a GraphQL literal."""
    if value is None:
        return nodes.Null
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    if isinstance(value, str):
        return nodes.String(value)
    if isinstance(value, list):
        return nodes.List([value_node(item) for item in value])
    return nodes.Object(
        [
            graphql.ObjectFieldNode(name=graphql.NameNode(value=key), value=value_node(item))
            for key, item in value.items()
        ]
    )


def nested(depth: int) -> graphql.ValueNode:
    """Lists and objects nested ``depth`` deep, built without recursion."""
    node: graphql.ValueNode = nodes.Int(1)
    for level in range(depth):
        if level % 2:
            node = nodes.List([node])
        else:
            node = nodes.Object(
                [graphql.ObjectFieldNode(name=graphql.NameNode(value="title"), value=node)]
            )
    return node


def json_values() -> st.SearchStrategy[Any]:
    leaves = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.sampled_from([2**31, -(2**31) - 1, 2**63, 10**400])
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text()
        | st.sampled_from(STRINGS + DATETIMES + DECIMALS)
    )
    keys = st.sampled_from(FIELD_NAMES) | st.from_regex(r"\A[_A-Za-z][_0-9A-Za-z]{0,8}\Z")
    return st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=8)
        ),
        max_leaves=30,
    )


class KnownIds:
    """The IDs of the account's records, which the ID strategy picks often."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def pick(self, index: int) -> str:
        return self.ids[index % len(self.ids)] if self.ids else ""


def register_scalars(known: KnownIds) -> None:
    """Strategies for the custom scalars, and for ID and String, as literals (schemathesis
    sends no variables)."""
    kinds = st.sampled_from(KINDS)
    ids = st.one_of(
        st.integers(min_value=0).map(known.pick),
        st.builds("{}_{}".format, kinds, st.uuids()),
        st.builds("{}_{}".format, kinds, st.text(max_size=40)),
        st.sampled_from(ODD_IDS),
        st.text(),
    )
    datetimes = st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(OFFSETS),
    ).map(datetime.isoformat)
    decimals = st.one_of(
        st.decimals().map(str),
        st.integers().map(str),
        st.sampled_from(DECIMALS),
        st.text(max_size=10),
    )
    instants = datetimes | st.sampled_from(DATETIMES) | st.text(max_size=30)
    dates = st.dates().map(str) | st.sampled_from(DATES) | st.text(max_size=12)
    numbers = st.integers().map(nodes.Int) | st.floats().map(nodes.Float)
    json_nodes = json_values().map(value_node) | st.sampled_from([10, 100, 1000, 2400]).map(nested)
    scalars: dict[str, st.SearchStrategy[graphql.ValueNode]] = {
        "ID": ids.map(nodes.String) | st.integers().map(nodes.Int),
        "String": (st.text() | st.sampled_from(STRINGS)).map(nodes.String),
        "DateTime": instants.map(nodes.String),
        "Date": dates.map(nodes.String),
        "Decimal": decimals.map(nodes.String) | numbers,
        "JSON": json_nodes,
        "Upload": st.text().map(nodes.String) | numbers | json_nodes,
    }
    for name, strategy in scalars.items():
        schemathesis.graphql.scalar(name, strategy)


def load_schema() -> GraphQLSchema:
    return schemathesis.graphql.from_path(ROOT / "schema.graphql")


Operation = APIOperation[Any, Any, Any, Any]


def operations(schema: GraphQLSchema) -> list[Operation]:
    """Every query and mutation of the schema."""
    return [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]


def faults(response: requests.Response) -> list[str]:
    """What makes this response a server fault: a 5xx, a body that is not GraphQL's, or an
    error without a code or with INTERNAL_SERVER_ERROR."""
    if response.status_code >= 500:
        return [f"HTTP {response.status_code}: {response.text[:500]}"]
    try:
        body = response.json()
    except ValueError:
        return [f"not JSON: {response.text[:500]}"]
    found = []
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code is None or code == "INTERNAL_SERVER_ERROR":
            found.append(f"{code}: {error.get('message')} at {error.get('path')}")
    return found


def codes(response: requests.Response) -> set[str]:
    """What a response answered: its top-level errors' codes (``none`` without any), and
    its payload's ``userErrors:`` codes; or its status, if it is no GraphQL answer."""
    if response.status_code >= 500:
        return {f"HTTP {response.status_code}"}
    try:
        body = response.json()
    except ValueError:
        return {"not JSON"}
    found = {str((error.get("extensions") or {}).get("code")) for error in body.get("errors") or []}
    for payload in (body.get("data") or {}).values():
        if isinstance(payload, dict):
            errors = payload.get("userErrors") or []
            found |= {f"userErrors:{error['code']}" for error in errors if "code" in error}
    return found or {"none"}


def record(data: dict[str, Any]) -> dict[str, Any]:
    """The record of a mutation's only payload: ``{"createTask": {"task": {…}, …}}``."""
    (payload,) = data.values()
    found: dict[str, Any] = next(v for k, v in payload.items() if k != "userErrors")
    return found


class Member:
    """A signed-in member with a record of each kind, on a served app."""

    def __init__(self, url: str, known: KnownIds) -> None:
        self.url = url
        self.known = known
        self.contract = Contract.load()
        self.session = requests.Session()
        self.session.trust_env = False
        self.token = ""
        self.accounts = 0
        self.by_code: Counter[str] = Counter()
        self.cases = 0

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def body(self, name: str, variables: dict[str, Any]) -> dict[str, Any]:
        return {
            "query": self.contract.document_of(name),
            "variables": variables,
            "operationName": name,
        }

    def post(self, headers: dict[str, str], **request: Any) -> dict[str, Any]:
        """The data of a request that must succeed."""
        response = self.session.post(
            self.url, headers={**self.headers, **headers}, timeout=60, **request
        )
        result: dict[str, Any] = response.json()
        assert "errors" not in result, result
        data: dict[str, Any] = result["data"]
        return data

    def op(self, name: str, variables: dict[str, Any]) -> dict[str, Any]:
        return self.post({}, json=self.body(name, variables))

    def upload(self, name: str, variables: dict[str, Any]) -> dict[str, Any]:
        """The operation with a PNG as its ``file``, as a multipart request."""
        parts: dict[str, Any] = {
            "operations": (None, json.dumps(self.body(name, variables))),
            "map": (None, json.dumps({"0": ["variables.file"]})),
            "0": ("image.png", blank("PNG"), "image/png"),
        }
        return self.post({"Apollo-Require-Preflight": "true"}, files=parts)

    def register(self) -> None:
        self.token = ""
        self.accounts += 1
        email = f"fuzz-{self.accounts}-{uuid.uuid4().hex[:8]}@example.com"
        data = self.op(
            "Register", {"input": {"email": email, "password": PASSWORD, "displayName": "Fuzz"}}
        )
        session = data["register"]["session"]
        self.token = session["accessToken"]
        self.known.ids = [session["user"]["id"]]
        self.seed()

    def seed(self) -> None:
        """One record of each kind, so that cases naming them reach the checks behind the lookup."""
        purchase = {"merchant": "Shop", "amount": "3.50", "purchasedAt": "2026-11-21T09:30:00Z"}
        note = record(self.op("CreateNote", {"input": {"title": "Note", "tags": ["a"]}}))
        with_image = record(self.upload("AddNoteImage", {"noteId": note["id"], "file": None}))
        self.known.ids += [
            record(self.op("CreatePurchase", {"input": purchase}))["id"],
            record(self.op("CreateTask", {"input": {"title": "Task", "tags": ["a"]}}))["id"],
            record(self.op("CreateHabit", {"input": {"name": "Habit"}}))["id"],
            record(self.upload("UploadReceipt", {"file": None}))["id"],
            note["id"],
            *(image["id"] for image in with_image["images"]),
        ]

    def signed_in(self) -> bool:
        response = self.session.post(
            self.url, json={"query": "{ me { id } }"}, headers=self.headers, timeout=60
        )
        return "errors" not in response.json()

    def call(self, case: Any) -> requests.Response:
        """Sends the case as this member; signs up again if it ended the session."""
        response: requests.Response = case.call(
            base_url=self.url, session=self.session, headers=self.headers
        )
        self.cases += 1
        self.by_code.update(codes(response))
        if "UNAUTHENTICATED" in response.text and not self.signed_in():
            self.register()
        return response


@contextlib.contextmanager
def served(services: Services) -> Iterator[str]:
    """The app served by Uvicorn on a loopback port, in a thread of its own (the fuzzer's
    calls block), until the block ends; yields the GraphQL endpoint's URL."""
    server, port = loopback_server(services)
    thread = threading.Thread(target=server.run, name="fuzzed server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the server stopped"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        thread.join(30)
