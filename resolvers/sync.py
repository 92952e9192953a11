"""Offline sync of notes, tasks and habits: pull every change after a cursor, push a
batch of local changes atomically, once per (clientId, mutationId), with conflicts
reported instead of overwriting newer server versions."""

from __future__ import annotations

import base64
import binascii
import enum
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

from db import habits as habit_rows
from db import notes as note_rows
from db import sync
from db import tasks as task_rows
from db.sync import Collection
from resolvers import habits, ids, notes, records, tasks
from resolvers.errors import BadUserInput, ErrorCode, Problems, UserErrors

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from resolvers.context import Context
    from schema.sync import SyncPushInput

PULL_LIMIT = 500
PUSH_LIMIT = 500
START = (0, Collection.NOTES.value, uuid.UUID(int=0))


@dataclass(frozen=True)
class Domain:
    """How sync reads and writes one collection, with the same rules as its mutations."""

    kind: str
    clean: Callable[..., dict[str, Any]]
    create_row: Callable[[AsyncSession, uuid.UUID, uuid.UUID, dict[str, Any]], Awaitable[Any]]
    update_row: Callable[[AsyncSession, Any, dict[str, Any]], Awaitable[Any]]
    delete_row: Callable[[AsyncSession, Any], Awaitable[Any]]
    owned: Callable[..., Awaitable[Any]]
    owned_many: Callable[
        [AsyncSession, uuid.UUID, Sequence[uuid.UUID]], Awaitable[Mapping[uuid.UUID, Any]]
    ]
    fields_of: Callable[[Any], dict[str, Any]]


DOMAINS = {
    Collection.NOTES: Domain(
        "note",
        notes.clean,
        notes.create_row,
        notes.update_row,
        notes.delete_row,
        note_rows.owned,
        note_rows.owned_many,
        notes.fields_of,
    ),
    Collection.TASKS: Domain(
        "task",
        tasks.clean,
        tasks.create_row,
        tasks.update_row,
        tasks.delete_row,
        task_rows.owned,
        task_rows.owned_many,
        tasks.fields_of,
    ),
    Collection.HABITS: Domain(
        "habit",
        habits.clean,
        habits.create_row,
        habits.update_row,
        habits.delete_row,
        habit_rows.owned,
        habit_rows.owned_many,
        habits.fields_of,
    ),
}


@dataclass(frozen=True)
class PulledChange:
    collection: Collection
    id: str
    version: int
    deleted: bool
    updated_at: datetime
    fields: dict[str, Any] | None


@dataclass(frozen=True)
class Pulled:
    cursor: str
    has_more: bool
    changes: list[PulledChange]


class ConflictReason(enum.StrEnum):
    STALE = "STALE"  # the server has a newer version
    DELETED = "DELETED"  # the record was deleted on the server


@dataclass(frozen=True)
class Applied:
    collection: Collection
    id: str
    version: int

    def to_json(self) -> dict[str, Any]:
        return {"collection": self.collection.value, "id": self.id, "version": self.version}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(Collection(data["collection"]), data["id"], data["version"])


@dataclass(frozen=True)
class Conflict:
    collection: Collection
    id: str
    reason: ConflictReason
    server_version: int | None = None
    server_fields: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "collection": self.collection.value,
            "id": self.id,
            "serverVersion": self.server_version,
            "serverFields": self.server_fields,
            "reason": self.reason.value,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            Collection(data["collection"]),
            data["id"],
            ConflictReason(data["reason"]),
            data["serverVersion"],
            data["serverFields"],
        )


@dataclass(frozen=True)
class PushResult:
    """The answer to a push, stored as JSON for its retries. The JSON keeps the API's
    camelCase names, as answers stored by earlier releases have them."""

    cursor: str
    applied: list[Applied]
    conflicts: list[Conflict]

    def to_json(self) -> dict[str, Any]:
        return {
            "cursor": self.cursor,
            "applied": [item.to_json() for item in self.applied],
            "conflicts": [item.to_json() for item in self.conflicts],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            data["cursor"],
            [Applied.from_json(item) for item in data["applied"]],
            [Conflict.from_json(item) for item in data["conflicts"]],
        )


