"""Offline sync through the GraphQL endpoint: pulls after a cursor, atomic idempotent pushes,
conflicts, validation, tombstones, ownership, and a cursor that never skips a change."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import Api, StatementCounter, errors_of, raw_connection
from sqlalchemy import text
from sqlalchemy.engine import make_url

from db.sync import Collection
from resolvers import notes
from resolvers.context import Services
from resolvers.errors import Problems
from resolvers.sync import DOMAINS, Pusher

Change = dict[str, Any]
Fields = dict[str, Any]
KINDS = {
    "note": "NOTES",
    "task": "TASKS",
    "habit": "HABITS",
    "project": "PROJECTS",
    "checkin": "CHECK_INS",
    "purchase": "PURCHASES",
}
WEEK = {"from": "2026-01-05", "to": "2026-01-11"}


# --- helpers -------------------------------------------------------------------------------


async def sign_up(api: Api, email: str) -> tuple[str, uuid.UUID]:
    """A new user's access token and database id."""
    session = await api.register(email)
    return session["accessToken"], uuid.UUID(session["user"]["id"].removeprefix("user_"))


async def pull(
    api: Api, token: str, since: str | None = None, collections: list[str] | None = None
) -> dict[str, Any]:
    result = await api.op("SyncPull", {"since": since, "collections": collections}, token)
    assert "errors" not in result, result
    pulled: dict[str, Any] = result["data"]["syncPull"]
    return pulled


async def pull_all(
    api: Api, token: str, since: str | None = None, collections: list[str] | None = None
) -> tuple[list[Change], str]:
    """Every change after ``since``, page by page; and the cursor to store."""
    changes: list[Change] = []
    while True:
        page = await pull(api, token, since, collections)
        changes += page["changes"]
        since = page["cursor"]
        if not page["hasMore"]:
            assert since is not None
            return changes, since


async def push_raw(
    api: Api,
    token: str,
    changes: list[Change],
    *,
    client_id: str = "device-1",
    mutation_id: int = 1,
    last_pulled_at: str | None = None,
) -> dict[str, Any]:
    variables = {
        "input": {
            "clientId": client_id,
            "mutationId": mutation_id,
            "lastPulledAt": last_pulled_at,
            "changes": changes,
        }
    }
    result = await api.op("SyncPush", variables, token)
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["syncPush"]
    return payload


async def push(
    api: Api,
    token: str,
    changes: list[Change],
    *,
    client_id: str = "device-1",
    mutation_id: int = 1,
    last_pulled_at: str | None = None,
) -> dict[str, Any]:
    """A push that must succeed (applied or in conflict, without userErrors)."""
    payload = await push_raw(
        api,
        token,
        changes,
        client_id=client_id,
        mutation_id=mutation_id,
        last_pulled_at=last_pulled_at,
    )
    assert payload["userErrors"] == [], payload
    return payload


async def mutate(api: Api, token: str, operation: str, variables: dict[str, Any]) -> dict[str, Any]:
    """An ordinary mutation that must succeed; its payload."""
    result = await api.op(operation, variables, token)
    assert "errors" not in result, result
    (payload,) = result["data"].values()
    assert payload["userErrors"] == [], payload
    return dict(payload)


def change(
    record_id: str,
    fields: Fields | None = None,
    *,
    version: int | None = None,
    deleted: bool | None = None,
) -> Change:
    """A SyncChangeInput; the collection follows from the ID's type word."""
    return {
        "collection": collection_of(record_id),
        "id": record_id,
        "version": version,
        "deleted": deleted,
        "fields": fields,
    }


def collection_of(record_id: str) -> str:
    return KINDS[record_id.partition("_")[0]]


def mint(kind: str) -> str:
    return f"{kind}_{uuid.uuid4()}"


def by_id(changes: Iterable[Change]) -> dict[str, Change]:
    return {item["id"]: item for item in changes}


def applied(payload: Mapping[str, Any]) -> dict[str, int]:
    return {item["id"]: item["version"] for item in payload["applied"]}


def error_fields(payload: Mapping[str, Any]) -> list[tuple[list[str], str]]:
    return [(error["field"], error["code"]) for error in payload["userErrors"]]


def pusher(user_id: uuid.UUID) -> Pusher:
    return Pusher(user_id, "EUR", datetime.now(UTC).date())


async def insert(
    services: Services, user_id: uuid.UUID, collection: Collection, records: list[Fields]
) -> list[str]:
    """Writes records straight through the resolvers' row functions, in one transaction."""
    domain = DOMAINS[collection]
    created: list[str] = []
    async with services.sessionmaker.begin() as session:
        for values in records:
            problems = Problems()
            cleaned = domain.clean(
                values, problems, ("input",), creating=True, row=None, pusher=pusher(user_id)
            )
            assert not problems.items, [p.message for p in problems.items]
            record_id = uuid.uuid4()
            await domain.create_row(session, user_id, record_id, cleaned)
            created.append(f"{domain.kind}_{record_id}")
    return created


