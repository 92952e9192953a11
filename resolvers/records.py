"""What tasks, notes and habits share: client-minted IDs, versions, the sync log, and
checks of field values that arrive either from GraphQL inputs or from sync pushes (JSON,
camelCase, the same fields as the create inputs)."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from strawberry import UNSET

from db import events, sync
from db.events import EventKind
from db.sync import Collection
from resolvers import ids
from resolvers.dates import parse_instant
from resolvers.errors import ErrorCode, Problems, UserErrors
from resolvers.validation import clean_text, search_text

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from resolvers.context import Context

E = TypeVar("E", bound=Enum)
Path = tuple[str, ...]
MAX_TAGS = 20
MAX_TAG_LENGTH = 50
_CAMEL = re.compile(r"_([a-z])")


def camel(name: str) -> str:
    return _CAMEL.sub(lambda match: match.group(1).upper(), name)


def input_values(data: object) -> dict[str, Any]:
    """A GraphQL input as the camelCase mapping a sync push would send; unset fields left out."""
    return {
        camel(name): value.value if isinstance(value, Enum) else value
        for name, value in vars(data).items()
        if value is not UNSET
    }


Clean = Callable[..., dict[str, Any]]


def creation(kind: str, data: object, clean: Clean) -> tuple[uuid.UUID, dict[str, Any]]:
    """The ID (minted by the client or here) and checked values of a create input."""
    values = input_values(data)
    problems = Problems()
    record_id = new_id(kind, values.pop("id", None), problems, ("input", "id"))
    cleaned = clean(values, problems, ("input",), creating=True)
    problems.raise_if_any()
    return record_id, cleaned


def changes(data: object, clean: Clean) -> dict[str, Any]:
    """Checked values of the fields an update input sets."""
    problems = Problems()
    cleaned = clean(input_values(data), problems, ("input",), creating=False)
    problems.raise_if_any()
    return cleaned


async def ensure_new(
    session: AsyncSession, collection: Collection, record_id: uuid.UUID, noun: str
) -> None:
    """A minted ID must be unused, by anyone, now or before (deleted records keep theirs)."""
    if await sync.owner_of(session, collection, record_id) is not None:
        raise UserErrors.one(("input", "id"), f"A {noun} with this ID exists.", ErrorCode.CONFLICT)


async def changed(
    session: AsyncSession,
    collection: Collection,
    row: Any,
    kind: EventKind,
    *,
    deleted: bool = False,
) -> None:
    """Notes a change of a synced record for pulls and for live dashboards, in its
    transaction; a deletion leaves a tombstone one version after the record's last."""
    await sync.record(
        session,
        collection=collection,
        record_id=row.id,
        user_id=row.user_id,
        version=row.version + 1 if deleted else row.version,
        deleted=deleted,
    )
    await events.publish(session, row.user_id, kind, row.id)


Row = TypeVar("Row")
Owned = Callable[..., Awaitable[Row | None]]


async def locked(
    session: AsyncSession,
    user_id: uuid.UUID,
    global_id: str,
    kind: str,
    owned: Owned[Row],
    not_found: str,
) -> Row:
    """The user's record of this global ID, locked for the transaction, or NOT_FOUND."""
    record_id = ids.decode_as(kind, global_id)
    row = await owned(session, user_id, record_id, lock=True) if record_id else None
    if row is None:
        raise UserErrors.one(("id",), not_found, ErrorCode.NOT_FOUND)
    return row


async def read(ctx: Context, global_id: str, kind: str, owned: Owned[Row]) -> Row | None:
    """The user's record of this global ID; None for anyone else's."""
    principal = await ctx.principal()
    record_id = ids.decode_as(kind, global_id)
    if record_id is None:
        return None
    async with ctx.sessionmaker() as session:
        return await owned(session, principal.user_id, record_id)


def normal_tag(tag: str) -> str:
    return unicodedata.normalize("NFC", " ".join(tag.split()).lower())


def tag_filter(tag: str | None) -> str | None:
    cleaned = search_text(tag, "tag")
    return normal_tag(cleaned) if cleaned else None


