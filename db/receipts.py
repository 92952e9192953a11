"""Receipts and the OCR results cache (one read per image and engine, shared by all users)."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Enum,
    Float,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    and_,
    bindparam,
    delete,
    exists,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, core_rows, created_at, uuid_pk
from db.pagination import Page, paginate_rows


class ReceiptStatus(enum.StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    PROCESSED = "PROCESSED"
    FAILED = "FAILED"


class Receipt(Base):
    __tablename__ = "receipts"
    __table_args__ = (
        Index("ix_receipts_user_created", "user_id", "created_at", "id"),
        Index("ix_receipts_sha256", "sha256"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    status: Mapped[ReceiptStatus] = mapped_column(
        Enum(ReceiptStatus, name="receipt_status"), default=ReceiptStatus.PENDING
    )
    object_key: Mapped[str] = mapped_column(String(300), unique=True)
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    ocr_engine: Mapped[str | None] = mapped_column(String(30))
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = created_at()
    processed_at: Mapped[datetime | None]


class OcrResult(Base):
    """What an engine read from an image, keyed by the image's SHA-256 and the engine."""

    __tablename__ = "ocr_results"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    engine: Mapped[str] = mapped_column(String(30), primary_key=True)
    merchant_name: Mapped[str | None] = mapped_column(String(300))
    total: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    currency: Mapped[str | None] = mapped_column(String(3))
    purchased_on: Mapped[date | None]
    """The printed date; read day first when it allows both orders."""
    purchased_on_month_first: Mapped[date | None]
    """The printed date read month first, when it allows both orders ("03/04/2019")."""
    address: Mapped[str | None] = mapped_column(String(500))
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    confidence: Mapped[float] = mapped_column(Float)
    raw_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at()


async def add(session: AsyncSession, receipt: Receipt) -> Receipt:
    session.add(receipt)
    await session.flush()
    await session.refresh(receipt)
    return receipt


async def owned(
    session: AsyncSession, user_id: uuid.UUID, receipt_id: uuid.UUID, *, lock: bool = False
) -> Receipt | None:
    statement = select(Receipt).where(Receipt.id == receipt_id, Receipt.user_id == user_id)
    return await session.scalar(statement.with_for_update() if lock else statement)


async def owned_many(
    session: AsyncSession, user_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Receipt]:
    rows = await session.scalars(
        select(Receipt).where(Receipt.id.in_(ids), Receipt.user_id == user_id)
    )
    return {row.id: row for row in rows}


