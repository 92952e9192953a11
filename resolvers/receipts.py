"""Receipts: uploads, background OCR, listing, reprocessing and deletion."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from db import events, objects, purchases, receipts
from db.events import ActivityKind, Signal
from db.pagination import Page
from db.receipts import OcrRow, Receipt, ReceiptRow, ReceiptStatus
from db.sync import Collection
from resolvers import ids, records, uploads
from resolvers.dates import day_range, writes_month_first
from resolvers.errors import ErrorCode, UserErrors
from resolvers.pagination import cursor_checked, page_size
from resolvers.validation import is_currency
from storage.objects import PresignedPost
from storage.ocr import OcrError, OcrItem, OcrUnavailable
from storage.ocr import OcrResult as OcrRead

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from starlette.datastructures import UploadFile

    from resolvers.context import Context, Services
    from schema.receipts import ReceiptFilter
    from schema.uploads import CreateUploadInput

logger = logging.getLogger("lifegraph.receipts")
PURPOSE = "receipts"
NOT_FOUND = "No such receipt."
GAVE_UP = "The receipt could not be read; try again later."


async def upload(ctx: Context, file: UploadFile) -> Receipt:
    """Multipart upload: checked, stored, recorded as PENDING and queued for OCR."""
    stored = await uploads.store_upload(ctx, file, purpose=PURPOSE, allowed=uploads.RECEIPT_TYPES)
    try:
        receipt = await _record(ctx, stored)
    except BaseException:
        await ctx.services.storage.delete(stored.key)
        raise
    await ctx.services.jobs.process_receipt(receipt.id)
    return receipt


async def create_upload(ctx: Context, data: CreateUploadInput) -> PresignedPost:
    return await uploads.presign(
        ctx,
        purpose=PURPOSE,
        filename=data.filename,
        content_type=data.content_type,
        size=data.size,
        allowed=uploads.RECEIPT_TYPES,
    )


async def complete_upload(ctx: Context, key: str) -> Receipt:
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        stored = await uploads.take_completed(
            ctx, session, key=key, purpose=PURPOSE, allowed=uploads.RECEIPT_TYPES
        )
        receipt = await _add(session, _new_receipt(principal.user_id, stored))
    await ctx.services.jobs.process_receipt(receipt.id)
    return receipt


async def _record(ctx: Context, stored: uploads.StoredFile) -> Receipt:
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        return await _add(session, _new_receipt(principal.user_id, stored))


def _new_receipt(user_id: uuid.UUID, stored: uploads.StoredFile) -> Receipt:
    return Receipt(
        user_id=user_id,
        status=ReceiptStatus.PENDING,
        object_key=stored.key,
        original_name=stored.filename,
        content_type=stored.content_type,
        size=stored.size,
        sha256=stored.sha256,
    )


async def receipt(ctx: Context, global_id: str) -> Receipt | None:
    principal = await ctx.principal()
    receipt_id = ids.decode_as("receipt", global_id)
    if receipt_id is None:
        return None
    async with ctx.sessionmaker() as session:
        return await receipts.owned(session, principal.user_id, receipt_id)


async def receipt_page(
    ctx: Context, first: int | None, after: str | None, where: ReceiptFilter | None
) -> Page[ReceiptRow]:
    principal = await ctx.principal()
    size = page_size(first)
    status = where.status if where else None
    start, end = day_range(
        where.from_ if where else None, where.to if where else None, principal.timezone
    )
    async with ctx.sessionmaker() as session:
        with cursor_checked():
            return await receipts.page(
                session,
                principal.user_id,
                status=status,
                created_from=start,
                created_before=end,
                first=size,
                after=after,
            )


async def reprocess(ctx: Context, global_id: str) -> Receipt:
    """Reads the image again with a fresh OCR call, whatever the cache holds."""
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        row = await _lock_owned(session, principal.user_id, global_id)
        if row.status is ReceiptStatus.PROCESSING:
            raise UserErrors.one(
                ("id",), "This receipt is being read right now.", ErrorCode.CONFLICT
            )
        await _set_state(
            session, row, status=ReceiptStatus.PENDING, failure_reason=None, processed_at=None
        )
    await ctx.services.jobs.process_receipt(row.id, force=True)
    return row


async def delete(ctx: Context, global_id: str) -> str:
    """Removes the row now; the image is deleted from storage by a durable job."""
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        row = await _lock_owned(session, principal.user_id, global_id)
        linked = (await purchases.by_receipts(session, [row.id])).get(row.id)
        if linked is not None:  # the purchase stays, without its receipt
            linked = await purchases.save(session, linked, receipt_id=None)
            await records.changed(
                session, Collection.PURCHASES, linked, ActivityKind.PURCHASE_UPDATED
            )
        await receipts.remove(session, row)
        await objects.schedule_deletion(session, [row.object_key])
        await events.publish(session, row.user_id, Signal.RECEIPT_STATUS, row.id)
    await ctx.services.jobs.delete_objects([row.object_key])
    return global_id


async def _lock_owned(session: AsyncSession, user_id: uuid.UUID, global_id: str) -> Receipt:
    receipt_id = ids.decode_as("receipt", global_id)
    row = await receipts.owned(session, user_id, receipt_id, lock=True) if receipt_id else None
    if row is None:
        raise UserErrors.one(("id",), NOT_FOUND, ErrorCode.NOT_FOUND)
    return row


async def image_urls(ctx: Context, rows: Sequence[ReceiptRow]) -> list[str]:
    """Links to the receipts' images (``resolvers.links``: reused while valid long enough)."""
    return await ctx.services.links.urls(
        ctx.services.storage, [row.object_key for row in rows], ctx.settings.image_url_ttl_seconds
    )