def new_id(kind: str, given: str | None, problems: Problems, path: Path) -> uuid.UUID:
    """A client-minted ``<kind>_<uuid>`` (offline clients create records) or a fresh UUID."""
    if not given:
        return uuid.uuid4()
    prefix, _, raw = str(given).partition("_")
    try:
        if prefix != kind:
            raise ValueError(given)
        return uuid.UUID(raw)
    except ValueError:
        problems.add(path, f"Use an ID like '{kind}_<uuid>'.")
        return uuid.uuid4()


def text(
    values: Mapping[str, Any],
    name: str,
    problems: Problems,
    path: Path,
    *,
    limit: int,
    minimum: int = 0,
    nullable: bool = False,
    trim: bool = True,
) -> str | None:
    """A text field checked by :func:`resolvers.validation.clean_text`; a nullable one is
    None when blank."""
    value = values.get(name)
    if value is None:
        if nullable:
            return None
        value = ""
    if not isinstance(value, str):
        problems.add((*path, name), "Use text.")
        return None
    cleaned, problem = clean_text(value, max_length=limit, min_length=minimum, trim=trim)
    if problem:
        problems.add((*path, name), problem)
    if nullable and not cleaned:
        return None
    return cleaned


def choice(
    values: Mapping[str, Any], name: str, kind: type[E], problems: Problems, path: Path
) -> E | None:
    value = values.get(name)
    try:
        return kind(value)
    except ValueError:
        names = ", ".join(member.value for member in kind)
        problems.add((*path, name), f"Use one of {names}.")
        return None


def moment(values: Mapping[str, Any], name: str, problems: Problems, path: Path) -> datetime | None:
    value = values.get(name)
    if value is None or isinstance(value, datetime):
        if isinstance(value, datetime) and value.tzinfo is None:
            problems.add((*path, name), "Give the time with an offset.")
        return value
    try:
        return parse_instant(value)
    except ValueError:
        problems.add((*path, name), "Use an ISO 8601 date and time with an offset.")
        return None


def day(values: Mapping[str, Any], name: str, problems: Problems, path: Path) -> date | None:
    """A calendar day, ``YYYY-MM-DD``."""
    value = values.get(name)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        problems.add((*path, name), "Use a date like '2026-12-01'.")
        return None


def decimal(values: Mapping[str, Any], name: str, problems: Problems, path: Path) -> Decimal | None:
    """A number: a Decimal of a GraphQL input, or the string (or JSON number) of a push."""
    value = values.get(name)
    if value is None:
        return None
    try:
        if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
            raise InvalidOperation(value)
        number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
        if not number.is_finite():
            raise InvalidOperation(value)
    except InvalidOperation:
        problems.add((*path, name), "Use a number, like '12.30'.")
        return None
    return number


def flag(values: Mapping[str, Any], name: str, problems: Problems, path: Path) -> bool:
    value = values.get(name)
    if not isinstance(value, bool):
        problems.add((*path, name), "Use true or false.")
        return False
    return value


def whole(
    values: Mapping[str, Any], name: str, problems: Problems, path: Path, *, low: int, high: int
) -> int | None:
    value = values.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.add((*path, name), f"Use a whole number from {low} to {high}.")
        return None
    return value


def tags(values: Mapping[str, Any], name: str, problems: Problems, path: Path) -> list[str]:
    """Tags trimmed, lower-cased and without repeats, at most 20 of at most 50 characters."""
    value = values.get(name) or []
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        problems.add((*path, name), "Use a list of tags.")
        return []
    if len(value) > 10 * MAX_TAGS:  # refused unread: so long a list could only repeat tags
        problems.add((*path, name), f"Use at most {MAX_TAGS} tags.")
        return []
    cleaned: list[str] = []
    refused: set[str] = set()
    for tag in value:
        normal, problem = clean_text(normal_tag(tag), max_length=MAX_TAG_LENGTH)
        if problem:
            refused.add(problem)
        elif normal and normal not in cleaned:
            cleaned.append(normal)
    if len(cleaned) > MAX_TAGS:
        problems.add((*path, name), f"Use at most {MAX_TAGS} tags.")
    for problem in sorted(refused):
        problems.add((*path, name), problem)
    return cleaned


def unknown_fields(
    values: Mapping[str, Any], known: frozenset[str], problems: Problems, path: Path
) -> None:
    for name in values.keys() - known:
        problems.add((*path, name), "This field does not exist.")
