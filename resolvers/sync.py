"""Offline sync of notes, tasks, habits, projects, check-ins and purchases: pull every
change after a cursor, push a batch of local changes atomically, once per (clientId,
mutationId), with conflicts reported instead of overwriting newer server versions.

A push is applied in the client's order, except that a record is created before the
changes that refer to it (a subtask pushed before its parent, a check-in before its
habit): an offline client may have queued them in any order."""

from __future__ import annotations

import base64
import binascii
import enum
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any, Self

from db import habits as habit_rows
from db import notes as note_rows
from db import projects as project_rows
from db import purchases as purchase_rows
from db import sync
from db import tasks as task_rows
from db.sync import Collection
from resolvers import check_ins, habits, ids, notes, projects, purchases, records, tasks
from resolvers.errors import BadUserInput, ErrorCode, Problems, UserErrors

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from resolvers.context import Context
    from schema.sync import SyncChangeInput, SyncPushInput

PULL_LIMIT = 500
PUSH_LIMIT = 500
START = (0, Collection.NOTES.value, uuid.UUID(int=0))


@dataclass(frozen=True)
class Pusher:
    """Who pushes, with what the checks of their records need."""

    user_id: uuid.UUID
    currency: str
    today: date


Clean = Callable[..., dict[str, Any]]
FieldsOf = Callable[["AsyncSession", Sequence[Any]], Awaitable[dict[uuid.UUID, dict[str, Any]]]]


@dataclass(frozen=True)
class Domain:
    """How sync reads and writes one collection, with the same rules as its mutations.

    ``clean(values, problems, path, creating=, row=, pusher=)`` checks pushed fields;
    ``fields_of`` gives the pulled fields of rows, reading what they hold (a note's
    images, a purchase's items) in one statement; ``references`` names the fields that
    hold the IDs of other synced records."""

    kind: str
    clean: Clean
    create_row: Callable[[AsyncSession, uuid.UUID, uuid.UUID, dict[str, Any]], Awaitable[Any]]
    update_row: Callable[[AsyncSession, Any, dict[str, Any]], Awaitable[Any]]
    delete_row: Callable[[AsyncSession, Any], Awaitable[Any]]
    owned: Callable[..., Awaitable[Any]]
    owned_many: Callable[
        [AsyncSession, uuid.UUID, Sequence[uuid.UUID]], Awaitable[Mapping[uuid.UUID, Any]]
    ]
    fields_of: FieldsOf
    references: tuple[str, ...] = ()


def _given(clean: Clean, **context: Callable[[Any, Pusher], object]) -> Clean:
    """A collection's ``clean`` as sync calls it, given the stored row (None for a new
    record) and the pusher: ``context`` names what the collection's own ``clean`` takes
    besides the values, and how to get it from those two."""

    def checked(
        values: Mapping[str, Any],
        problems: Problems,
        path: records.Path,
        *,
        creating: bool,
        row: Any,
        pusher: Pusher,
    ) -> dict[str, Any]:
        extra = {name: get(row, pusher) for name, get in context.items()}
        return clean(values, problems, path, creating=creating, **extra)

    return checked


def _each(fields_of: Callable[[Any], dict[str, Any]]) -> FieldsOf:
    """A collection's ``fields_of`` that reads nothing beyond the row."""

    async def of(session: AsyncSession, rows: Sequence[Any]) -> dict[uuid.UUID, dict[str, Any]]:
        return {row.id: fields_of(row) for row in rows}

    return of


def _domain(
    rules: ModuleType,
    rows: ModuleType,
    *,
    clean: Clean | None = None,
    fields_of: FieldsOf | None = None,
    owned: Callable[..., Awaitable[Any]] | None = None,
    owned_many: Callable[..., Awaitable[Mapping[uuid.UUID, Any]]] | None = None,
    references: tuple[str, ...] = (),
) -> Domain:
    """A collection whose rules (``resolvers``) and rows (``db``) modules hold the usual
    functions; the arguments name those that differ."""
    return Domain(
        kind=rules.KIND,
        clean=clean or _given(rules.clean),
        create_row=rules.create_row,
        update_row=rules.update_row,
        delete_row=rules.delete_row,
        owned=owned or rows.owned,
        owned_many=owned_many or rows.owned_many,
        fields_of=fields_of or _each(rules.fields_of),
        references=references,
    )