class ReceiptRow(Protocol):
    """A receipt as the API shows it: an ORM object, or a plain row of a list."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def status(self) -> ReceiptStatus: ...
    @property
    def object_key(self) -> str: ...
    @property
    def original_name(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def sha256(self) -> str: ...
    @property
    def ocr_engine(self) -> str | None: ...
    @property
    def failure_reason(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def processed_at(self) -> datetime | None: ...


_LISTED = (
    Receipt.id,
    Receipt.status,
    Receipt.object_key,
    Receipt.original_name,
    Receipt.content_type,
    Receipt.size,
    Receipt.sha256,
    Receipt.ocr_engine,
    Receipt.failure_reason,
    Receipt.created_at,
    Receipt.processed_at,
)


_BY_IDS = select(*_LISTED).where(Receipt.id.in_(bindparam("ids", expanding=True)))


async def get_many(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, ReceiptRow]:
    """Receipts by id whoever owns them: only for relations of rows already owner-checked
    (the receipts of a page of purchases: plain rows, by a statement built once)."""
    rows = await core_rows(session, _BY_IDS, {"ids": list(ids)})
    return {row.id: cast("ReceiptRow", row) for row in rows}


async def get(
    session: AsyncSession, receipt_id: uuid.UUID, *, lock: bool = False
) -> Receipt | None:
    return await session.get(Receipt, receipt_id, with_for_update=lock)


async def page(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    status: ReceiptStatus | None,
    created_from: datetime | None,
    created_before: datetime | None,
    first: int,
    after: str | None,
) -> Page[ReceiptRow]:
    statement = select(*_LISTED).where(Receipt.user_id == user_id)
    if status is not None:
        statement = statement.where(Receipt.status == status)
    if created_from is not None:
        statement = statement.where(Receipt.created_at >= created_from)
    if created_before is not None:
        statement = statement.where(Receipt.created_at < created_before)
    found = await paginate_rows(
        session,
        statement,
        (Receipt.created_at, Receipt.id),
        first=first,
        after=after,
        descending=True,
    )
    # Rows of the _LISTED columns, read by name as the ORM objects would be.
    return cast("Page[ReceiptRow]", found)


async def save(session: AsyncSession, receipt: Receipt, **values: Any) -> Receipt:
    for name, value in values.items():
        setattr(receipt, name, value)
    await session.flush()
    return receipt


async def remove(session: AsyncSession, receipt: Receipt) -> None:
    await session.delete(receipt)
    await session.flush()


async def stale_pending(session: AsyncSession, older_than: datetime) -> list[uuid.UUID]:
    """Receipts still PENDING long after upload: their job was lost before it was queued."""
    rows = await session.scalars(
        select(Receipt.id)
        .where(Receipt.status == ReceiptStatus.PENDING, Receipt.created_at < older_than)
        .limit(500)
    )
    return list(rows)


async def get_ocr(session: AsyncSession, sha256: str, engine: str) -> OcrResult | None:
    return await session.get(OcrResult, (sha256, engine))


class OcrRow(Protocol):
    """What an engine read, as the API shows it: an ORM object, or a plain row."""

    @property
    def sha256(self) -> str: ...
    @property
    def engine(self) -> str: ...
    @property
    def merchant_name(self) -> str | None: ...
    @property
    def total(self) -> Decimal | None: ...
    @property
    def currency(self) -> str | None: ...
    @property
    def purchased_on(self) -> date | None: ...
    @property
    def purchased_on_month_first(self) -> date | None: ...
    @property
    def address(self) -> str | None: ...
    @property
    def items(self) -> list[dict[str, Any]]: ...
    @property
    def confidence(self) -> float: ...
    @property
    def raw_text(self) -> str: ...


_OCR_BY_KEYS = select(
    OcrResult.sha256,
    OcrResult.engine,
    OcrResult.merchant_name,
    OcrResult.total,
    OcrResult.currency,
    OcrResult.purchased_on,
    OcrResult.purchased_on_month_first,
    OcrResult.address,
    OcrResult.items,
    OcrResult.confidence,
    OcrResult.raw_text,
).where(tuple_(OcrResult.sha256, OcrResult.engine).in_(bindparam("keys", expanding=True)))


async def get_ocr_many(
    session: AsyncSession, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], OcrRow]:
    """Readings of a page of receipts: plain rows, by a statement built once."""
    rows = await core_rows(session, _OCR_BY_KEYS, {"keys": list(keys)})
    return {(row.sha256, row.engine): cast("OcrRow", row) for row in rows}


async def save_ocr(session: AsyncSession, values: dict[str, Any]) -> None:
    """Inserts or replaces what an engine read from an image."""
    statement = insert(OcrResult).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[OcrResult.sha256, OcrResult.engine],
            set_={
                name: statement.excluded[name]
                for name in values
                if name not in ("sha256", "engine")
            }
            | {"created_at": func.now()},
        )
    )


async def mark_processing(session: AsyncSession, receipt_id: uuid.UUID) -> None:
    await session.execute(
        update(Receipt)
        .where(Receipt.id == receipt_id)
        .values(status=ReceiptStatus.PROCESSING, attempts=Receipt.attempts + 1)
    )


def _in_status(status: ReceiptStatus, user_id: uuid.UUID | None) -> list[ColumnElement[bool]]:
    conditions = [Receipt.status == status]
    return conditions if user_id is None else [*conditions, Receipt.user_id == user_id]


async def count_in_status(
    session: AsyncSession, status: ReceiptStatus, *, user_id: uuid.UUID | None = None
) -> int:
    """How many receipts are in this status: all users', or one's."""
    statement = select(func.count()).select_from(Receipt).where(*_in_status(status, user_id))
    return int(await session.scalar(statement) or 0)


async def ids_in_status(
    session: AsyncSession,
    status: ReceiptStatus,
    *,
    user_id: uuid.UUID | None = None,
    after: uuid.UUID | None = None,
    limit: int = 100,
) -> list[uuid.UUID]:
    """A page of the ids of receipts in this status, in id order, past ``after``: a bulk
    pass moves on by id, so it meets a receipt that stays in the status once."""
    statement = select(Receipt.id).where(*_in_status(status, user_id))
    if after is not None:
        statement = statement.where(Receipt.id > after)
    return list(await session.scalars(statement.order_by(Receipt.id).limit(limit)))


class StoredFile(Protocol):
    """Where a row's file lives in storage."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def object_key(self) -> str: ...
    @property
    def content_type(self) -> str: ...


async def files_of(session: AsyncSession, user_id: uuid.UUID) -> list[StoredFile]:
    """The stored image of every receipt of the user, oldest first."""
    rows = await session.execute(
        select(Receipt.id, Receipt.object_key, Receipt.content_type)
        .where(Receipt.user_id == user_id)
        .order_by(Receipt.created_at, Receipt.id)
    )
    return cast("list[StoredFile]", list(rows))


async def remove_unshared_ocr(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Deletes what OCR read from the user's images unless another user's receipt has
    the same image; run before the user's receipts go. Returns how many readings went."""
    others = select(Receipt.id).where(
        and_(Receipt.sha256 == OcrResult.sha256, Receipt.user_id != user_id)
    )
    result = await session.execute(
        delete(OcrResult).where(
            OcrResult.sha256.in_(select(Receipt.sha256).where(Receipt.user_id == user_id)),
            ~exists(others),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
