"""The OCR interface: what an engine returns for one receipt image, and how it fails."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class OcrItem:
    """One purchased line of a receipt."""

    description: str
    quantity: Decimal | None
    unit_price: Decimal | None
    amount: Decimal


@dataclass(frozen=True)
class OcrResult:
    """The fields read from one receipt; any of them may be missing."""

    engine: str
    merchant_name: str | None
    total: Decimal | None
    currency: str | None
    purchased_on: date | None
    items: list[OcrItem]
    confidence: float
    raw_text: str


class OcrError(Exception):
    """The image could not be read (corrupt, not an image, no text found...).

    str() is a short, user-safe reason.
    """


class OcrUnavailable(Exception):
    """The engine could not be reached or is overloaded: worth trying again later."""


class OcrEngine(Protocol):
    """Reads a receipt image; content_type is already verified by magic bytes."""

    name: str

    async def read(self, image: bytes, content_type: str) -> OcrResult: ...
