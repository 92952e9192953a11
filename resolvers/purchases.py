"""Purchases: manual or from a receipt's OCR, with line items, filters and summaries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from strawberry import UNSET

from db import events, purchases, receipts
from db.events import ActivityKind
from db.pagination import Page
from db.purchases import Bucket, CurrencyBucket, Purchase, PurchaseFilter, PurchaseItem, PurchaseRow
from db.receipts import ReceiptStatus
from resolvers import ids
from resolvers.dates import end_of, noon_of, start_of
from resolvers.errors import BadUserInput, ErrorCode, Problems, UserErrors
from resolvers.money import MAX_AMOUNT, amount_problem, quantize, stored
from resolvers.pagination import cursor_checked, page_size
from resolvers.receipts import ocr_currency, ocr_items
from resolvers.validation import checked_text, is_currency, search_text

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from resolvers.context import Context
    from schema.purchases import (
        CreatePurchaseInput,
        PurchaseFilterInput,
        PurchaseItemInput,
        PurchaseOrder,
        UpdatePurchaseInput,
    )

NOT_FOUND = "No such purchase."
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


async def create(ctx: Context, data: CreatePurchaseInput) -> Purchase:
    principal = await ctx.principal()
    problems = Problems()
    currency = _currency(data.currency, principal.currency, problems)
    merchant = _merchant(data.merchant, problems)
    amount = _money(data.amount, currency, ("input", "amount"), problems)
    category = _category(data.category, problems)
    note = _note(data.note, problems)
    items = _items(data.items, currency, problems)
    receipt_id = None
    if data.receipt_id:
        receipt_id = ids.decode_as("receipt", data.receipt_id)
        if receipt_id is None:
            problems.add(("input", "receiptId"), "No such receipt.", ErrorCode.NOT_FOUND)
    problems.raise_if_any()
    async with ctx.sessionmaker.begin() as session:
        if receipt_id is not None and not await receipts.owned(
            session, principal.user_id, receipt_id
        ):
            raise UserErrors.one(("input", "receiptId"), "No such receipt.", ErrorCode.NOT_FOUND)
        row = Purchase(
            user_id=principal.user_id,
            receipt_id=receipt_id,
            merchant=merchant,
            amount=amount,
            currency=currency,
            category=category,
            purchased_at=data.purchased_at,
            note=note,
        )
        return await _add(session, row, items)


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
        day = ocr.purchased_on or receipt.created_at.date()
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
        problems = Problems()
        changes: dict[str, Any] = {}
        currency = row.currency
        if data.currency is not UNSET:
            currency = _currency(data.currency, row.currency, problems)
            changes["currency"] = currency
        if data.merchant is not UNSET:
            changes["merchant"] = _merchant(data.merchant, problems)
        if data.amount is not UNSET:
            changes["amount"] = _money(data.amount, currency, ("input", "amount"), problems)
        elif "currency" in changes and (problem := amount_problem(row.amount, currency)):
            problems.add(("input", "currency"), problem)
        if data.category is not UNSET:
            changes["category"] = _category(data.category, problems)
        if data.note is not UNSET:
            changes["note"] = _note(data.note, problems)
        if data.purchased_at is not UNSET:
            if data.purchased_at is None:
                problems.add(("input", "purchasedAt"), "A purchase needs a date.")
            changes["purchased_at"] = data.purchased_at
        items = None
        if data.items is not UNSET:
            items = _items(data.items, currency, problems)
            amount = changes.get("amount", row.amount)
            if items and not problems.items and sum(i.amount for i in items) != amount:
                problems.add(
                    ("input", "items"),
                    f"The items add up to {sum(i.amount for i in items)}, not {amount}.",
                )
        problems.raise_if_any()
        if items is not None:
            await purchases.replace_items(session, row, items)
        row = await purchases.save(session, row, **changes)
        await events.publish(session, row.user_id, ActivityKind.PURCHASE_UPDATED, row.id)
        return row


async def delete(ctx: Context, global_id: str) -> str:
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        row = await _lock_owned(session, principal.user_id, global_id)
        await purchases.remove(session, row)
        await events.publish(session, row.user_id, ActivityKind.PURCHASE_DELETED, row.id)
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
    await events.publish(session, row.user_id, ActivityKind.PURCHASE_CREATED, row.id)
    return row


def _bound(value: Decimal | None, name: str, rounding: str) -> Decimal | None:
    """A filter's amount at the places amounts are stored with, rounded inwards so that
    it keeps the same purchases."""
    if value is None:
        return None
    if not (value.is_finite() and -MAX_AMOUNT < value < MAX_AMOUNT):
        raise BadUserInput(f"'{name}' must be a number between -{MAX_AMOUNT:,} and {MAX_AMOUNT:,}.")
    return stored(value, rounding)


def _currency(value: str | None, default: str, problems: Problems) -> str:
    if value is None or value is UNSET:
        return default
    code = value.strip().upper()
    if not is_currency(code):
        problems.add(("input", "currency"), "Use an ISO 4217 currency code such as 'EUR'.")
    return code


def _money(
    value: Decimal | None, currency: str, field: tuple[str, ...], problems: Problems
) -> Decimal:
    if value is None:
        problems.add(field, "An amount is needed.")
        return Decimal(0)
    if problem := amount_problem(value, currency):
        problems.add(field, problem)
        return value
    return quantize(value, currency)  # 0E-1000 is 0.00, which PostgreSQL can be sent


def _merchant(value: str | None, problems: Problems) -> str:
    return checked_text(value, ("input", "merchant"), problems, min_length=1, max_length=200)


def _category(value: str | None, problems: Problems) -> str | None:
    return checked_text(value, ("input", "category"), problems, max_length=60) or None


def _note(value: str | None, problems: Problems) -> str | None:
    return checked_text(value, ("input", "note"), problems, max_length=2000) or None


def _items(
    values: list[PurchaseItemInput] | None, currency: str, problems: Problems
) -> list[PurchaseItem]:
    if not values:
        return []
    if len(values) > MAX_ITEMS:
        problems.add(("input", "items"), f"Use at most {MAX_ITEMS} items.")
        return []
    items = []
    for index, value in enumerate(values):
        path = ("input", "items", str(index))
        description = checked_text(
            value.description, (*path, "description"), problems, min_length=1, max_length=300
        )
        amount = _money(value.amount, currency, (*path, "amount"), problems)
        items.append(
            PurchaseItem(
                description=description,
                quantity=_quantity(value.quantity, (*path, "quantity"), problems),
                unit_price=_quantity(value.unit_price, (*path, "unitPrice"), problems),
                amount=amount,
            )
        )
    return items


def _quantity(value: Decimal | None, field: tuple[str, ...], problems: Problems) -> Decimal | None:
    if value is None:
        return None
    if not (value.is_finite() and 0 <= value < MAX_AMOUNT):
        problems.add(field, "Use 0 or a positive number under 1,000,000,000,000.")
        return None
    return stored(value)
