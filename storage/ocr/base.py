"""The OCR interface: what an engine returns for one receipt image, and how it fails."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol, Self

from prometheus_client import Histogram

READ_SECONDS = Histogram(
    "lifegraph_ocr_seconds",
    "Time an OCR engine took to read one receipt, by engine and outcome.",
    ["engine", "outcome"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60),
)


@dataclass(frozen=True)
class OcrItem:
    """One purchased line of a receipt."""

    description: str
    quantity: Decimal | None
    unit_price: Decimal | None
    amount: Decimal

    def to_json(self) -> dict[str, str | None]:
        """As the OCR cache keeps it: decimals as strings, so none loses a digit."""
        return {
            "description": self.description,
            "quantity": _text(self.quantity),
            "unit_price": _text(self.unit_price),
            "amount": str(self.amount),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            description=str(data["description"]),
            quantity=_decimal(data.get("quantity")),
            unit_price=_decimal(data.get("unit_price")),
            amount=Decimal(str(data["amount"])),
        )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


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
    address: str | None = None
    """The shop's address as printed, its lines joined by spaces."""
    purchased_on_month_first: date | None = None
    """The date read month first when the printed one allows both orders ("03/04/2019"):
    ``purchased_on`` reads it day first, and the user's locale decides which is meant."""


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


@contextlib.contextmanager
def timed_read(engine: str) -> Iterator[None]:
    """Times one read: ``read`` when it returned, ``unreadable`` (OcrError),
    ``unavailable`` (OcrUnavailable) or ``failed`` (anything else)."""
    started = time.perf_counter()
    outcome = "failed"
    try:
        yield
        outcome = "read"
    except OcrError:
        outcome = "unreadable"
        raise
    except OcrUnavailable:
        outcome = "unavailable"
        raise
    finally:
        READ_SECONDS.labels(engine, outcome).observe(time.perf_counter() - started)