def cursor_of(payload: object) -> str:
    raw = json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# --- a simulated offline device -----------------------------------------------------------


@dataclass
class Device:
    """An offline client: its records {id: (version, fields)}, local edits not yet pushed,
    the cursor it stores, and the conflicts its last push reported."""

    api: Api
    token: str
    client_id: str
    records: dict[str, tuple[int | None, Fields]] = field(default_factory=dict)
    pending: dict[str, Fields] = field(default_factory=dict)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    cursor: str | None = None
    mutation_id: int = 0

    async def pull(self) -> int:
        """Pulls every waiting change; local edits not yet pushed are kept. Returns the count."""
        changes, self.cursor = await pull_all(self.api, self.token, self.cursor)
        for item in changes:
            if item["id"] in self.pending:
                continue
            if item["deleted"]:
                self.records.pop(item["id"], None)
            else:
                self.records[item["id"]] = (item["version"], item["fields"])
        return len(changes)

    async def pull_until_quiet(self) -> None:
        while await self.pull():
            pass

    def edit(self, record_id: str, **values: Any) -> None:
        version, fields = self.records.get(record_id, (None, {}))
        self.records[record_id] = (version, {**fields, **values})
        self.pending[record_id] = {**self.pending.get(record_id, {}), **values}

    def resolve(self) -> None:
        """Merges each conflict: the server's fields with this device's edit on top."""
        for conflict in self.conflicts:
            own = self.pending[conflict["id"]]
            merged = {**conflict["serverFields"], **own}
            self.records[conflict["id"]] = (conflict["serverVersion"], merged)
        self.conflicts = []

    async def push(self) -> dict[str, Any]:
        self.mutation_id += 1
        changes = [
            change(record_id, self.records[record_id][1], version=self.records[record_id][0])
            for record_id in self.pending
        ]
        payload = await push(
            self.api,
            self.token,
            changes,
            client_id=self.client_id,
            mutation_id=self.mutation_id,
            last_pulled_at=self.cursor,
        )
        for item in payload["applied"]:
            self.records[item["id"]] = (item["version"], self.records[item["id"]][1])
            del self.pending[item["id"]]
        self.conflicts = payload["conflicts"]
        return payload


# --- pulls ---------------------------------------------------------------------------------


async def test_pull_pages_through_every_change_500_at_a_time(api: Api, services: Services) -> None:
    token, user_id = await sign_up(api, "pages@example.com")
    batches = [
        await insert(
            services, user_id, Collection.TASKS, [{"title": f"Task {b}.{i}"} for i in range(400)]
        )
        for b in range(3)
    ]
    sizes: list[tuple[int, bool]] = []
    pulled: list[Change] = []
    cursor = None
    while True:
        page = await pull(api, token, cursor)
        sizes.append((len(page["changes"]), page["hasMore"]))
        pulled += page["changes"]
        cursor = page["cursor"]
        if not page["hasMore"]:
            break
    assert sizes == [(500, True), (500, True), (200, False)]
    ids = [item["id"] for item in pulled]
    assert len(set(ids)) == 1200
    # Oldest first: each transaction's changes come after those of the one before.
    assert [set(ids[i * 400 : (i + 1) * 400]) for i in range(3)] == [set(b) for b in batches]
    assert all(item["collection"] == "TASKS" and item["version"] == 1 for item in pulled)
    assert all(not item["deleted"] for item in pulled)
    first = pulled[0]["fields"]
    assert first.pop("title").startswith("Task 0.")
    assert first == {
        "description": None,
        "status": "TODO",
        "priority": "MEDIUM",
        "dueAt": None,
        "remindAt": None,
        "tags": [],
        "projectId": None,
        "parentId": None,
        "recurrence": None,
    }
    again = await pull(api, token, cursor)
    assert (again["changes"], again["hasMore"], again["cursor"]) == ([], False, cursor)


async def test_pull_returns_latest_state_oldest_first_with_tombstones(api: Api) -> None:
    token, _ = await sign_up(api, "order@example.com")
    empty = await pull(api, token)
    assert (empty["changes"], empty["hasMore"]) == ([], False)
    note_id = (await mutate(api, token, "CreateNote", {"input": {"title": "First"}}))["note"]["id"]
    task_id = (await mutate(api, token, "CreateTask", {"input": {"title": "Second"}}))["task"]["id"]
    gone_id = (await mutate(api, token, "CreateTask", {"input": {"title": "Gone"}}))["task"]["id"]
    await mutate(api, token, "UpdateNote", {"id": note_id, "input": {"title": "First, edited"}})
    await mutate(api, token, "DeleteTask", {"id": gone_id})

    changes, cursor = await pull_all(api, token, empty["cursor"])
    # One change per record, its latest; ordered by when that change was committed.
    assert [item["id"] for item in changes] == [task_id, note_id, gone_id]
    assert changes[1]["version"] == 2
    assert changes[1]["fields"]["title"] == "First, edited"
    tombstone = changes[2]
    assert (tombstone["deleted"], tombstone["fields"], tombstone["version"]) == (True, None, 2)
    assert tombstone["collection"] == "TASKS"
    assert all(item["updatedAt"].endswith(("Z", "+00:00")) for item in changes)
    assert (await pull(api, token, cursor))["changes"] == []


