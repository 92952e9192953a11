"""Receipts: uploads (multipart and presigned), OCR results, listing and reprocessing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Self

import strawberry
from strawberry.file_uploads import Upload

from auth.permissions import Permission
from db import receipts as rows
from db.receipts import ReceiptStatus
from resolvers import ids
from resolvers import receipts as resolvers
from resolvers.context import Info
from resolvers.money import quantize
from schema.errors import DeletePayload, Payload, UserError
from schema.node import Node, fetches_node
from schema.pagination import Connection
from schema.permissions import Allowed, requires
from schema.purchases import LineFields
from schema.selection import Selection, selection_of
from schema.uploads import CreateUploadInput, UploadPayload

if TYPE_CHECKING:
    from db.users import Principal
    from schema.purchases import Purchase

strawberry.enum(ReceiptStatus)


@strawberry.type
class OcrItem(LineFields):
    pass


@strawberry.type(description="What OCR read from the receipt's image.")
class ReceiptOcr:
    merchant_name: str | None
    total: Decimal | None
    currency: str | None
    purchased_on: date | None = strawberry.field(
        description="The printed date; one that allows both orders (03/04/2019) is read "
        "in the order of the user's locale."
    )
    address: str | None = strawberry.field(
        description="The shop's address as printed, its lines joined by spaces."
    )
    confidence: float = strawberry.field(description="0 to 1.")
    engine: str
    items: list[OcrItem]
    raw_text: str

    @classmethod
    def from_row(cls, row: rows.OcrRow, principal: Principal, *, items: bool = True) -> Self:
        """Money in the currency OCR read, or else in the user's; the date in the order of
        the user's locale; the line items only when the query selects them (a list of
        receipts rarely does)."""
        currency = resolvers.ocr_currency(row, principal.currency)
        return cls(
            merchant_name=row.merchant_name,
            total=None if row.total is None else quantize(row.total, currency),
            currency=row.currency,
            purchased_on=resolvers.ocr_day(row, principal.locale),
            address=row.address,
            confidence=round(row.confidence, 4),
            engine=row.engine,
            items=[OcrItem.of(item, currency) for item in resolvers.ocr_items(row)]
            if items
            else [],
            raw_text=row.raw_text,
        )


@strawberry.type
class Receipt(Node):
    id: strawberry.ID
    status: ReceiptStatus
    original_name: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime
    processed_at: datetime | None
    failure_reason: str | None
    image_url: str = strawberry.field(description="A short-lived link to the image.")
    ocr: ReceiptOcr | None
    row: strawberry.Private[rows.ReceiptRow]

    @strawberry.field
    async def purchase(
        self, info: Info
    ) -> Annotated[Purchase, strawberry.lazy("schema.purchases")] | None:
        from schema.purchases import purchase_of

        found = await info.context.loaders.purchase_by_receipt.load(self.row.id)
        return await purchase_of(info, found, selection_of(info))

    @classmethod
    def from_row(cls, row: rows.ReceiptRow, image_url: str, ocr: ReceiptOcr | None) -> Self:
        return cls(
            id=strawberry.ID(ids.encode("receipt", row.id)),
            status=row.status,
            original_name=row.original_name,
            content_type=row.content_type,
            size=row.size,
            sha256=row.sha256,
            created_at=row.created_at,
            processed_at=row.processed_at,
            failure_reason=row.failure_reason,
            image_url=image_url,
            ocr=ocr,
            row=row,
        )


async def receipts_of(
    info: Info, found: Sequence[rows.ReceiptRow], selection: Selection
) -> list[Receipt]:
    """The receipts with what the query selects of their OCR and image links, loaded for
    all of them at once."""
    ctx = info.context
    urls = [""] * len(found)
    if "imageUrl" in selection:
        urls = await resolvers.image_urls(ctx, found)
    readings: list[ReceiptOcr | None] = [None] * len(found)
    if "ocr" in selection:
        read = [row for row in found if row.ocr_engine is not None]
        results = await ctx.loaders.ocr.load_many(
            [(row.sha256, row.ocr_engine) for row in read]  # type: ignore[misc]
        )
        principal = await ctx.principal()
        by_receipt = {
            row.id: ReceiptOcr.from_row(result, principal, items="items" in selection["ocr"])
            for row, result in zip(read, results, strict=True)
            if result is not None
        }
        readings = [by_receipt.get(row.id) for row in found]
    return [
        Receipt.from_row(row, url, reading)
        for row, url, reading in zip(found, urls, readings, strict=True)
    ]


async def receipt_of(
    info: Info, row: rows.ReceiptRow | None, selection: Selection
) -> Receipt | None:
    return (await receipts_of(info, [row], selection))[0] if row else None


@strawberry.input
class ReceiptFilter:
    status: ReceiptStatus | None = None
    from_: date | None = strawberry.field(default=None, name="from")
    to: date | None = None


@strawberry.type
class ReceiptPayload(Payload):
    receipt: Receipt | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def building(cls, info: Info) -> Callable[[rows.Receipt], Awaitable[Self]]:
        async def build(row: rows.Receipt) -> Self:
            return cls(receipt=await receipt_of(info, row, selection_of(info)["receipt"]))

        return build


@fetches_node("receipt")
async def _receipt_node(info: Info, global_id: str) -> Receipt | None:
    row = await resolvers.receipt(info.context, global_id)
    return await receipt_of(info, row, selection_of(info))


@strawberry.type
class Query:
    @strawberry.field(extensions=requires(Allowed(Permission.RECEIPTS)))
    async def receipt(self, info: Info, id: strawberry.ID) -> Receipt | None:
        return await _receipt_node(info, id)

    @strawberry.field(
        extensions=requires(Allowed(Permission.RECEIPTS)), description="Newest first."
    )
    async def receipts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ReceiptFilter | None = None,
    ) -> Connection[Receipt]:
        page = await resolvers.receipt_page(info.context, first, after, filter)
        nodes = await receipts_of(info, page.rows, selection_of(info)["edges.node"])
        return Connection.of_nodes(page, nodes)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        extensions=requires(Allowed(Permission.RECEIPTS)),
        description="Multipart upload (with `Apollo-Require-Preflight: true`), read later.",
    )
    async def upload_receipt(self, info: Info, file: Upload) -> ReceiptPayload:
        return await ReceiptPayload.run(
            resolvers.upload(info.context, file),  # type: ignore[arg-type]
            ReceiptPayload.building(info),
        )

    @strawberry.mutation(extensions=requires(Allowed(Permission.RECEIPTS)))
    async def create_receipt_upload(self, info: Info, input: CreateUploadInput) -> UploadPayload:
        return await UploadPayload.run(resolvers.create_upload(info.context, input))

    @strawberry.mutation(extensions=requires(Allowed(Permission.RECEIPTS)))
    async def complete_receipt_upload(self, info: Info, key: str) -> ReceiptPayload:
        return await ReceiptPayload.run(
            resolvers.complete_upload(info.context, key), ReceiptPayload.building(info)
        )

    @strawberry.mutation(
        extensions=requires(Allowed(Permission.RECEIPTS)), description="Reads the image again."
    )
    async def reprocess_receipt(self, info: Info, id: strawberry.ID) -> ReceiptPayload:
        return await ReceiptPayload.run(
            resolvers.reprocess(info.context, id), ReceiptPayload.building(info)
        )

    @strawberry.mutation(extensions=requires(Allowed(Permission.RECEIPTS)))
    async def delete_receipt(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await DeletePayload.run(resolvers.delete(info.context, id))
