"""Keyset (seek) pagination: cursors hold the sort key of the last row, not an offset,
so they stay valid while rows are inserted or deleted."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Row, Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

T = TypeVar("T")


def _decimal(text: str) -> Decimal:
    """A numeric key: finite, and of a size PostgreSQL's numeric (and asyncpg) can take."""
    number = Decimal(text)
    exponent = number.as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -1000 or number.adjusted() > 1000:
        raise ValueError(text)
    return number


_DECODERS: dict[type, Any] = {
    datetime: datetime.fromisoformat,
    date: date.fromisoformat,
    uuid.UUID: uuid.UUID,
    Decimal: _decimal,
    int: int,
    float: float,
    str: str,
}


class InvalidCursor(ValueError):
    """The client sent a cursor this server did not issue for this list."""


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: list[T]
    cursors: list[str]
    has_next_page: bool
    total_count: int

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None


def encode_cursor(values: Sequence[Any]) -> str:
    plain = [
        v.isoformat() if isinstance(v, date) else repr(v) if isinstance(v, float) else str(v)
        for v in values
    ]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode_cursor(
    cursor: str, keys: Sequence[ColumnElement[Any] | InstrumentedAttribute[Any]]
) -> list[Any]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != len(keys):
            raise InvalidCursor(cursor)
        if not all(isinstance(value, str) for value in raw):  # as encode_cursor writes them
            raise InvalidCursor(cursor)
        return [
            _DECODERS[key.type.python_type](value) for key, value in zip(keys, raw, strict=True)
        ]
    except (
        ValueError,
        TypeError,
        KeyError,
        ArithmeticError,  # decimal.InvalidOperation
        binascii.Error,
        UnicodeDecodeError,
    ) as error:
        raise InvalidCursor(cursor) from error


async def paginate(
    session: AsyncSession,
    statement: Select[T],
    keys: Sequence[ColumnElement[Any] | InstrumentedAttribute[Any]],
    *,
    first: int,
    after: str | None,
    descending: bool = False,
) -> Page[T]:
    """A page of ``statement`` (one entity) ordered by ``keys``, columns or expressions of
    it whose last one is unique, and the count of all its rows: in one statement (the
    count rides along as a scalar subquery), but for an empty page, which counts apart."""
    seek, counted = _seek(statement, keys, first, after, descending)
    found = (await session.execute(seek)).all()
    return await _page(session, found, counted, first, [row[0] for row in found])


async def paginate_rows(
    session: AsyncSession,
    statement: Select[*tuple[Any, ...]],
    keys: Sequence[ColumnElement[Any] | InstrumentedAttribute[Any]],
    *,
    first: int,
    after: str | None,
    descending: bool = False,
) -> Page[Row[*tuple[Any, ...]]]:
    """``paginate`` for a statement of columns: the page's rows are plain rows (by name,
    as the ORM objects would read), with no ORM layer on the way (a list's hot path)."""
    seek, counted = _seek(statement, keys, first, after, descending)
    found = (await (await session.connection()).execute(seek)).all()
    return await _page(session, found, counted, first, list(found))


def _seek(
    statement: Select[Any],
    keys: Sequence[ColumnElement[Any] | InstrumentedAttribute[Any]],
    first: int,
    after: str | None,
    descending: bool,
) -> tuple[Select[Any], Select[Any]]:
    counted = select(func.count()).select_from(statement.order_by(None).subquery())
    seek = statement
    if after is not None:
        values = decode_cursor(after, keys)
        position = tuple_(*keys)
        seek = seek.where(position < tuple_(*values) if descending else position > tuple_(*values))
    ordering = [key.desc() if descending else key.asc() for key in keys]
    extra = [counted.scalar_subquery().label(_TOTAL)]
    extra += [key.label(f"{_KEY}{index}") for index, key in enumerate(keys)]
    return seek.add_columns(*extra).order_by(*ordering).limit(first + 1), counted


_TOTAL = "page_total"
_KEY = "page_key_"


async def _page(
    session: AsyncSession,
    found: Sequence[Row[Any]],
    counted: Select[Any],
    first: int,
    rows: list[T],
) -> Page[T]:
    total = found[0]._mapping[_TOTAL] if found else await session.scalar(counted)
    keys = len(found[0]) - list(found[0]._fields).index(_TOTAL) - 1 if found else 0
    return Page(
        rows=rows[:first],
        cursors=[encode_cursor(row[-keys:]) for row in found[:first]],
        has_next_page=len(found) > first,
        total_count=total or 0,
    )