async def test_pull_filters_by_collection(api: Api) -> None:
    token, _ = await sign_up(api, "filter@example.com")
    note = mint("note")
    task = mint("task")
    habit = mint("habit")
    await push(
        api,
        token,
        [
            change(note, {"title": "Note"}),
            change(task, {"title": "Task"}),
            change(habit, {"name": "Habit"}),
        ],
    )

    async def ids(collections: list[str] | None) -> set[str]:
        return {item["id"] for item in (await pull_all(api, token, None, collections))[0]}

    assert await ids(["TASKS"]) == {task}
    assert await ids(["NOTES", "HABITS"]) == {note, habit}
    assert await ids(None) == await ids([]) == {note, task, habit}


@pytest.mark.parametrize(
    "since",
    [
        "not a cursor",
        "%%%",
        cursor_of(["1", "NOTES"]),
        cursor_of({"txid": 1}),
        cursor_of(7),
        cursor_of([None, "NOTES", str(uuid.UUID(int=0))]),
        cursor_of([1, "RECEIPTS", str(uuid.UUID(int=0))]),
        cursor_of([1, "NOTES", "not-a-uuid"]),
    ],
)
async def test_a_bad_cursor_is_bad_user_input(api: Api, since: str) -> None:
    token, _ = await sign_up(api, "cursor@example.com")
    assert errors_of(await api.op("SyncPull", {"since": since}, token)) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "since",
    [
        pytest.param(cursor_of([1, "NOTES", 5]), id="uuid-not-a-string"),
        pytest.param(cursor_of([10**20, "NOTES", str(uuid.UUID(int=0))]), id="txid-beyond-bigint"),
    ],
)
async def test_a_forged_cursor_is_bad_user_input_not_a_server_fault(api: Api, since: str) -> None:
    token, _ = await sign_up(api, "forged@example.com")
    assert errors_of(await api.op("SyncPull", {"since": since}, token)) == ["BAD_USER_INPUT"]


async def test_pull_requires_sign_in(api: Api) -> None:
    assert errors_of(await api.op("SyncPull", {})) == ["UNAUTHENTICATED"]
    push_input = {"input": {"clientId": "x", "mutationId": 1, "changes": []}}
    assert errors_of(await api.op("SyncPush", push_input)) == ["UNAUTHENTICATED"]


# --- the cursor under concurrent writers ---------------------------------------------------


async def naive_pull(services: Services, user_id: uuid.UUID, after_txid: int) -> list[str]:
    """What a pull by transaction id alone would see: every committed row after it."""
    async with services.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT record_id, txid FROM sync_changes "
                "WHERE user_id = :user AND txid > :after ORDER BY txid"
            ),
            {"user": user_id, "after": after_txid},
        )
        return [f"note_{row.record_id}" for row in rows]


async def test_cursor_never_skips_a_change_of_a_slower_transaction(
    api: Api, services: Services
) -> None:
    token, user_id = await sign_up(api, "writers@example.com")
    start = await pull(api, token)
    note_1, note_2 = uuid.uuid4(), uuid.uuid4()
    current_txid = text("SELECT pg_current_xact_id()::text::bigint")

    def cleaned(title: str) -> Fields:
        problems = Problems()
        values = notes.clean({"title": title}, problems, ("input",), creating=True)
        assert not problems.items
        return values

    async with services.sessionmaker() as writer_a, services.sessionmaker() as writer_b:
        async with writer_a.begin():
            await notes.create_row(writer_a, user_id, note_1, cleaned("Note 1"))
            txid_1 = await writer_a.scalar(current_txid)
            async with writer_b.begin():
                await notes.create_row(writer_b, user_id, note_2, cleaned("Note 2"))
                txid_2 = await writer_b.scalar(current_txid)
            # B has committed while A, the older transaction, is still running.
            assert txid_2 > txid_1
            between = await pull(api, token, start["cursor"])
            assert (between["changes"], between["hasMore"]) == ([], False)
            assert between["cursor"] == start["cursor"]  # it has not moved past note 1
            # Pulling by transaction id alone would have handed out note 2 now ...
            assert await naive_pull(services, user_id, 0) == [f"note_{note_2}"]
        # ... and, once A commits, skipped note 1 for good: it sorts before that cursor.
        assert await naive_pull(services, user_id, txid_2) == []

    for since in (between["cursor"], start["cursor"]):
        after = await pull(api, token, since)
        assert [item["id"] for item in after["changes"]] == [f"note_{note_1}", f"note_{note_2}"]
        assert [item["fields"]["title"] for item in after["changes"]] == ["Note 1", "Note 2"]
    assert (await pull(api, token, after["cursor"]))["changes"] == []