def encode_cursor(position: tuple[int, str, uuid.UUID]) -> str:
    raw = json.dumps([position[0], position[1], str(position[2])]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[int, str, uuid.UUID]:
    if not cursor:
        return START
    try:
        txid, collection, record_id = json.loads(
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        )
        if not isinstance(txid, int) or not 0 <= txid < 2**63 or not isinstance(record_id, str):
            raise ValueError(cursor)
        return txid, Collection(collection).value, uuid.UUID(record_id)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as error:
        raise BadUserInput("'since' is not a cursor of syncPull.") from error


async def pull(ctx: Context, since: str | None, collections: Sequence[str] | None) -> Pulled:
    """Changes after ``since``, oldest first; one snapshot, a fixed number of statements."""
    principal = await ctx.principal()
    position = decode_cursor(since)
    wanted = list(dict.fromkeys(map(Collection, collections))) if collections else list(Collection)
    async with ctx.sessionmaker.begin("REPEATABLE READ") as session:
        found = await sync.changes_after(
            session, principal.user_id, position, wanted, PULL_LIMIT + 1
        )
        has_more = len(found) > PULL_LIMIT
        found = found[:PULL_LIMIT]
        current: dict[Collection, Mapping[uuid.UUID, Any]] = {}
        for collection in {change.collection for change in found if not change.deleted}:
            live = [c.record_id for c in found if c.collection is collection and not c.deleted]
            current[collection] = await DOMAINS[collection].owned_many(
                session, principal.user_id, live
            )
    changes = []
    for change in found:
        domain = DOMAINS[change.collection]
        row = None if change.deleted else current[change.collection].get(change.record_id)
        changes.append(
            PulledChange(
                collection=change.collection,
                id=ids.encode(domain.kind, change.record_id),
                version=change.version,
                deleted=change.deleted or row is None,
                updated_at=change.changed_at,
                fields=domain.fields_of(row) if row is not None else None,
            )
        )
    last = found[-1] if found else None
    cursor = encode_cursor((last.txid, last.collection.value, last.record_id)) if last else None
    return Pulled(cursor or encode_cursor(position), has_more, changes)


async def push(ctx: Context, data: SyncPushInput) -> PushResult:
    """Applies the batch in one transaction and remembers the answer for retries."""
    principal = await ctx.principal()
    client_id = data.client_id.strip()
    problems = Problems()
    if not 1 <= len(client_id) <= 100:
        problems.add(("input", "clientId"), "Use 1 to 100 characters.")
    if data.mutation_id < 0:
        problems.add(("input", "mutationId"), "Use a number from 0 up.")
    if len(data.changes) > PUSH_LIMIT:
        problems.add(("input", "changes"), f"Push at most {PUSH_LIMIT} changes at a time.")
    problems.raise_if_any()
    cursor = (
        encode_cursor(decode_cursor(data.last_pulled_at))
        if data.last_pulled_at
        else encode_cursor(START)
    )
    object_keys: list[str] = []
    async with ctx.sessionmaker.begin() as session:
        fresh, stored = await sync.claim_push(
            session, principal.user_id, client_id, data.mutation_id
        )
        if not fresh and stored is not None:
            return PushResult.from_json(stored)
        applied: list[Applied] = []
        conflicts: list[Conflict] = []
        for index, change in enumerate(data.changes):
            path = ("input", "changes", str(index))
            outcome = await _apply(session, principal.user_id, change, path, problems, object_keys)
            if isinstance(outcome, Applied):
                applied.append(outcome)
            elif isinstance(outcome, Conflict):
                conflicts.append(outcome)
        problems.raise_if_any()
        result = PushResult(cursor, applied, conflicts)
        await sync.save_push(
            session, principal.user_id, client_id, data.mutation_id, result.to_json()
        )
    await ctx.services.jobs.delete_objects(object_keys)
    return result


async def _apply(
    session: AsyncSession,
    user_id: uuid.UUID,
    change: Any,
    path: records.Path,
    problems: Problems,
    object_keys: list[str],
) -> Applied | Conflict | None:
    """One change; None when it has problems. A deleted record's objects in storage are
    added to ``object_keys``, to be deleted once the transaction commits."""
    collection = Collection(change.collection.value)
    domain = DOMAINS[collection]
    record_id = ids.decode_as(domain.kind, change.id)
    if record_id is None:
        problems.add((*path, "id"), f"Use an ID like '{domain.kind}_<uuid>'.")
        return None
    owner = await sync.owner_of(session, collection, record_id)
    if owner is not None and owner != user_id:
        problems.add((*path, "id"), "This ID belongs to another record.", ErrorCode.CONFLICT)
        return None
    fields = change.fields if change.fields is not None else {}
    if not isinstance(fields, dict):
        problems.add((*path, "fields"), "Send the record's fields as an object.")
        return None
    row = await domain.owned(session, user_id, record_id, lock=True)
    if row is None and owner is not None:
        if change.deleted:
            return Applied(collection, change.id, 0)
        return Conflict(collection, change.id, ConflictReason.DELETED)
    if row is not None and (change.version is None or row.version > change.version):
        return Conflict(
            collection, change.id, ConflictReason.STALE, row.version, domain.fields_of(row)
        )
    try:
        if row is None:
            if change.deleted:
                return Applied(collection, change.id, 0)
            cleaned = domain.clean(fields, problems, (*path, "fields"), creating=True)
            if problems.items:
                return None
            row = await domain.create_row(session, user_id, record_id, cleaned)
            return Applied(collection, change.id, row.version)
        if change.deleted:
            object_keys.extend(await domain.delete_row(session, row) or [])
            return Applied(collection, change.id, row.version + 1)
        cleaned = domain.clean(fields, problems, (*path, "fields"), creating=False)
        if problems.items:
            return None
        row = await domain.update_row(session, row, cleaned)
        return Applied(collection, change.id, row.version)
    except UserErrors as errors:
        for problem in errors.problems:
            field = problem.field[1:] if problem.field and problem.field[0] == "input" else ()
            problems.add((*path, "fields", *field), problem.message, problem.code)
        return None