async def process(services: Services, receipt_id: uuid.UUID, *, force: bool = False) -> None:
    """The OCR job. Unreadable images end FAILED with a reason; other errors propagate so
    the queue retries them with backoff (see ``lifegraph.jobs``)."""
    claimed = await _claim(services, receipt_id, force=force)
    if claimed is not None:
        await _read(services, claimed, force=force)


async def read_again(
    services: Services, receipt_id: uuid.UUID, status: ReceiptStatus
) -> Receipt | None:
    """Reads a receipt again with a fresh OCR call, if it is still in ``status``: the job's
    steps, each committed (``lifegraph receipts reprocess``, one receipt at a time).

    Returns the receipt as it ends, or None when it had left ``status`` meanwhile. An
    engine that cannot be reached, or an interruption, puts it back in ``status``; any
    other error fails it, as the job's last attempt does.
    """
    claimed = await _claim(services, receipt_id, force=True, expected=status)
    if claimed is None:
        return None
    try:
        await _read(services, claimed, force=True)
    except OcrUnavailable:
        await _put_back(services, receipt_id, status)
        raise
    except Exception:
        logger.exception("could not read receipt %s", receipt_id)
        await finish(services, receipt_id, failure=GAVE_UP)
    except BaseException:
        await _put_back(services, receipt_id, status)
        raise
    async with services.sessionmaker() as session:
        return await receipts.get(session, receipt_id)


@dataclass(frozen=True)
class _Claimed:
    id: uuid.UUID
    sha256: str
    object_key: str
    content_type: str


async def _claim(
    services: Services,
    receipt_id: uuid.UUID,
    *,
    force: bool,
    expected: ReceiptStatus | None = None,
) -> _Claimed | None:
    """Marks the receipt PROCESSING, unless it is gone, read already (and not forced) or
    no longer in the ``expected`` status."""
    async with services.sessionmaker.begin() as session:
        row = await receipts.get(session, receipt_id, lock=True)
        if row is None or (row.status is ReceiptStatus.PROCESSED and not force):
            return None
        if expected is not None and row.status is not expected:
            return None
        await receipts.mark_processing(session, receipt_id)
        await events.publish(session, row.user_id, Signal.RECEIPT_STATUS, row.id)
        return _Claimed(row.id, row.sha256, row.object_key, row.content_type)