async def test_a_transaction_in_another_database_holds_no_pull_back(
    api: Api, database_url: str
) -> None:
    """Transaction ids are the server's: a long transaction of another database on it (here
    one that has written, so it has an id) must not keep this database's changes from
    pulls, as the snapshot's own xmin would."""
    token, _ = await sign_up(api, "elsewhere@example.com")
    start = await pull(api, token)
    other = f"lifegraph_other_{uuid.uuid4().hex[:12]}"
    async with raw_connection(database_url) as admin:
        await admin.execute(f'CREATE DATABASE "{other}"')
    try:
        other_url = make_url(database_url).set(database=other).render_as_string(False)
        async with raw_connection(other_url) as elsewhere, elsewhere.transaction():
            await elsewhere.fetchval("SELECT pg_current_xact_id()")
            created = await mutate(api, token, "CreateNote", {"input": {"title": "Now"}})
            after = await pull(api, token, start["cursor"])
        assert [item["id"] for item in after["changes"]] == [created["note"]["id"]]
    finally:
        async with raw_connection(database_url) as admin:
            await admin.execute(f'DROP DATABASE "{other}" WITH (FORCE)')


# --- two devices ---------------------------------------------------------------------------


async def test_two_offline_devices_converge_with_one_conflict_and_no_lost_edit(
    api: Api,
) -> None:
    token, _ = await sign_up(api, "devices@example.com")
    x = await mutate(api, token, "CreateNote", {"input": {"title": "X", "content": "x"}})
    y = await mutate(api, token, "CreateNote", {"input": {"title": "Y", "tags": ["y"]}})
    note_x, note_y = x["note"]["id"], y["note"]["id"]
    phone = Device(api, token, "phone")
    laptop = Device(api, token, "laptop")
    await phone.pull()
    await laptop.pull()
    assert phone.records == laptop.records
    assert set(phone.records) == {note_x, note_y}

    # Both edit offline.
    task_t = mint("task")
    phone.edit(note_x, title="X from the phone")
    phone.edit(task_t, title="Task T", priority="HIGH", tags=["Errands"])
    laptop.edit(note_x, content="x, expanded on the laptop")
    laptop.edit(note_y, pinned=True)

    first = await phone.push()
    assert applied(first) == {note_x: 2, task_t: 1}
    assert first["conflicts"] == []

    second = await laptop.push()
    assert applied(second) == {note_y: 2}
    assert second["conflicts"] == [
        {
            "collection": "NOTES",
            "id": note_x,
            "serverVersion": 2,
            "serverFields": {
                "title": "X from the phone",
                "content": "x",
                "tags": [],
                "pinned": False,
                "archived": False,
                "images": [],
            },
            "reason": "STALE",
        }
    ]
    laptop.resolve()
    third = await laptop.push()
    assert (applied(third), third["conflicts"]) == ({note_x: 3}, [])
    assert laptop.pending == phone.pending == {}

    await phone.pull_until_quiet()
    await laptop.pull_until_quiet()
    assert phone.records == laptop.records
    assert phone.records == {
        note_x: (
            3,
            {
                "title": "X from the phone",
                "content": "x, expanded on the laptop",
                "tags": [],
                "pinned": False,
                "archived": False,
                "images": [],
            },
        ),
        note_y: (
            2,
            {
                "title": "Y",
                "content": "",
                "tags": ["y"],
                "pinned": True,
                "archived": False,
                "images": [],
            },
        ),
        task_t: (
            1,
            {
                "title": "Task T",
                "description": None,
                "status": "TODO",
                "priority": "HIGH",
                "dueAt": None,
                "remindAt": None,
                "tags": ["errands"],
                "projectId": None,
                "parentId": None,
                "recurrence": None,
            },
        ),
    }


# --- pushes --------------------------------------------------------------------------------


async def test_a_retried_push_is_applied_once(api: Api) -> None:
    token, _ = await sign_up(api, "retry@example.com")
    note = mint("note")
    create = [change(note, {"title": "Draft"})]
    first = await push(api, token, create, client_id="phone", mutation_id=7)
    assert applied(first) == {note: 1}
    assert await push(api, token, create, client_id="phone", mutation_id=7) == first
    listed = await api.op("Notes", {}, token)
    assert listed["data"]["notes"]["totalCount"] == 1

    edit = [change(note, {"title": "Edited"}, version=1)]
    second = await push(api, token, edit, client_id="phone", mutation_id=8)
    assert applied(second) == {note: 2}
    retried = await push(api, token, edit, client_id="phone", mutation_id=8)
    assert retried == second
    node = await api.op("Note", {"id": note}, token)
    assert (node["data"]["note"]["version"], node["data"]["note"]["title"]) == (2, "Edited")
    changes, _ = await pull_all(api, token)
    assert [(item["id"], item["version"]) for item in changes] == [(note, 2)]

    # A new mutationId (or another client) is another push: applied again.
    newer = [change(note, {"title": "Edited again"}, version=2)]
    third = await push(api, token, newer, client_id="phone", mutation_id=9)
    assert applied(third) == {note: 3}
    tablet = [change(note, {"content": "From the tablet"}, version=3)]
    fourth = await push(api, token, tablet, client_id="tablet", mutation_id=8)
    assert applied(fourth) == {note: 4}
    # Creating the same ID again under a fresh mutationId is a conflict, not a duplicate.
    again = await push(api, token, create, client_id="phone", mutation_id=10)
    assert applied(again) == {}
    assert [(c["id"], c["serverVersion"], c["reason"]) for c in again["conflicts"]] == [
        (note, 4, "STALE")
    ]
    listed = await api.op("Notes", {}, token)
    assert listed["data"]["notes"]["totalCount"] == 1


