"""Purchases with line items, their filters and ordering, and spending summaries."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Self

import strawberry

from auth.permissions import Permission
from db import purchases as rows
from resolvers import ids
from resolvers import purchases as resolvers
from resolvers.context import Info
from resolvers.money import plain, quantize
from schema.errors import DeletePayload, Payload, UserError
from schema.node import Node, fetches_node
from schema.pagination import Connection
from schema.permissions import Allowed, requires
from schema.selection import Selection, selection_of

if TYPE_CHECKING:
    from schema.receipts import Receipt


Line = rows.ItemLine
"""A line of a purchase, as stored (``db.purchases``) or as read by OCR
(``storage.ocr.OcrItem``)."""


@strawberry.type
class LineFields:
    """The fields of the GraphQL types ``PurchaseItem`` and ``OcrItem``; not a type itself."""

    description: str
    quantity: Decimal | None
    unit_price: Decimal | None
    amount: Decimal

    @classmethod
    def of(cls, line: Line, currency: str) -> Self:
        return cls(
            description=line.description,
            quantity=None if line.quantity is None else plain(line.quantity),
            unit_price=None if line.unit_price is None else quantize(line.unit_price, currency),
            amount=quantize(line.amount, currency),
        )


@strawberry.type
class PurchaseItem(LineFields):
    pass


@strawberry.type
class Purchase(Node):
    id: strawberry.ID
    merchant: str
    amount: Decimal = strawberry.field(description="With the currency's minor digits.")
    currency: str
    category: str | None
    purchased_at: datetime
    note: str | None
    created_at: datetime
    updated_at: datetime
    items: list[PurchaseItem]
    receipt: Annotated[Receipt, strawberry.lazy("schema.receipts")] | None
    row: strawberry.Private[rows.PurchaseRow]

    @classmethod
    def from_row(
        cls, row: rows.PurchaseRow, items: list[PurchaseItem], receipt: Receipt | None
    ) -> Self:
        return cls(
            id=strawberry.ID(ids.encode("purchase", row.id)),
            merchant=row.merchant,
            amount=quantize(row.amount, row.currency),
            currency=row.currency,
            category=row.category,
            purchased_at=row.purchased_at,
            note=row.note,
            created_at=row.created_at,
            updated_at=row.updated_at,
            items=items,
            receipt=receipt,
            row=row,
        )


async def purchases_of(
    info: Info, found: Sequence[rows.PurchaseRow], selection: Selection
) -> list[Purchase]:
    """The purchases with the relations the query selects, loaded for all of them at
    once (one statement per relation, whatever their number)."""
    from schema.receipts import receipts_of

    loaders = info.context.loaders
    items: list[list[PurchaseItem]] = [[] for _ in found]
    if "items" in selection:
        loaded = await loaders.purchase_items.load_many([row.id for row in found])
        items = [
            [PurchaseItem.of(item, row.currency) for item in lines]
            for row, lines in zip(found, loaded, strict=True)
        ]
    receipts: dict[uuid.UUID, Receipt] = {}
    if "receipt" in selection:
        linked = [row.receipt_id for row in found if row.receipt_id is not None]
        stored = [receipt for receipt in await loaders.receipt.load_many(linked) if receipt]
        built = await receipts_of(info, stored, selection["receipt"])
        receipts = {receipt.row.id: receipt for receipt in built}
    return [
        Purchase.from_row(
            row, lines, receipts.get(row.receipt_id) if row.receipt_id is not None else None
        )
        for row, lines in zip(found, items, strict=True)
    ]


async def purchase_of(
    info: Info, row: rows.PurchaseRow | None, selection: Selection
) -> Purchase | None:
    return (await purchases_of(info, [row], selection))[0] if row else None


@strawberry.enum
class SortDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.enum
class PurchaseSortField(Enum):
    PURCHASED_AT = "PURCHASED_AT"
    AMOUNT = "AMOUNT"
    MERCHANT = "MERCHANT"
    CREATED_AT = "CREATED_AT"


@strawberry.input
class PurchaseOrder:
    field: PurchaseSortField
    direction: SortDirection


@strawberry.input(name="PurchaseFilter")
class PurchaseFilterInput:
    from_: datetime | None = strawberry.field(default=None, name="from")
    to: datetime | None = None
    category: str | None = None
    merchant: str | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    search: str | None = strawberry.field(
        default=None, description="Words or word prefixes of the merchant, note or items."
    )


@strawberry.input
class PurchaseItemInput:
    description: str
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    amount: Decimal


@strawberry.input
class CreatePurchaseInput:
    id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Optional `purchase_<uuid>` minted by an offline client; kept as given.",
    )
    merchant: str
    amount: Decimal
    currency: str | None = strawberry.field(default=None, description="Default: your currency.")
    category: str | None = None
    purchased_at: datetime
    note: str | None = None
    receipt_id: strawberry.ID | None = None
    items: list[PurchaseItemInput] | None = strawberry.field(
        default=None, description="Line items; their amounts must add up to the purchase's."
    )


@strawberry.input
class UpdatePurchaseInput:
    merchant: str | None = strawberry.UNSET
    amount: Decimal | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    category: str | None = strawberry.UNSET
    purchased_at: datetime | None = strawberry.UNSET
    note: str | None = strawberry.UNSET
    items: list[PurchaseItemInput] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Replaces the line items; their amounts must add up to the purchase's.",
    )


@strawberry.type
class CategorySpending:
    category: str | None
    total: Decimal
    count: int


@strawberry.type
class CurrencySpending:
    currency: str
    total: Decimal
    count: int

    @classmethod
    def of(cls, bucket: rows.Bucket) -> Self:
        currency = bucket.key or ""
        return cls(currency=currency, total=quantize(bucket.total, currency), count=bucket.count)


@strawberry.type(
    description="A category in one currency: a category used in two currencies is two."
)
class Category:
    name: str
    currency: str
    total: Decimal
    count: int


@strawberry.type
class MonthSpending:
    month: str = strawberry.field(description="YYYY-MM, in your time zone.")
    total: Decimal
    count: int


@strawberry.type
class MerchantSpending:
    merchant: str
    total: Decimal
    count: int


@strawberry.type
class SpendingSummary:
    currency: str
    total: Decimal
    count: int
    by_category: list[CategorySpending]
    by_month: list[MonthSpending]
    summary: strawberry.Private[resolvers.Spending]

    @strawberry.field
    async def top_merchants(self, info: Info, limit: int = 5) -> list[MerchantSpending]:
        found = await resolvers.top_merchants(info.context, self.summary, limit)
        return [
            MerchantSpending(
                merchant=b.key or "", total=quantize(b.total, self.currency), count=b.count
            )
            for b in found
        ]

    @classmethod
    def of(cls, summary: resolvers.Spending) -> Self:
        currency = summary.currency
        return cls(
            currency=currency,
            total=quantize(summary.total, currency),
            count=summary.count,
            by_category=[
                CategorySpending(category=b.key, total=quantize(b.total, currency), count=b.count)
                for b in summary.by_category
            ],
            by_month=[
                MonthSpending(month=b.key or "", total=quantize(b.total, currency), count=b.count)
                for b in summary.by_month
            ],
            summary=summary,
        )


@strawberry.type
class PurchasePayload(Payload):
    purchase: Purchase | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def building(cls, info: Info) -> Callable[[rows.Purchase], Awaitable[Self]]:
        async def build(row: rows.Purchase) -> Self:
            return cls(purchase=await purchase_of(info, row, selection_of(info)["purchase"]))

        return build


@fetches_node("purchase")
async def _purchase_node(info: Info, global_id: str) -> Purchase | None:
    row = await resolvers.purchase(info.context, global_id)
    return await purchase_of(info, row, selection_of(info))


@strawberry.type
class Query:
    @strawberry.field(extensions=requires(Allowed(Permission.PURCHASES)))
    async def purchase(self, info: Info, id: strawberry.ID) -> Purchase | None:
        return await _purchase_node(info, id)

    @strawberry.field(
        extensions=requires(Allowed(Permission.PURCHASES)),
        description="Default order: newest purchase first.",
    )
    async def purchases(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: PurchaseFilterInput | None = None,
        order_by: PurchaseOrder | None = None,
    ) -> Connection[Purchase]:
        page = await resolvers.purchase_page(info.context, first, after, filter, order_by)
        nodes = await purchases_of(info, page.rows, selection_of(info)["edges.node"])
        return Connection.of_nodes(page, nodes)

    @strawberry.field(
        extensions=requires(Allowed(Permission.PURCHASES)),
        description="Purchases in one currency (default: yours) between two days, inclusive.",
    )
    async def spending_summary(
        self,
        info: Info,
        from_: Annotated[date, strawberry.argument(name="from")],
        to: date,
        currency: str | None = None,
    ) -> SpendingSummary:
        return SpendingSummary.of(await resolvers.spending(info.context, from_, to, currency))

    @strawberry.field(
        extensions=requires(Allowed(Permission.PURCHASES)),
        description="Purchases between two days of your calendar, inclusive, per currency: "
        "never converted.",
    )
    async def spending_by_currency(
        self,
        info: Info,
        from_: Annotated[date, strawberry.argument(name="from")],
        to: date,
    ) -> list[CurrencySpending]:
        found = await resolvers.spending_by_currency(info.context, from_, to)
        return [CurrencySpending.of(bucket) for bucket in found]

    @strawberry.field(
        extensions=requires(Allowed(Permission.PURCHASES)),
        description="The categories your purchases use, one per category and currency.",
    )
    async def categories(self, info: Info) -> list[Category]:
        return [
            Category(
                name=b.key, currency=b.currency, total=quantize(b.total, b.currency), count=b.count
            )
            for b in await resolvers.categories(info.context)
        ]


@strawberry.type
class Mutation:
    @strawberry.mutation(extensions=requires(Allowed(Permission.PURCHASES)))
    async def create_purchase(self, info: Info, input: CreatePurchaseInput) -> PurchasePayload:
        return await PurchasePayload.run(
            resolvers.create(info.context, input), PurchasePayload.building(info)
        )

    @strawberry.mutation(
        extensions=requires(Allowed(Permission.PURCHASES)), description="From the fields OCR read."
    )
    async def create_purchase_from_receipt(
        self, info: Info, receipt_id: strawberry.ID
    ) -> PurchasePayload:
        return await PurchasePayload.run(
            resolvers.create_from_receipt(info.context, receipt_id), PurchasePayload.building(info)
        )

    @strawberry.mutation(extensions=requires(Allowed(Permission.PURCHASES)))
    async def update_purchase(
        self, info: Info, id: strawberry.ID, input: UpdatePurchaseInput
    ) -> PurchasePayload:
        return await PurchasePayload.run(
            resolvers.update(info.context, id, input), PurchasePayload.building(info)
        )

    @strawberry.mutation(extensions=requires(Allowed(Permission.PURCHASES)))
    async def delete_purchase(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await DeletePayload.run(resolvers.delete(info.context, id))
