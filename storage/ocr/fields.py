"""Receipt fields from recognised text: pure functions over OCR lines, no I/O.

Any engine that yields text lines with their boxes and scores gets the same extraction:
lines are grouped into printed rows, then each field is read from the rows by general
rules of receipt layout (see merchant.py, totals.py and items.py).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from .base import OcrError, OcrResult
from .dates import find_dates
from .items import find_items
from .layout import Row, TextLine, group_rows
from .merchant import find_merchant
from .money import detect_currency
from .totals import find_total

__all__ = ["DateGuess", "TextLine", "extract_fields", "find_purchase_date"]

_DATE_LABEL = re.compile(r"DATE|\bDT\b|TARIKH|DATUM|\bFECHA")
_NOT_PURCHASE_DATE = re.compile(r"EXP|VALID|BEST\s+BEFORE|USE\s+BY|BIRTH|PROMO")
_TIME = re.compile(r"\d{1,2}:\d{2}")

# How much each field weighs in the confidence: the total matters most to the user.
_WEIGHTS = {"merchant": 0.25, "total": 0.5, "date": 0.25}


@dataclass(frozen=True)
class DateGuess:
    value: date
    certainty: float


def extract_fields(lines: Sequence[TextLine], engine: str) -> OcrResult:
    """Reads merchant, total, currency, date and items from one receipt's OCR lines.

    Raises OcrError when there is no text at all.
    """
    rows = [row for row in group_rows(lines) if re.search(r"\w", row.text)]
    if not rows:
        raise OcrError("No text was found in the image.")
    raw_text = "\n".join(row.text for row in rows)
    merchant = find_merchant(rows)
    total = find_total(rows)
    purchased = find_purchase_date(rows)
    certainties = {
        "merchant": merchant.certainty if merchant else 0.0,
        "total": total.certainty if total else 0.0,
        "date": purchased.certainty if purchased else 0.0,
    }
    extraction = sum(_WEIGHTS[field] * value for field, value in certainties.items())
    recognition = statistics.fmean(row.score for row in rows)
    return OcrResult(
        engine=engine,
        merchant_name=merchant.name if merchant else None,
        total=total.value if total else None,
        currency=detect_currency(raw_text),
        purchased_on=purchased.value if purchased else None,
        items=find_items(rows),
        confidence=round(max(0.0, min(1.0, recognition * (0.2 + 0.8 * extraction))), 3),
        raw_text=raw_text,
    )


def find_purchase_date(rows: Sequence[Row]) -> DateGuess | None:
    """The date of purchase: a date labelled as such or printed with the time beats any
    other; stamps and handwriting (much taller than the print) and expiry dates lose."""
    typical_height = statistics.median(row.height for row in rows)
    best: tuple[float, int] | None = None
    chosen: date | None = None
    for index, row in enumerate(rows):
        upper = row.text.upper()
        for found in find_dates(upper):
            before = upper[: found.start]
            after = upper[found.end :]
            score = float(found.quality)
            if _DATE_LABEL.search(before) or (
                index > 0 and _DATE_LABEL.search(rows[index - 1].text.upper())
            ):
                score += 2
            if _TIME.search(after) or _TIME.search(before):
                score += 1
            if _NOT_PURCHASE_DATE.search(before):
                score -= 4
            if row.height > 2 * typical_height:
                score -= 3
            # Ties go to the first date on the receipt.
            rank = (score, -index)
            if best is None or rank > best:
                best, chosen = rank, found.value
    if best is None or chosen is None:
        return None
    return DateGuess(chosen, min(1.0, max(0.3, best[0] / 5)))