async def test_the_same_push_sent_twice_at_once_is_applied_once(api: Api) -> None:
    token, _ = await sign_up(api, "twice@example.com")
    notes_ = [change(mint("note"), {"title": f"Note {i}"}) for i in range(20)]
    first, second = await asyncio.gather(
        push(api, token, notes_, client_id="flaky", mutation_id=1),
        push(api, token, notes_, client_id="flaky", mutation_id=1),
    )
    assert first == second
    assert applied(first) == {item["id"]: 1 for item in notes_}
    changes, _ = await pull_all(api, token)
    assert sorted(item["id"] for item in changes) == sorted(item["id"] for item in notes_)
    assert {item["version"] for item in changes} == {1}


async def test_a_retried_push_answers_its_deletes_and_conflicts_again(api: Api) -> None:
    token, _ = await sign_up(api, "replay@example.com")
    note, task = mint("note"), mint("task")
    await push(api, token, [change(note, {"title": "Note"}), change(task, {"title": "Task"})])
    await mutate(api, token, "UpdateTask", {"id": task, "input": {"title": "Renamed"}})
    batch = [change(note, version=1, deleted=True), change(task, {"title": "Mine"}, version=1)]
    first = await push(api, token, batch, mutation_id=2)
    assert applied(first) == {note: 2}
    assert [(c["id"], c["serverVersion"], c["reason"]) for c in first["conflicts"]] == [
        (task, 2, "STALE")
    ]
    assert first["conflicts"][0]["serverFields"]["title"] == "Renamed"
    assert await push(api, token, batch, mutation_id=2) == first


async def test_an_answer_stored_by_an_earlier_release_is_given_again(
    api: Api, services: Services
) -> None:
    token, user_id = await sign_up(api, "stored@example.com")
    note, task = mint("note"), mint("task")
    stored = {
        "cursor": cursor_of([0, "NOTES", str(uuid.UUID(int=0))]),
        "applied": [{"collection": "NOTES", "id": note, "version": 1}],
        "conflicts": [
            {
                "collection": "TASKS",
                "id": task,
                "serverVersion": 3,
                "serverFields": {"title": "Server"},
                "reason": "STALE",
            },
            {
                "collection": "HABITS",
                "id": mint("habit"),
                "serverVersion": None,
                "serverFields": None,
                "reason": "DELETED",
            },
        ],
    }
    async with services.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO sync_pushes (user_id, client_id, mutation_id, response) "
                "VALUES (:user_id, 'old-app', 1, CAST(:response AS jsonb))"
            ),
            {"user_id": user_id, "response": json.dumps(stored)},
        )
    payload = await push(
        api, token, [change(note, {"title": "Sent again"})], client_id="old-app", mutation_id=1
    )
    assert {name: payload[name] for name in stored} == stored
    assert (await pull(api, token))["changes"] == []


@pytest.mark.parametrize(
    ("kind", "bad", "fixed", "field", "code"),
    [
        ("task", {"title": ""}, {"title": "Fixed"}, "title", "INVALID"),
        ("task", {"title": "t", "status": "LATER"}, {"title": "t"}, "status", "INVALID"),
        ("task", {"title": "t", "dueAt": "soon"}, {"title": "t"}, "dueAt", "INVALID"),
        ("habit", {"name": "Run", "color": "red"}, {"name": "Run"}, "color", "INVALID"),
        ("habit", {"name": "R"}, {"name": "Run"}, "name", "INVALID"),
        ("note", {"title": "n", "tags": ["x" * 51]}, {"title": "n"}, "tags", "INVALID"),
        ("note", {"title": "n", "colour": "x"}, {"title": "n"}, "colour", "INVALID"),
        # The first change names its habit "Read": a second "Read" in the push is taken.
        ("habit", {"name": "Read"}, {"name": "Write"}, "name", "CONFLICT"),
    ],
)
async def test_pushed_values_pass_the_mutations_validation(
    api: Api, kind: str, bad: Fields, fixed: Fields, field: str, code: str
) -> None:
    token, _ = await sign_up(api, "validate@example.com")
    valid = change(mint("habit"), {"name": "Read"})
    record_id = mint(kind)
    payload = await push_raw(api, token, [valid, change(record_id, bad)], mutation_id=3)
    assert error_fields(payload) == [(["input", "changes", "1", "fields", field], code)]
    assert (payload["applied"], payload["conflicts"], payload["cursor"]) == ([], [], None)
    assert (await pull(api, token))["changes"] == []
    assert (await api.op("Habits", WEEK, token))["data"]["habits"] == []

    # Nothing of it was stored, not even the mutationId: the corrected push applies.
    retry = await push(api, token, [valid, change(record_id, fixed)], mutation_id=3)
    assert applied(retry) == {valid["id"]: 1, record_id: 1}
    assert len((await pull(api, token))["changes"]) == 2


