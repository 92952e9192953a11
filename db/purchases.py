"""Purchases, their line items, and the sums behind spending summaries."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, cast

from sqlalchemy import (
    Computed,
    ForeignKey,
    Index,
    Numeric,
    Select,
    String,
    Text,
    bindparam,
    delete,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Mapped, mapped_column

from db.base import Base, core_rows, created_at, uuid_pk
from db.pagination import Page, paginate_rows
from db.search import CONFIG, matches, prefix_query

Money = Numeric(20, 4)


class Purchase(Base):
    __tablename__ = "purchases"
    __table_args__ = (
        Index("ix_purchases_user_purchased", "user_id", "purchased_at", "id"),
        Index("ix_purchases_user_created", "user_id", "created_at", "id"),
        Index("ix_purchases_user_amount", "user_id", "amount", "id"),
        Index("ix_purchases_user_merchant", "user_id", "merchant", "id"),
        Index("ix_purchases_user_category", "user_id", "category"),
        Index("ix_purchases_search", "search_vector", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    receipt_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("receipts.id", ondelete="SET NULL"), unique=True
    )
    merchant: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    category: Mapped[str | None] = mapped_column(String(60))
    purchased_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)
    items_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    search_vector: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed(
            f"to_tsvector('{CONFIG}', merchant || ' ' || coalesce(note, '') || ' ' || items_text)",
            persisted=True,
        ),
        deferred=True,
    )
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class PurchaseItem(Base):
    __tablename__ = "purchase_items"

    id: Mapped[uuid.UUID] = uuid_pk()
    purchase_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("purchases.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal | None] = mapped_column(Money)
    unit_price: Mapped[Decimal | None] = mapped_column(Money)
    amount: Mapped[Decimal] = mapped_column(Money)


@dataclass(frozen=True)
class PurchaseFilter:
    purchased_from: datetime | None = None
    purchased_before: datetime | None = None
    category: str | None = None
    merchant: str | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    search: str | None = None


SORT_KEYS: dict[str, InstrumentedAttribute[Any]] = {
    "PURCHASED_AT": Purchase.purchased_at,
    "AMOUNT": Purchase.amount,
    "MERCHANT": Purchase.merchant,
    "CREATED_AT": Purchase.created_at,
}


async def add(session: AsyncSession, purchase: Purchase, items: Sequence[PurchaseItem]) -> Purchase:
    purchase.items_text = " ".join(item.description for item in items)
    session.add(purchase)
    await session.flush()
    for position, item in enumerate(items):
        item.purchase_id = purchase.id
        item.position = position
        session.add(item)
    await session.flush()
    await session.refresh(purchase)
    return purchase


async def owned(
    session: AsyncSession, user_id: uuid.UUID, purchase_id: uuid.UUID, *, lock: bool = False
) -> Purchase | None:
    statement = select(Purchase).where(Purchase.id == purchase_id, Purchase.user_id == user_id)
    return await session.scalar(statement.with_for_update() if lock else statement)


async def owned_many(
    session: AsyncSession, user_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Purchase]:
    rows = await session.scalars(
        select(Purchase).where(Purchase.id.in_(ids), Purchase.user_id == user_id)
    )
    return {row.id: row for row in rows}


async def by_receipts(
    session: AsyncSession, receipt_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Purchase]:
    rows = await session.scalars(select(Purchase).where(Purchase.receipt_id.in_(receipt_ids)))
    return {row.receipt_id: row for row in rows if row.receipt_id is not None}


class ItemLine(Protocol):
    """A line item: an ORM object, a plain row as lists read it (a page of 50 purchases
    reads about 150 of them), or a line OCR read."""

    @property
    def description(self) -> str: ...
    @property
    def quantity(self) -> Decimal | None: ...
    @property
    def unit_price(self) -> Decimal | None: ...
    @property
    def amount(self) -> Decimal: ...


_ITEMS_OF = (
    select(
        PurchaseItem.purchase_id,
        PurchaseItem.description,
        PurchaseItem.quantity,
        PurchaseItem.unit_price,
        PurchaseItem.amount,
    )
    .where(PurchaseItem.purchase_id.in_(bindparam("purchase_ids", expanding=True)))
    .order_by(PurchaseItem.purchase_id, PurchaseItem.position)
)
"""Built once, as every page of purchases runs it."""


async def items_of(
    session: AsyncSession, purchase_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[ItemLine]]:
    rows = await core_rows(session, _ITEMS_OF, {"purchase_ids": list(purchase_ids)})
    grouped: dict[uuid.UUID, list[ItemLine]] = defaultdict(list)
    for row in rows:
        grouped[row.purchase_id].append(row)
    return grouped


async def save(session: AsyncSession, purchase: Purchase, **values: Any) -> Purchase:
    for name, value in values.items():
        setattr(purchase, name, value)
    purchase.version += 1
    await session.flush()
    await session.refresh(purchase)
    return purchase


async def remove(session: AsyncSession, purchase: Purchase) -> None:
    await session.execute(delete(Purchase).where(Purchase.id == purchase.id))


def _filtered(user_id: uuid.UUID, where: PurchaseFilter) -> Select[Purchase]:
    statement = select(Purchase).where(Purchase.user_id == user_id)
    if where.purchased_from is not None:
        statement = statement.where(Purchase.purchased_at >= where.purchased_from)
    if where.purchased_before is not None:
        statement = statement.where(Purchase.purchased_at < where.purchased_before)
    if where.category is not None:
        statement = statement.where(Purchase.category == where.category)
    if where.merchant is not None:
        statement = statement.where(func.lower(Purchase.merchant) == where.merchant.lower())
    if where.min_amount is not None:
        statement = statement.where(Purchase.amount >= where.min_amount)
    if where.max_amount is not None:
        statement = statement.where(Purchase.amount <= where.max_amount)
    if where.search and (query := prefix_query(where.search)):
        statement = statement.where(matches(Purchase.search_vector, query))
    return statement


class PurchaseRow(Protocol):
    """A purchase as the API shows it: an ORM object, or a plain row of a list."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def receipt_id(self) -> uuid.UUID | None: ...
    @property
    def merchant(self) -> str: ...
    @property
    def amount(self) -> Decimal: ...
    @property
    def currency(self) -> str: ...
    @property
    def category(self) -> str | None: ...
    @property
    def purchased_at(self) -> datetime: ...
    @property
    def note(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


# The columns of a purchase the API shows, for lists that read plain rows.
LISTED = (
    Purchase.id,
    Purchase.receipt_id,
    Purchase.merchant,
    Purchase.amount,
    Purchase.currency,
    Purchase.category,
    Purchase.purchased_at,
    Purchase.note,
    Purchase.created_at,
    Purchase.updated_at,
)


async def page(
    session: AsyncSession,
    user_id: uuid.UUID,
    where: PurchaseFilter,
    *,
    order_by: str,
    descending: bool,
    first: int,
    after: str | None,
) -> Page[PurchaseRow]:
    found = await paginate_rows(
        session,
        _filtered(user_id, where).with_only_columns(*LISTED),
        (SORT_KEYS[order_by], Purchase.id),
        first=first,
        after=after,
        descending=descending,
    )
    # Rows of the LISTED columns, read by name as the ORM objects would be.
    return cast("Page[PurchaseRow]", found)


@dataclass(frozen=True)
class Bucket:
    key: str | None
    total: Decimal
    count: int


def _spending(user_id: uuid.UUID, currency: str, start: datetime, end: datetime) -> list[Any]:
    return [
        Purchase.user_id == user_id,
        Purchase.currency == currency,
        Purchase.purchased_at >= start,
        Purchase.purchased_at < end,
    ]


async def spending_by(
    session: AsyncSession,
    user_id: uuid.UUID,
    currency: str,
    start: datetime,
    end: datetime,
    *,
    group: str | None,
    timezone: str = "UTC",
    limit: int | None = None,
) -> list[Bucket]:
    """Sums of one currency's purchases in [start, end): overall, or by category, month
    (in ``timezone``) or merchant, largest first for merchants."""
    key: Any
    if group is None:
        key = None
    elif group == "category":
        key = Purchase.category
    elif group == "month":
        key = func.to_char(func.timezone(timezone, Purchase.purchased_at), "YYYY-MM")
    elif group == "merchant":
        key = Purchase.merchant
    else:
        raise ValueError(group)
    total = func.coalesce(func.sum(Purchase.amount), 0)
    columns: list[Any] = [total, func.count()] if key is None else [key, total, func.count()]
    statement = select(*columns).where(*_spending(user_id, currency, start, end))
    if key is not None:
        statement = statement.group_by(key)
        statement = (
            statement.order_by(total.desc(), key)
            if group == "merchant"
            else statement.order_by(key)
        )
    if limit is not None:
        statement = statement.limit(limit)
    rows = (await session.execute(statement)).all()
    if key is None:
        return [Bucket(None, Decimal(rows[0][0]), rows[0][1])]
    return [Bucket(row[0], Decimal(row[1]), row[2]) for row in rows]


@dataclass(frozen=True)
class CurrencyBucket:
    key: str
    currency: str
    total: Decimal
    count: int


_BY_CURRENCY = (
    select(Purchase.currency, func.sum(Purchase.amount), func.count())
    .where(
        Purchase.user_id == bindparam("user_id"),
        Purchase.purchased_at >= bindparam("start"),
        Purchase.purchased_at < bindparam("end"),
    )
    .group_by(Purchase.currency)
    .order_by(Purchase.currency)
)


async def spending_by_currency(
    session: AsyncSession, user_id: uuid.UUID, start: datetime, end: datetime
) -> list[Bucket]:
    """Sums of the purchases in [start, end), one per currency (never converted)."""
    rows = await core_rows(session, _BY_CURRENCY, {"user_id": user_id, "start": start, "end": end})
    return [Bucket(row[0], Decimal(row[1]), row[2]) for row in rows]


_CATEGORIES = (
    select(Purchase.category, Purchase.currency, func.sum(Purchase.amount), func.count())
    .where(Purchase.user_id == bindparam("user_id"), Purchase.category.is_not(None))
    .group_by(Purchase.category, Purchase.currency)
    .order_by(Purchase.category, Purchase.currency)
)


async def categories(session: AsyncSession, user_id: uuid.UUID) -> list[CurrencyBucket]:
    """Every category the user's purchases use, one per category and currency."""
    rows = await core_rows(session, _CATEGORIES, {"user_id": user_id})
    return [CurrencyBucket(row[0], row[1], Decimal(row[2]), row[3]) for row in rows]


async def replace_items(
    session: AsyncSession, purchase: Purchase, items: Sequence[PurchaseItem]
) -> None:
    """The purchase's line items become ``items``, in their order."""
    await session.execute(delete(PurchaseItem).where(PurchaseItem.purchase_id == purchase.id))
    for position, item in enumerate(items):
        item.purchase_id = purchase.id
        item.position = position
        session.add(item)
    purchase.items_text = " ".join(item.description for item in items)
    await session.flush()