DOMAINS = {
    Collection.NOTES: _domain(notes, note_rows, fields_of=notes.fields_of_many),
    Collection.TASKS: _domain(tasks, task_rows, references=("projectId", "parentId")),
    Collection.HABITS: _domain(habits, habit_rows),
    Collection.PROJECTS: _domain(projects, project_rows),
    Collection.CHECK_INS: _domain(
        check_ins,
        habit_rows,
        clean=_given(check_ins.clean, today=lambda row, pusher: pusher.today),
        owned=habit_rows.owned_check_in,
        owned_many=habit_rows.owned_check_ins,
        references=("habitId",),
    ),
    Collection.PURCHASES: _domain(
        purchases,
        purchase_rows,
        # Amounts are checked in the purchase's currency, or the user's for a new one.
        clean=_given(
            purchases.clean,
            currency=lambda row, pusher: row.currency if row is not None else pusher.currency,
        ),
        fields_of=purchases.fields_of_many,
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
        current: dict[Collection, Mapping[uuid.UUID, dict[str, Any]]] = {}
        for collection in sorted({change.collection for change in found if not change.deleted}):
            domain = DOMAINS[collection]
            live = [c.record_id for c in found if c.collection is collection and not c.deleted]
            rows = await domain.owned_many(session, principal.user_id, live)
            current[collection] = await domain.fields_of(session, list(rows.values()))
    changes = []
    for change in found:
        domain = DOMAINS[change.collection]
        fields = None if change.deleted else current[change.collection].get(change.record_id)
        changes.append(
            PulledChange(
                collection=change.collection,
                id=ids.encode(domain.kind, change.record_id),
                version=change.version,
                deleted=change.deleted or fields is None,
                updated_at=change.changed_at,
                fields=fields,
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
    pusher = Pusher(principal.user_id, principal.currency, ctx.today(principal.timezone))
    async with ctx.sessionmaker.begin() as session:
        fresh, stored = await sync.claim_push(
            session, principal.user_id, client_id, data.mutation_id
        )
        if not fresh and stored is not None:
            return PushResult.from_json(stored)
        outcomes: dict[int, Applied | Conflict | None] = {}
        for index in _in_dependency_order(data.changes):
            path = ("input", "changes", str(index))
            outcomes[index] = await _apply(
                session, pusher, data.changes[index], path, problems, object_keys
            )
        problems.raise_if_any()
        ordered = [outcomes[index] for index in range(len(data.changes))]
        applied = [outcome for outcome in ordered if isinstance(outcome, Applied)]
        conflicts = [outcome for outcome in ordered if isinstance(outcome, Conflict)]
        result = PushResult(cursor, applied, conflicts)
        await sync.save_push(
            session, principal.user_id, client_id, data.mutation_id, result.to_json()
        )
    await ctx.services.jobs.delete_objects(object_keys)
    return result


def _in_dependency_order(changes: Sequence[SyncChangeInput]) -> list[int]:
    """The changes' indexes in the client's order, except that a change creating or
    updating a record comes before the changes whose fields refer to it."""
    by_id = {str(change.id): index for index, change in enumerate(changes) if not change.deleted}
    order: list[int] = []
    placed: set[int] = set()
    visiting: set[int] = set()

    def place(index: int) -> None:
        if index in placed or index in visiting:  # a cycle is left to the checks to refuse
            return
        visiting.add(index)
        change = changes[index]
        fields: dict[str, Any] = change.fields if isinstance(change.fields, dict) else {}
        for name in DOMAINS[Collection(change.collection.value)].references:
            target = by_id.get(str(fields.get(name)))
            if target is not None and target != index:
                place(target)
        visiting.discard(index)
        placed.add(index)
        order.append(index)

    for index in range(len(changes)):
        place(index)
    return order


async def _apply(
    session: AsyncSession,
    pusher: Pusher,
    change: Any,
    path: records.Path,
    problems: Problems,
    object_keys: list[str],
) -> Applied | Conflict | None:
    """One change; None when it has problems. A deleted record's objects in storage are
    added to ``object_keys``, to be deleted once the transaction commits."""
    user_id = pusher.user_id
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
        server_fields = (await domain.fields_of(session, [row]))[row.id]
        return Conflict(collection, change.id, ConflictReason.STALE, row.version, server_fields)
    fields_path = (*path, "fields")
    known = len(problems.items)  # problems of earlier changes do not hold this one back
    try:
        if row is None:
            if change.deleted:
                return Applied(collection, change.id, 0)
            cleaned = domain.clean(
                fields, problems, fields_path, creating=True, row=None, pusher=pusher
            )
            if len(problems.items) > known:
                return None
            row = await domain.create_row(session, user_id, record_id, cleaned)
            if row.id != record_id:
                return await _merged(session, collection, change.id, record_id, user_id)
            return Applied(collection, change.id, row.version)
        if change.deleted:
            object_keys.extend(await domain.delete_row(session, row) or [])
            return Applied(collection, change.id, row.version + 1)
        cleaned = domain.clean(
            fields, problems, fields_path, creating=False, row=row, pusher=pusher
        )
        if len(problems.items) > known:
            return None
        row = await domain.update_row(session, row, cleaned)
        return Applied(collection, change.id, row.version)
    except UserErrors as errors:
        for problem in errors.problems:
            field = problem.field[1:] if problem.field and problem.field[0] == "input" else ()
            problems.add((*path, "fields", *field), problem.message, problem.code)
        return None


async def _merged(
    session: AsyncSession,
    collection: Collection,
    global_id: str,
    record_id: uuid.UUID,
    user_id: uuid.UUID,
) -> Applied:
    """A new record that the server added to the one it holds for the same key (a
    check-in for a habit and day another device checked in): the pushed ID is deleted,
    so the next pull drops it and brings the record that holds both."""
    await sync.record(
        session,
        collection=collection,
        record_id=record_id,
        user_id=user_id,
        version=1,
        deleted=True,
    )
    return Applied(collection, global_id, 1)