async def _read(services: Services, claimed: _Claimed, *, force: bool) -> None:
    engine = services.ocr
    async with services.sessionmaker() as session:
        cached = None if force else await receipts.get_ocr(session, claimed.sha256, engine.name)
    if cached is None:
        try:
            image = await services.storage.get(claimed.object_key)
            result = await engine.read(image, claimed.content_type)
        except OcrError as error:
            await finish(services, claimed.id, failure=str(error))
            return
        async with services.sessionmaker.begin() as session:
            await receipts.save_ocr(session, ocr_values(claimed.sha256, result))
    await finish(services, claimed.id, engine=engine.name)


async def wait_for_retry(services: Services, receipt_id: uuid.UUID) -> None:
    """Back to PENDING while the queue waits to try again."""
    await _put_back(services, receipt_id, ReceiptStatus.PENDING)


async def _put_back(services: Services, receipt_id: uuid.UUID, status: ReceiptStatus) -> None:
    """A receipt being read goes back to ``status``, as if it had not been taken."""
    async with services.sessionmaker.begin() as session:
        row = await receipts.get(session, receipt_id, lock=True)
        if row is not None and row.status is ReceiptStatus.PROCESSING:
            await _set_state(session, row, status=status)


async def finish(
    services: Services,
    receipt_id: uuid.UUID,
    *,
    engine: str | None = None,
    failure: str | None = None,
) -> None:
    async with services.sessionmaker.begin() as session:
        row = await receipts.get(session, receipt_id, lock=True)
        if row is None:
            return
        await _set_state(
            session,
            row,
            status=ReceiptStatus.FAILED if failure else ReceiptStatus.PROCESSED,
            failure_reason=failure[:500] if failure else None,
            ocr_engine=engine if engine else row.ocr_engine,
            processed_at=datetime.now(UTC),
        )
    logger.info("receipt %s %s", receipt_id, "failed: " + failure if failure else "processed")


async def _add(session: AsyncSession, row: Receipt) -> Receipt:
    row = await receipts.add(session, row)
    await events.publish(session, row.user_id, Signal.RECEIPT_STATUS, row.id)
    return row


async def _set_state(session: AsyncSession, row: Receipt, **values: Any) -> None:
    """Changes a receipt and tells live subscribers, when the transaction commits."""
    await receipts.save(session, row, **values)
    await events.publish(session, row.user_id, Signal.RECEIPT_STATUS, row.id)
    if row.status is ReceiptStatus.PROCESSED:
        await events.publish(session, row.user_id, ActivityKind.RECEIPT_PROCESSED, row.id)


def ocr_values(sha256: str, result: OcrRead) -> dict[str, Any]:
    return {
        "sha256": sha256,
        "engine": result.engine,
        "merchant_name": (result.merchant_name or None) and result.merchant_name[:300],
        "total": result.total,
        "currency": result.currency,
        "purchased_on": result.purchased_on,
        "purchased_on_month_first": result.purchased_on_month_first,
        "address": (result.address or None) and result.address[:500],
        "items": [item.to_json() for item in result.items],
        "confidence": float(result.confidence),
        "raw_text": result.raw_text,
    }


def ocr_items(result: OcrRow) -> list[OcrItem]:
    return [OcrItem.from_json(item) for item in result.items]


def ocr_day(result: OcrRow, locale: str) -> date | None:
    """The printed date as the user means it: read month first when the date allows both
    orders and the user's ``locale`` writes dates month first."""
    if result.purchased_on_month_first is not None and writes_month_first(locale):
        return result.purchased_on_month_first
    return result.purchased_on


def ocr_currency(result: OcrRow, default: str) -> str:
    """The currency OCR read, when it is a known code; else ``default``, the user's."""
    return result.currency if result.currency and is_currency(result.currency) else default


async def stale_receipts(services: Services, older_than: datetime) -> Sequence[uuid.UUID]:
    async with services.sessionmaker() as session:
        return await receipts.stale_pending(session, older_than)
