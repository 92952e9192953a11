"""The AWS engine: Textract's AnalyzeExpense, mapped to OcrResult."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from .base import OcrError, OcrItem, OcrResult, OcrUnavailable, timed_read
from .dates import parse_date
from .fields import extract_fields
from .images import load_image
from .layout import TextLine
from .merchant import canonical_name
from .money import detect_currency, parse_money
from .tracing import traced_read

if TYPE_CHECKING:
    from mypy_boto3_textract import TextractClient

logger = logging.getLogger("lifegraph.ocr")

# Textract reads JPEG and PNG as they are; anything else is sent as a JPEG of its first page.
_NATIVE_TYPES = frozenset({"image/jpeg", "image/png"})
_FIELD_WEIGHTS = {"merchant": 0.25, "total": 0.5, "date": 0.25}
# Textract's polygons are ratios of the page; the layout rules want pixel-like coordinates.
_PAGE_SIZE = 1000.0
# Address fields, the most specific first; a receiver's address (bill to, ship to) is no
# shop's.
_ADDRESS_TYPES = ("VENDOR_ADDRESS", "ADDRESS", "ADDRESS_BLOCK")
# The confidence weights by the OcrResult field a weighed field fills.
_FILLED_WEIGHTS = {
    "merchant_name": _FIELD_WEIGHTS["merchant"],
    "total": _FIELD_WEIGHTS["total"],
    "purchased_on": _FIELD_WEIGHTS["date"],
}
_USER_MESSAGES = {
    "UnsupportedDocumentException": "The document format is not supported.",
    "BadDocumentException": "The image could not be read.",
    "InvalidParameterException": "The image could not be read.",
    "DocumentTooLargeException": "The image is too large.",
}
# Errors of the moment: the job queue retries them with backoff.
_TRANSIENT = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "LimitExceededException",
        "InternalServerError",
        "ServiceUnavailable",
    }
)

Field = Mapping[str, Any]


class TextractEngine:
    """Reads receipts with AWS Textract AnalyzeExpense through the given boto3 client
    (``boto3.client("textract")``); the blocking call runs in a worker thread."""

    name = "textract"

    def __init__(self, client: TextractClient) -> None:
        self._client = client

    @traced_read
    async def read(self, image: bytes, content_type: str) -> OcrResult:
        with timed_read(self.name):
            return await asyncio.to_thread(self._read, image, content_type)

    def _read(self, image: bytes, content_type: str) -> OcrResult:
        document = image if content_type in _NATIVE_TYPES else _as_jpeg(image, content_type)
        try:
            response = self._client.analyze_expense(Document={"Bytes": document})
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            logger.warning("Textract AnalyzeExpense failed: %s", exc)
            if code in _TRANSIENT:
                raise OcrUnavailable(code) from exc
            raise OcrError(_USER_MESSAGES.get(code, "The OCR service is unavailable.")) from exc
        except BotoCoreError as exc:
            logger.warning("Textract AnalyzeExpense failed: %s", exc)
            raise OcrUnavailable("no connection to Textract") from exc
        return expense_to_result(response, engine=self.name)


def expense_to_result(response: Mapping[str, Any], engine: str = "textract") -> OcrResult:
    """Maps an AnalyzeExpense response to OcrResult. Raises OcrError when it holds no text.

    Fields Textract did not find are read from its lines of text by the field choices
    the local engine makes (``fields.extract_fields``); Textract's own values win.
    """
    documents = response.get("ExpenseDocuments") or []
    summary = [field for doc in documents for field in doc.get("SummaryFields") or []]
    raw_text = _raw_text(documents, summary)
    if not raw_text:
        raise OcrError("No text was found in the image.")

    merchant = _best(summary, ("VENDOR_NAME",)) or _best(summary, ("NAME",), group="VENDOR")
    total_field, total = _total(summary)
    date_field = _best(summary, ("INVOICE_RECEIPT_DATE",), parse=parse_date)
    address = _address(summary)

    found = {"merchant": merchant, "total": total_field, "date": date_field}
    confidence = sum(
        _FIELD_WEIGHTS[name] * _confidence(field) for name, field in found.items() if field
    )
    merchant_name = canonical_name(_value(merchant)) if merchant else ""
    result = OcrResult(
        engine=engine,
        merchant_name=merchant_name or None,
        total=total,
        currency=_currency(summary, total_field, raw_text),
        purchased_on=parse_date(_value(date_field)) if date_field else None,
        items=list(_items(documents)),
        confidence=round(min(1.0, confidence), 3),
        raw_text=raw_text,
        address=" ".join(_value(address).split()) if address else None,
    )
    return _completed(result, _lines(documents))


def _address(summary: list[Field]) -> Field | None:
    """The shop's address: the most specific address field that is not a receiver's."""
    shops = [
        field for field in summary if not any(g.startswith("RECEIVER") for g in _groups(field))
    ]
    for kind in _ADDRESS_TYPES:
        field = _best(shops, (kind,))
        if field is not None:
            return field
    return None


def _lines(documents: Iterable[Mapping[str, Any]]) -> list[TextLine]:
    """The response's LINE blocks as the local engine's text lines, on a page of
    ``_PAGE_SIZE`` square (corners clockwise from top left, score 0..1)."""
    lines = []
    for document in documents:
        for block in document.get("Blocks") or []:
            polygon = (block.get("Geometry") or {}).get("Polygon") or []
            if block.get("BlockType") != "LINE" or not block.get("Text") or len(polygon) != 4:
                continue
            box = tuple(
                (float(point["X"]) * _PAGE_SIZE, float(point["Y"]) * _PAGE_SIZE)
                for point in polygon
            )
            score = max(0.0, min(1.0, float(block.get("Confidence", 0.0)) / 100))
            lines.append(TextLine(str(block["Text"]), box, score))
    return lines


def _completed(result: OcrResult, lines: list[TextLine]) -> OcrResult:
    """Fills the fields Textract left empty from what the field choices read in its lines,
    and takes their month-first reading of the date when they read the same day first.

    A field filled so counts in the confidence at the weight Textract's own would have,
    times the reading's overall confidence. The lines are a second opinion: when they
    cannot be read, even by a fault of the field choices, Textract's reading stands."""
    if not lines:
        return result
    try:
        read = extract_fields(lines, result.engine)
    except OcrError:
        return result
    except Exception:
        logger.exception("the field choices failed on Textract's lines")
        return result
    changes: dict[str, Any] = {}
    if result.merchant_name is None and read.merchant_name:
        changes["merchant_name"] = read.merchant_name
    if result.total is None and read.total is not None:
        changes["total"] = read.total
        changes["currency"] = result.currency or read.currency
    if result.purchased_on is None and read.purchased_on is not None:
        changes["purchased_on"] = read.purchased_on
    if result.address is None and read.address:
        changes["address"] = read.address
    day = changes.get("purchased_on", result.purchased_on)
    if day is not None and day == read.purchased_on:
        changes["purchased_on_month_first"] = read.purchased_on_month_first
    gained = sum(weight for name, weight in _FILLED_WEIGHTS.items() if name in changes)
    confidence = min(1.0, result.confidence + gained * read.confidence)
    return dataclasses.replace(result, **changes, confidence=round(confidence, 3))


