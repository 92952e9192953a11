"""Purchases: manual or from a receipt's OCR, with line items, filters and summaries."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from db import purchases, receipts
from db.events import ActivityKind
from db.pagination import Page
from db.purchases import Bucket, CurrencyBucket, Purchase, PurchaseFilter, PurchaseItem, PurchaseRow
from db.receipts import ReceiptStatus
from db.sync import Collection
from resolvers import ids, records
from resolvers.dates import end_of, format_instant, noon_of, start_of
from resolvers.errors import BadUserInput, ErrorCode, Problems, UserErrors
from resolvers.money import MAX_AMOUNT, amount_problem, plain, quantize, stored
from resolvers.pagination import cursor_checked, page_size
from resolvers.receipts import ocr_currency, ocr_day, ocr_items
from resolvers.validation import is_currency, search_text

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from resolvers.context import Context
    from schema.purchases import (
        CreatePurchaseInput,
        PurchaseFilterInput,
        PurchaseOrder,
        UpdatePurchaseInput,
    )

KIND = "purchase"
FIELDS = frozenset(
    {"merchant", "amount", "currency", "category", "purchasedAt", "note", "receiptId", "items"}
)
ITEM_FIELDS = frozenset({"description", "quantity", "unitPrice", "amount"})
NOT_FOUND = "No such purchase."
NO_RECEIPT = "No such receipt."
MAX_ITEMS = 200


async def purchase(ctx: Context, global_id: str) -> Purchase | None:
    principal = await ctx.principal()
    purchase_id = ids.decode_as("purchase", global_id)
    if purchase_id is None:
        return None
    async with ctx.sessionmaker() as session:
        return await purchases.owned(session, principal.user_id, purchase_id)


async def purchase_page(
    ctx: Context,
    first: int | None,
    after: str | None,
    where: PurchaseFilterInput | None,
    order: PurchaseOrder | None,
) -> Page[PurchaseRow]:
    principal = await ctx.principal()
    size = page_size(first)
    criteria = PurchaseFilter()
    if where is not None:
        criteria = PurchaseFilter(
            purchased_from=where.from_,
            purchased_before=where.to,
            category=search_text(where.category, "category"),
            merchant=search_text(where.merchant, "merchant"),
            min_amount=_bound(where.min_amount, "minAmount", ROUND_CEILING),
            max_amount=_bound(where.max_amount, "maxAmount", ROUND_FLOOR),
            search=search_text(where.search),
        )
    field = order.field.value if order else "PURCHASED_AT"
    descending = order.direction.value == "DESC" if order else True
    async with ctx.sessionmaker() as session:
        with cursor_checked():
            return await purchases.page(
                session,
                principal.user_id,
                criteria,
                order_by=field,
                descending=descending,
                first=size,
                after=after,
            )


def clean(
    values: Mapping[str, Any],
    problems: Problems,
    path: records.Path,
    *,
    creating: bool,
    currency: str,
) -> dict[str, Any]:
    """Checked column values of the fields present in ``values`` (all of them to create),
    amounts in their currency: the one given, else ``currency`` (the user's, to create;
    the purchase's, to change). ``items`` stays a list of :class:`PurchaseItem`."""
    records.unknown_fields(values, FIELDS | {"id"}, problems, path)
    cleaned: dict[str, Any] = {}
    if creating or values.get("currency") is not None:
        currency = _currency(values.get("currency"), currency, problems, path)
        cleaned["currency"] = currency
    if creating or "merchant" in values:
        cleaned["merchant"] = _text(values, "merchant", problems, path, minimum=1, limit=200)
    if creating or "amount" in values:
        amount = records.decimal(values, "amount", problems, path)
        cleaned["amount"] = _money(amount, currency, (*path, "amount"), problems)
    if "category" in values:
        cleaned["category"] = _text(values, "category", problems, path, limit=60) or None
    if "note" in values:
        cleaned["note"] = _text(values, "note", problems, path, limit=2000) or None
    if creating or "purchasedAt" in values:
        cleaned["purchased_at"] = records.moment(values, "purchasedAt", problems, path)
        if cleaned["purchased_at"] is None and not problems.has((*path, "purchasedAt")):
            problems.add((*path, "purchasedAt"), "A purchase needs a date.")
    if values.get("receiptId") is not None:
        receipt_id = ids.decode_as("receipt", str(values["receiptId"]))
        if receipt_id is None:
            problems.add((*path, "receiptId"), NO_RECEIPT, ErrorCode.NOT_FOUND)
        cleaned["receipt_id"] = receipt_id
    if values.get("items") is not None or creating:
        cleaned["items"] = _items(values.get("items"), currency, problems, (*path, "items"))
    return cleaned


def _text(
    values: Mapping[str, Any],
    name: str,
    problems: Problems,
    path: records.Path,
    *,
    limit: int,
    minimum: int = 0,
) -> str:
    return records.text(values, name, problems, path, limit=limit, minimum=minimum) or ""


def _items_add_up(items: Sequence[PurchaseItem], amount: Decimal) -> None:
    """New line items, when there are any, add up to the purchase's amount. A purchase is
    created with the items it is given (a receipt's often leave out a tax or a discount),
    but items that replace them are the user's own reckoning, so they are checked."""
    total = sum((item.amount for item in items), Decimal(0))
    if items and total != amount:
        raise UserErrors.one(
            ("input", "items"), f"The items add up to {total}, not {amount}.", ErrorCode.INVALID
        )


async def create_row(
    session: AsyncSession, user_id: uuid.UUID, record_id: uuid.UUID, cleaned: dict[str, Any]
) -> Purchase:
    items = cleaned.pop("items", [])
    receipt_id = cleaned.get("receipt_id")
    if receipt_id is not None and not await receipts.owned(session, user_id, receipt_id):
        raise UserErrors.one(("input", "receiptId"), NO_RECEIPT, ErrorCode.NOT_FOUND)
    return await _add(session, Purchase(id=record_id, user_id=user_id, **cleaned), items)


async def update_row(session: AsyncSession, row: Purchase, cleaned: dict[str, Any]) -> Purchase:
    """Applies the changes; new items replace the old ones. The receipt stays."""
    items = cleaned.pop("items", None)
    problems = Problems()
    if cleaned.pop("receipt_id", row.receipt_id) != row.receipt_id:
        problems.add(("input", "receiptId"), "A purchase keeps its receipt.")
    currency = cleaned.get("currency", row.currency)
    if "amount" not in cleaned and (problem := amount_problem(row.amount, currency)):
        problems.add(("input", "currency"), problem)
    problems.raise_if_any()
    if items is not None and not await _same_items(session, row, items):
        _items_add_up(items, cleaned.get("amount", row.amount))
        await purchases.replace_items(session, row, items)
    row = await purchases.save(session, row, **cleaned)
    await records.changed(session, Collection.PURCHASES, row, ActivityKind.PURCHASE_UPDATED)
    return row


async def _same_items(session: AsyncSession, row: Purchase, items: Sequence[PurchaseItem]) -> bool:
    """Whether ``items`` are the purchase's own (a pushed record sends them back as pulled)."""
    held = (await purchases.items_of(session, [row.id])).get(row.id, [])
    return [_line(item) for item in held] == [_line(item) for item in items]


def _line(item: purchases.ItemLine) -> tuple[object, ...]:
    return (item.description, item.quantity, item.unit_price, item.amount)


async def delete_row(session: AsyncSession, row: Purchase) -> None:
    await purchases.remove(session, row)
    await records.changed(
        session, Collection.PURCHASES, row, ActivityKind.PURCHASE_DELETED, deleted=True
    )


def _money_text(amount: Decimal | None, currency: str) -> str | None:
    return None if amount is None else str(quantize(amount, currency))


def fields_of(row: Purchase, items: Sequence[purchases.ItemLine]) -> dict[str, Any]:
    """The purchase as a sync pull sends it: the create input's fields, money as text."""
    return {
        "merchant": row.merchant,
        "amount": str(quantize(row.amount, row.currency)),
        "currency": row.currency,
        "category": row.category,
        "purchasedAt": format_instant(row.purchased_at),
        "note": row.note,
        "receiptId": ids.encode("receipt", row.receipt_id) if row.receipt_id else None,
        "items": [
            {
                "description": item.description,
                "quantity": None if item.quantity is None else str(plain(item.quantity)),
                "unitPrice": (
                    None
                    if item.unit_price is None
                    else str(quantize(item.unit_price, row.currency))
                ),
                "amount": str(quantize(item.amount, row.currency)),
            }
            for item in items
        ],
    }


async def fields_of_many(
    session: AsyncSession, rows: Sequence[Purchase]
) -> dict[uuid.UUID, dict[str, Any]]:
    items = await purchases.items_of(session, [row.id for row in rows]) if rows else {}
    return {row.id: fields_of(row, items.get(row.id, [])) for row in rows}


async def create(ctx: Context, data: CreatePurchaseInput) -> Purchase:
    principal = await ctx.principal()
    record_id, cleaned = records.creation(
        KIND, data, functools.partial(clean, currency=principal.currency)
    )
    async with ctx.sessionmaker.begin() as session:
        await records.ensure_new(session, Collection.PURCHASES, record_id, "purchase")
        return await create_row(session, principal.user_id, record_id, cleaned)


async def create_from_receipt(ctx: Context, global_id: str) -> Purchase:
    """A purchase from what OCR read; the receipt must be processed and have a total."""
    principal = await ctx.principal()
    receipt_id = ids.decode_as("receipt", global_id)
    field = ("receiptId",)
    async with ctx.sessionmaker.begin() as session:
        receipt = (
            await receipts.owned(session, principal.user_id, receipt_id) if receipt_id else None
        )
        if receipt is None:
            raise UserErrors.one(field, "No such receipt.", ErrorCode.NOT_FOUND)
        ocr = (
            await receipts.get_ocr(session, receipt.sha256, receipt.ocr_engine)
            if receipt.status is ReceiptStatus.PROCESSED and receipt.ocr_engine
            else None
        )
        if ocr is None:
            raise UserErrors.one(field, "This receipt has not been read yet.", ErrorCode.INVALID)
        if ocr.total is None:
            raise UserErrors.one(
                field, "No total could be read from this receipt.", ErrorCode.INVALID
            )
        currency = ocr_currency(ocr, principal.currency)
        day = ocr_day(ocr, principal.locale) or receipt.created_at.date()
        row = Purchase(
            user_id=principal.user_id,
            receipt_id=receipt.id,
            merchant=(ocr.merchant_name or "Unknown merchant")[:200],
            amount=ocr.total,
            currency=currency,
            purchased_at=noon_of(day, principal.timezone),
        )
        items = [
            PurchaseItem(
                description=item.description[:300],
                quantity=item.quantity,
                unit_price=item.unit_price,
                amount=item.amount,
            )
            for item in ocr_items(ocr)[:MAX_ITEMS]
        ]
        return await _add(session, row, items)


async def update(ctx: Context, global_id: str, data: UpdatePurchaseInput) -> Purchase:
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        row = await _lock_owned(session, principal.user_id, global_id)
        cleaned = records.changes(data, functools.partial(clean, currency=row.currency))
        return await update_row(session, row, cleaned)


async def delete(ctx: Context, global_id: str) -> str:
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        await delete_row(session, await _lock_owned(session, principal.user_id, global_id))
    return global_id


@dataclass(frozen=True)
class Spending:
    currency: str
    total: Decimal
    count: int
    by_category: list[Bucket]
    by_month: list[Bucket]
    range: tuple[datetime, datetime]
    user_id: uuid.UUID


async def spending(ctx: Context, first: date, last: date, currency: str | None) -> Spending:
    principal = await ctx.principal()
    code = (currency or principal.currency).upper()
    if not is_currency(code):
        raise BadUserInput("'currency' must be an ISO 4217 code.")
    if last < first:
        raise BadUserInput("'to' must not be before 'from'.")
    start, end = start_of(first, principal.timezone), end_of(last, principal.timezone)
    tz = principal.timezone
    async with ctx.sessionmaker() as session:
        overall = await purchases.spending_by(
            session, principal.user_id, code, start, end, group=None
        )
        categories = await purchases.spending_by(
            session, principal.user_id, code, start, end, group="category"
        )
        months = await purchases.spending_by(
            session, principal.user_id, code, start, end, group="month", timezone=tz
        )
    return Spending(
        code,
        overall[0].total,
        overall[0].count,
        categories,
        months,
        (start, end),
        principal.user_id,
    )


async def spending_by_currency(ctx: Context, first: date, last: date) -> list[Bucket]:
    """Per currency, the purchases between two days of the user's calendar, inclusive."""
    principal = await ctx.principal()
    if last < first:
        raise BadUserInput("'to' must not be before 'from'.")
    tz = principal.timezone
    async with ctx.sessionmaker() as session:
        return await purchases.spending_by_currency(
            session, principal.user_id, start_of(first, tz), end_of(last, tz)
        )


async def categories(ctx: Context) -> list[CurrencyBucket]:
    principal = await ctx.principal()
    async with ctx.sessionmaker() as session:
        return await purchases.categories(session, principal.user_id)


async def top_merchants(ctx: Context, summary: Spending, limit: int) -> list[Bucket]:
    if not 1 <= limit <= 50:
        raise BadUserInput("'limit' must be between 1 and 50.")
    async with ctx.sessionmaker() as session:
        return await purchases.spending_by(
            session,
            summary.user_id,
            summary.currency,
            *summary.range,
            group="merchant",
            limit=limit,
        )


async def _lock_owned(session: AsyncSession, user_id: uuid.UUID, global_id: str) -> Purchase:
    purchase_id = ids.decode_as("purchase", global_id)
    row = await purchases.owned(session, user_id, purchase_id, lock=True) if purchase_id else None
    if row is None:
        raise UserErrors.one(("id",), NOT_FOUND, ErrorCode.NOT_FOUND)
    return row


async def _add(session: AsyncSession, row: Purchase, items: list[PurchaseItem]) -> Purchase:
    try:
        async with session.begin_nested():
            row = await purchases.add(session, row, items)
    except IntegrityError as error:
        raise UserErrors.one(
            ("input", "receiptId"), "This receipt already has a purchase.", ErrorCode.CONFLICT
        ) from error
    await records.changed(session, Collection.PURCHASES, row, ActivityKind.PURCHASE_CREATED)
    return row


def _bound(value: Decimal | None, name: str, rounding: str) -> Decimal | None:
    """A filter's amount at the places amounts are stored with, rounded inwards so that
    it keeps the same purchases."""
    if value is None:
        return None
    if not (value.is_finite() and -MAX_AMOUNT < value < MAX_AMOUNT):
        raise BadUserInput(f"'{name}' must be a number between -{MAX_AMOUNT:,} and {MAX_AMOUNT:,}.")
    return stored(value, rounding)


def _currency(value: object, default: str, problems: Problems, path: records.Path) -> str:
    if value is None:
        return default
    code = value.strip().upper() if isinstance(value, str) else ""
    if not is_currency(code):
        problems.add((*path, "currency"), "Use an ISO 4217 currency code such as 'EUR'.")
    return code


def _money(
    value: Decimal | None, currency: str, field: tuple[str, ...], problems: Problems
) -> Decimal:
    if value is None:
        if not problems.has(field):
            problems.add(field, "An amount is needed.")
        return Decimal(0)
    if problem := amount_problem(value, currency):
        problems.add(field, problem)
        return value
    return quantize(value, currency)  # 0E-1000 is 0.00, which PostgreSQL can be sent


def _items(
    given: object, currency: str, problems: Problems, path: records.Path
) -> list[PurchaseItem]:
    """Line items from the GraphQL input or a pushed record's JSON."""
    if not given:
        return []
    if not isinstance(given, list):
        problems.add(path, "Send the items as a list.")
        return []
    if len(given) > MAX_ITEMS:
        problems.add(path, f"Use at most {MAX_ITEMS} items.")
        return []
    items = []
    for index, value in enumerate(given):
        item_path = (*path, str(index))
        values = value if isinstance(value, Mapping) else records.input_values(value)
        records.unknown_fields(values, ITEM_FIELDS, problems, item_path)
        description = _text(values, "description", problems, item_path, minimum=1, limit=300)
        amount = records.decimal(values, "amount", problems, item_path)
        items.append(
            PurchaseItem(
                description=description,
                quantity=_quantity(values, "quantity", problems, item_path),
                unit_price=_quantity(values, "unitPrice", problems, item_path),
                amount=_money(amount, currency, (*item_path, "amount"), problems),
            )
        )
    return items


def _quantity(
    values: Mapping[str, Any], name: str, problems: Problems, path: records.Path
) -> Decimal | None:
    if values.get(name) is None:
        return None
    value = records.decimal(values, name, problems, path)
    if value is None:
        return None
    if not (0 <= value < MAX_AMOUNT):
        problems.add((*path, name), "Use 0 or a positive number under 1,000,000,000,000.")
        return None
    return stored(value)
