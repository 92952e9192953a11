"""Receipts: uploads (multipart and presigned), OCR results, listing and reprocessing."""

from __future__ import annotations

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
from schema.uploads import CreateUploadInput, UploadPayload

if TYPE_CHECKING:
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
    purchased_on: date | None
    confidence: float = strawberry.field(description="0 to 1.")
    engine: str
    items: list[OcrItem]
    raw_text: str

    @classmethod
    def from_row(cls, row: rows.OcrResult, user_currency: str) -> Self:
        """Money in the currency OCR read, or else in the user's."""
        currency = resolvers.ocr_currency(row, user_currency)
        return cls(
            merchant_name=row.merchant_name,
            total=None if row.total is None else quantize(row.total, currency),
            currency=row.currency,
            purchased_on=row.purchased_on,
            confidence=round(row.confidence, 4),
            engine=row.engine,
            items=[OcrItem.of(item, currency) for item in resolvers.ocr_items(row)],
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
    row: strawberry.Private[rows.Receipt]

    @strawberry.field(description="A short-lived link to the image.")
    async def image_url(self, info: Info) -> str:
        return await resolvers.image_url(info.context, self.row)

    @strawberry.field
    async def ocr(self, info: Info) -> ReceiptOcr | None:
        if self.row.ocr_engine is None:
            return None
        found = await info.context.loaders.ocr.load((self.row.sha256, self.row.ocr_engine))
        if found is None:
            return None
        principal = await info.context.principal()
        return ReceiptOcr.from_row(found, principal.currency)

    @strawberry.field
    async def purchase(
        self, info: Info
    ) -> Annotated[Purchase, strawberry.lazy("schema.purchases")] | None:
        from schema.purchases import Purchase

        found = await info.context.loaders.purchase_by_receipt.load(self.row.id)
        return Purchase.from_row(found) if found else None

    @classmethod
    def from_row(cls, row: rows.Receipt) -> Self:
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
            row=row,
        )


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
    def of(cls, result: rows.Receipt) -> Self:
        return cls(receipt=Receipt.from_row(result))


@fetches_node("receipt")
async def _receipt_node(info: Info, global_id: str) -> Receipt | None:
    row = await resolvers.receipt(info.context, global_id)
    return Receipt.from_row(row) if row else None


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
        return Connection.of(page, Receipt.from_row)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        extensions=requires(Allowed(Permission.RECEIPTS)),
        description="Multipart upload (with `Apollo-Require-Preflight: true`), read later.",
    )
    async def upload_receipt(self, info: Info, file: Upload) -> ReceiptPayload:
        return await ReceiptPayload.run(resolvers.upload(info.context, file))  # type: ignore[arg-type]

    @strawberry.mutation(extensions=requires(Allowed(Permission.RECEIPTS)))
    async def create_receipt_upload(self, info: Info, input: CreateUploadInput) -> UploadPayload:
        return await UploadPayload.run(resolvers.create_upload(info.context, input))

    @strawberry.mutation(extensions=requires(Allowed(Permission.RECEIPTS)))
    async def complete_receipt_upload(self, info: Info, key: str) -> ReceiptPayload:
        return await ReceiptPayload.run(resolvers.complete_upload(info.context, key))

    @strawberry.mutation(
        extensions=requires(Allowed(Permission.RECEIPTS)), description="Reads the image again."
    )
    async def reprocess_receipt(self, info: Info, id: strawberry.ID) -> ReceiptPayload:
        return await ReceiptPayload.run(resolvers.reprocess(info.context, id))

    @strawberry.mutation(extensions=requires(Allowed(Permission.RECEIPTS)))
    async def delete_receipt(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await DeletePayload.run(resolvers.delete(info.context, id))