def _as_jpeg(image: bytes, content_type: str) -> bytes:
    buffer = io.BytesIO()
    load_image(image, content_type).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _type(field: Field) -> str:
    return str(field.get("Type", {}).get("Text", "")).upper()


def _value(field: Field) -> str:
    return str(field.get("ValueDetection", {}).get("Text", ""))


def _confidence(field: Field) -> float:
    """The value's confidence on 0..1 (Textract gives 0..100)."""
    detection = field.get("ValueDetection", {})
    value = detection.get("Confidence", field.get("Type", {}).get("Confidence", 0.0))
    return max(0.0, min(1.0, float(value) / 100))


def _groups(field: Field) -> set[str]:
    return {
        str(kind).upper()
        for group in field.get("GroupProperties") or []
        for kind in group.get("Types") or []
    }


def _best(
    fields: Iterable[Field],
    types: tuple[str, ...],
    group: str | None = None,
    parse: Callable[[str], object] | None = None,
) -> Field | None:
    """The most confident field of these types with a value (that parses, if asked)."""
    matching = [
        field
        for field in fields
        if _type(field) in types
        and _value(field).strip()
        and (group is None or group in _groups(field))
        and (parse is None or parse(_value(field)) is not None)
    ]
    return max(matching, key=_confidence, default=None)


def _total(summary: list[Field]) -> tuple[Field | None, Decimal | None]:
    for kind in ("TOTAL", "AMOUNT_PAID"):
        field = _best(summary, (kind,), parse=parse_money)
        if field is not None:
            return field, parse_money(_value(field))
    return None, None


def _currency(summary: list[Field], total_field: Field | None, raw_text: str) -> str | None:
    def code(field: Field) -> str | None:
        value = str((field.get("Currency") or {}).get("Code", "")).upper()
        return value if re.fullmatch(r"[A-Z]{3}", value) else None

    if total_field is not None and code(total_field):
        return code(total_field)
    codes = Counter(c for c in (code(field) for field in summary) if c)
    if codes:
        return codes.most_common(1)[0][0]
    if total_field is not None:
        return detect_currency(_value(total_field)) or detect_currency(raw_text)
    return detect_currency(raw_text)


def _items(documents: Iterable[Mapping[str, Any]]) -> Iterable[OcrItem]:
    for document in documents:
        for group in document.get("LineItemGroups") or []:
            for line in group.get("LineItems") or []:
                item = _item(line.get("LineItemExpenseFields") or [])
                if item is not None:
                    yield item


def _item(fields: list[Field]) -> OcrItem | None:
    by_type = {_type(field): _value(field) for field in fields if _value(field).strip()}
    description = by_type.get("ITEM") or by_type.get("EXPENSE_ROW") or ""
    quantity = _quantity(by_type.get("QUANTITY"))
    unit_price = parse_money(by_type["UNIT_PRICE"]) if "UNIT_PRICE" in by_type else None
    amount = parse_money(by_type["PRICE"]) if "PRICE" in by_type else None
    if amount is None and quantity is not None and unit_price is not None:
        amount = quantity * unit_price
    if amount is None or not description.strip():
        return None
    return OcrItem(
        description=" ".join(description.split()),
        quantity=quantity,
        unit_price=unit_price,
        amount=amount,
    )


def _quantity(text: str | None) -> Decimal | None:
    match = re.search(r"\d+(?:[.,]\d+)?", text or "")
    return Decimal(match.group().replace(",", ".")) if match else None


def _raw_text(documents: Iterable[Mapping[str, Any]], summary: list[Field]) -> str:
    lines = [
        str(block["Text"])
        for document in documents
        for block in document.get("Blocks") or []
        if block.get("BlockType") == "LINE" and block.get("Text")
    ]
    if lines:
        return "\n".join(lines)
    from_fields = []
    for field in summary:
        label = str(field.get("LabelDetection", {}).get("Text", "")).strip()
        value = _value(field).strip()
        if value:
            from_fields.append(f"{label} {value}".strip())
    return "\n".join(from_fields)
