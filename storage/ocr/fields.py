"""Receipt fields from recognised text: pure functions over OCR lines, no I/O.

Any engine that yields text lines with their boxes and scores gets the same extraction:
lines are grouped into printed rows; every candidate of each field (``candidates``) is
scored by the field's learned ranker (``ranker``), and the best one is the field's value.
Where the recogniser hesitated, a word is read as another of its readings when that one
spells a known word (``spelling``).
Line items and the currency are read by rules (``items``, ``money``).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from decimal import Decimal

import numpy as np

from .base import OcrError, OcrResult
from .candidates import (
    Candidate,
    DateValue,
    Page,
    address_candidates,
    date_candidates,
    merchant_candidates,
    total_candidates,
)
from .items import find_items
from .layout import Row, TextLine, group_rows
from .merchant import find_merchant
from .money import detect_currency
from .ranker import Scorer, shipped
from .spelling import respelled

__all__ = ["TextLine", "choose", "extract_fields", "rows_of"]

# How much each field weighs in the confidence: the total matters most to the user.
_WEIGHTS = {"merchant": 0.25, "total": 0.5, "date": 0.25}
# Below these scores no candidate is taken: a name or an address is better left blank than
# made up from another line (a total or a date is always some amount or date printed).
_FLOORS = {"merchant": 0.05, "address": 0.05}


def choose(scorer: Scorer, field: str, candidates: Sequence[Candidate]) -> tuple[object, float]:
    """The field's value, the best-scored candidate's, with its score; (None, 0) when
    there is none, or none scores above the field's floor."""
    if not candidates:
        return None, 0.0
    scores = scorer(field, np.asarray([c.features for c in candidates], dtype=np.float32))
    index = int(np.argmax(scores))
    if scores[index] < _FLOORS.get(field, 0.0):
        return None, 0.0
    return candidates[index].value, float(scores[index])


def rows_of(lines: Sequence[TextLine]) -> list[Row]:
    """The printed rows holding any word or number, each line read as ``respelled``."""
    rows = group_rows([respelled(line) for line in lines])
    return [row for row in rows if re.search(r"\w", row.text)]


def extract_fields(
    lines: Sequence[TextLine], engine: str, scorer: Scorer | None = None
) -> OcrResult:
    """Reads merchant, address, total, currency, date and items from one receipt's lines.

    Raises OcrError when there is no text at all.
    """
    scorer = scorer or shipped()
    rows = rows_of(lines)
    if not rows:
        raise OcrError("No text was found in the image.")
    raw_text = "\n".join(row.text for row in rows)
    page = Page.of(rows)
    rule = find_merchant(rows)
    chosen = {
        "merchant": merchant_candidates(page, rule.name if rule else None),
        "address": address_candidates(page),
        "total": total_candidates(page),
        "date": date_candidates(page),
    }
    picked: dict[str, object] = {}
    certainties: dict[str, float] = {}
    for field, candidates in chosen.items():
        picked[field], certainties[field] = choose(scorer, field, candidates)
    when, total = picked["date"], picked["total"]
    assert when is None or isinstance(when, DateValue)
    assert total is None or isinstance(total, Decimal)
    extraction = sum(weight * certainties[field] for field, weight in _WEIGHTS.items())
    recognition = statistics.fmean(row.score for row in rows)
    return OcrResult(
        engine=engine,
        merchant_name=str(picked["merchant"]) if picked["merchant"] else None,
        total=total,
        currency=detect_currency(raw_text),
        purchased_on=when.value if when else None,
        items=find_items(rows),
        confidence=round(max(0.0, min(1.0, recognition * (0.2 + 0.8 * extraction))), 3),
        raw_text=raw_text,
        address=str(picked["address"]) if picked["address"] else None,
        purchased_on_month_first=when.swapped if when else None,
    )