async def wait_until_blocked(services: Services, request: asyncio.Task[Any]) -> None:
    """Returns once a statement of this database waits for a lock (or the request ended)."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(200):
        async with services.engine.connect() as connection:
            if await connection.scalar(waiting) or request.done():
                return
        await asyncio.sleep(0.025)
    raise AssertionError("the push never waited for the other transaction")


async def test_a_habit_name_taken_by_a_concurrent_writer_is_a_conflict(
    api: Api, services: Services
) -> None:
    token, user_id = await sign_up(api, "race@example.com")
    habit = mint("habit")
    async with services.sessionmaker.begin() as session:
        # Another device's push, still running, creates "Read" first.
        problems = Problems()
        cleaned = DOMAINS[Collection.HABITS].clean(
            {"name": "Read"}, problems, ("input",), creating=True, row=None, pusher=pusher(user_id)
        )
        await DOMAINS[Collection.HABITS].create_row(session, user_id, uuid.uuid4(), cleaned)
        pushing = asyncio.create_task(push_raw(api, token, [change(habit, {"name": "read"})]))
        await wait_until_blocked(services, pushing)
    payload = await pushing
    assert error_fields(payload) == [(["input", "changes", "0", "fields", "name"], "CONFLICT")]
    assert [item["fields"]["name"] for item in (await pull_all(api, token))[0]] == ["Read"]


async def test_malformed_changes_are_user_errors(api: Api) -> None:
    token, _ = await sign_up(api, "malformed@example.com")
    changes = [
        change(mint("note"), {"title": "ok"}),
        {**change(mint("task"), {"title": "wrong type word"}), "collection": "NOTES"},
        change(mint("note"), ["not", "an", "object"]),  # type: ignore[arg-type]
    ]
    payload = await push_raw(api, token, changes)
    assert error_fields(payload) == [
        (["input", "changes", "1", "id"], "INVALID"),
        (["input", "changes", "2", "fields"], "INVALID"),
    ]
    too_many = [change(mint("note"), {"title": "n"}) for _ in range(501)]
    bad_input = await push_raw(api, token, too_many, client_id=" ", mutation_id=-1)
    assert error_fields(bad_input) == [
        (["input", "clientId"], "INVALID"),
        (["input", "mutationId"], "INVALID"),
        (["input", "changes"], "INVALID"),
    ]
    bad_cursor = await api.op(
        "SyncPush",
        {"input": {"clientId": "c", "mutationId": 1, "lastPulledAt": "nope", "changes": []}},
        token,
    )
    assert errors_of(bad_cursor) == ["BAD_USER_INPUT"]
    assert (await pull(api, token))["changes"] == []


async def test_deletes_tombstones_and_deleted_records(api: Api) -> None:
    token, _ = await sign_up(api, "delete@example.com")
    note, task = mint("note"), mint("task")
    await push(api, token, [change(note, {"title": "Note"}), change(task, {"title": "Task"})])
    _, cursor = await pull_all(api, token)

    # A delete with a stale version is a conflict too.
    await mutate(api, token, "UpdateTask", {"id": task, "input": {"title": "Renamed"}})
    stale = await push(api, token, [change(task, version=1, deleted=True)], mutation_id=2)
    assert [(c["id"], c["serverVersion"], c["reason"]) for c in stale["conflicts"]] == [
        (task, 2, "STALE")
    ]
    assert stale["conflicts"][0]["serverFields"]["title"] == "Renamed"

    unknown = mint("note")
    deleted = await push(
        api,
        token,
        [
            change(note, version=1, deleted=True),
            change(task, version=2, deleted=True),
            change(unknown, deleted=True),
        ],
        mutation_id=3,
    )
    assert applied(deleted) == {note: 2, task: 3, unknown: 0}
    assert deleted["conflicts"] == []
    changes, cursor = await pull_all(api, token, cursor)
    assert [(c["id"], c["version"], c["deleted"], c["fields"]) for c in changes] == [
        (note, 2, True, None),
        (task, 3, True, None),
    ]  # the unknown ID left no trace
    for record_id in (note, task):
        assert (await api.op("Node", {"id": record_id}, token))["data"]["node"] is None

    # Editing a record deleted on the server: DELETED. Deleting it again: nothing to do.
    edit = await push(api, token, [change(note, {"title": "Revived?"}, version=1)], mutation_id=4)
    assert edit["applied"] == []
    assert edit["conflicts"] == [
        {
            "collection": "NOTES",
            "id": note,
            "serverVersion": None,
            "serverFields": None,
            "reason": "DELETED",
        }
    ]
    again = await push(api, token, [change(note, version=2, deleted=True)], mutation_id=5)
    assert [item["id"] for item in again["applied"]] == [note]
    assert (await pull(api, token, cursor))["changes"] == []
    assert (await api.op("Notes", {}, token))["data"]["notes"]["totalCount"] == 0


# --- sync and the ordinary API -------------------------------------------------------------


async def test_mutations_appear_in_pulls(api: Api) -> None:
    token, _ = await sign_up(api, "mutations@example.com")
    _, cursor = await pull_all(api, token)
    note = await mutate(api, token, "CreateNote", {"input": {"title": "Note", "tags": ["A"]}})
    note_id = note["note"]["id"]
    await mutate(api, token, "UpdateNote", {"id": note_id, "input": {"pinned": True}})
    task_id = (await mutate(api, token, "CreateTask", {"input": {"title": "Task"}}))["task"]["id"]
    await mutate(api, token, "UpdateTask", {"id": task_id, "input": {"status": "DONE"}})
    kept = (await mutate(api, token, "CreateHabit", {"input": {"name": "Stretch"}}))["habit"]["id"]
    dropped = (await mutate(api, token, "CreateHabit", {"input": {"name": "Floss"}}))["habit"]["id"]
    await mutate(api, token, "UpdateHabit", {"id": kept, "input": {"color": "#3fa34d"}})
    await mutate(api, token, "ReorderHabits", {"ids": [dropped, kept]})
    await mutate(api, token, "ArchiveHabit", {"id": kept, "archived": True})
    await mutate(api, token, "DeleteHabit", {"id": dropped})

    changes = by_id((await pull_all(api, token, cursor))[0])
    assert set(changes) == {note_id, task_id, kept, dropped}
    assert (changes[note_id]["version"], changes[note_id]["fields"]) == (
        2,
        {
            "title": "Note",
            "content": "",
            "tags": ["a"],
            "pinned": True,
            "archived": False,
            "images": [],
        },
    )
    assert changes[task_id]["version"] == 2
    assert changes[task_id]["fields"]["status"] == "DONE"
    # Created, recoloured, moved, archived; archived and position are pulled, read-only.
    assert (changes[kept]["version"], changes[kept]["fields"]) == (
        4,
        {
            "name": "Stretch",
            "description": None,
            "color": "#3FA34D",
            "frequency": "DAILY",
            "targetPerWeek": 7,
            "daysOfWeek": None,
            "target": None,
            "unit": None,
            "archived": True,
            "position": 1,
        },
    )
    assert (changes[dropped]["deleted"], changes[dropped]["fields"]) == (True, None)


async def test_pulled_records_push_back_unchanged(api: Api) -> None:
    """A client may send back a record exactly as pulled (habits' read-only fields too)."""
    token, _ = await sign_up(api, "roundtrip@example.com")
    note = await mutate(api, token, "CreateNote", {"input": {"title": "N", "tags": ["t"]}})
    task_input = {"title": "T", "dueAt": "2026-11-21T09:30:00+01:00", "description": "d"}
    task = await mutate(api, token, "CreateTask", {"input": task_input})
    habit = await mutate(api, token, "CreateHabit", {"input": {"name": "Hike", "color": "#aabbcc"}})
    habit_id = habit["habit"]["id"]
    await mutate(api, token, "ArchiveHabit", {"id": habit_id, "archived": True})
    before, cursor = await pull_all(api, token)
    assert by_id(before)[task["task"]["id"]]["fields"]["dueAt"] == "2026-11-21T08:30:00Z"

    echoed = [change(item["id"], item["fields"], version=item["version"]) for item in before]
    payload = await push(api, token, echoed)
    assert applied(payload) == {item["id"]: item["version"] + 1 for item in before}
    after, _ = await pull_all(api, token, cursor)
    assert {i["id"]: i["fields"] for i in after} == {i["id"]: i["fields"] for i in before}
    assert by_id(after)[note["note"]["id"]]["fields"]["tags"] == ["t"]
    assert by_id(after)[habit_id]["fields"]["archived"] is True


async def test_pushed_changes_appear_in_queries(api: Api) -> None:
    token, _ = await sign_up(api, "queries@example.com")
    note, task, habit = mint("note"), mint("task"), mint("habit")
    payload = await push(
        api,
        token,
        [
            change(note, {"title": " Pushed note ", "content": "# Hi", "tags": ["Sync"]}),
            change(
                task,
                {"title": "Pushed task", "dueAt": "2026-11-21T09:30:00+01:00", "status": "DONE"},
            ),
            change(habit, {"name": "Pushed habit", "frequency": "WEEKLY", "targetPerWeek": 3}),
        ],
    )
    assert applied(payload) == {note: 1, task: 1, habit: 1}

    notes_page = (await api.op("Notes", {}, token))["data"]["notes"]
    (listed_note,) = [edge["node"] for edge in notes_page["edges"]]
    assert (listed_note["id"], listed_note["title"], listed_note["tags"]) == (
        note,
        "Pushed note",
        ["sync"],
    )
    tasks_page = (await api.op("Tasks", {}, token))["data"]["tasks"]
    (listed_task,) = [edge["node"] for edge in tasks_page["edges"]]
    assert (listed_task["id"], listed_task["status"], listed_task["dueAt"]) == (
        task,
        "DONE",
        "2026-11-21T08:30:00Z",
    )
    assert listed_task["completedAt"] is not None
    (listed_habit,) = (await api.op("Habits", WEEK, token))["data"]["habits"]
    assert (listed_habit["id"], listed_habit["frequency"], listed_habit["targetPerWeek"]) == (
        habit,
        "WEEKLY",
        3,
    )
    for record_id, typename in ((note, "Note"), (task, "Task"), (habit, "Habit")):
        node = (await api.op("Node", {"id": record_id}, token))["data"]["node"]
        assert (node["id"], node["__typename"]) == (record_id, typename)

    edit = await push(api, token, [change(note, {"pinned": True}, version=1)], mutation_id=2)
    assert applied(edit) == {note: 2}
    fetched = (await api.op("Note", {"id": note}, token))["data"]["note"]
    assert (fetched["pinned"], fetched["version"], fetched["title"]) == (True, 2, "Pushed note")


# --- users ---------------------------------------------------------------------------------


async def test_sync_is_per_user(api: Api) -> None:
    owner, _ = await sign_up(api, "owner@example.com")
    other, _ = await sign_up(api, "other@example.com")
    note, task = mint("note"), mint("task")
    await push(api, owner, [change(note, {"title": "Mine"}), change(task, {"title": "Mine"})])
    await api.op("DeleteTask", {"id": task}, owner)
    assert (await pull(api, other))["changes"] == []

    attempts = [
        [change(note, {"title": "Yours?"}, version=1)],
        [change(note, {"title": "Yours?"})],
        [change(note, version=1, deleted=True)],
        [change(task, {"title": "Tombstone's?"}, version=2)],
    ]
    for mutation_id, changes in enumerate(attempts):
        mine = change(mint("note"), {"title": "Other's own"})
        payload = await push_raw(api, other, [mine, *changes], mutation_id=mutation_id)
        assert error_fields(payload) == [(["input", "changes", "1", "id"], "CONFLICT")]
        assert payload["applied"] == []
    assert (await pull(api, other))["changes"] == []
    assert (await api.op("Notes", {}, other))["data"]["notes"]["totalCount"] == 0
    assert (await api.op("Node", {"id": note}, other))["data"]["node"] is None
    changes, _ = await pull_all(api, owner)
    assert [(c["id"], c["version"], c["deleted"]) for c in changes] == [
        (note, 1, False),
        (task, 2, True),
    ]
    assert changes[0]["fields"]["title"] == "Mine"


# --- cost ----------------------------------------------------------------------------------


async def test_a_pull_runs_a_constant_number_of_statements(
    api: Api, services: Services, statements: StatementCounter
) -> None:
    async def pull_statements(count: int) -> int:
        token, user_id = await sign_up(api, f"cost-{count}@example.com")
        third = count // 3
        await insert(
            services, user_id, Collection.NOTES, [{"title": f"N{i}"} for i in range(third)]
        )
        await insert(
            services, user_id, Collection.TASKS, [{"title": f"T{i}"} for i in range(third)]
        )
        await insert(
            services,
            user_id,
            Collection.HABITS,
            [{"name": f"Habit {i}"} for i in range(count - 2 * third)],
        )
        statements.count = 0
        page = await pull(api, token)
        assert len(page["changes"]) == count
        return statements.count

    small, large = await pull_statements(10), await pull_statements(300)
    # The principal, the changes, one per collection and the notes' images.
    assert small == large == 6, (small, large)


async def test_a_pull_repeating_a_collection_thousands_of_times_is_one_collection(
    api: Api,
) -> None:
    token, _ = await sign_up(api, "repeats@example.com")
    payload = await push_raw(api, token, [change(mint("note"), {"title": "n"})])
    assert payload["userErrors"] == []
    assert len((await pull(api, token, collections=["NOTES"] * 40_000))["changes"]) == 1


async def test_a_pushed_datetime_outside_the_calendar_in_utc_is_invalid(api: Api) -> None:
    token, _ = await sign_up(api, "calendar@example.com")
    late = {"title": "Far", "dueAt": "0001-01-01T00:00:00+01:00"}
    payload = await push_raw(api, token, [change(mint("task"), late)])
    assert error_fields(payload) == [(["input", "changes", "0", "fields", "dueAt"], "INVALID")]
    assert (await pull(api, token))["changes"] == []
