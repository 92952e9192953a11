"""The amounts on a receipt: what each labelled amount is, the total paid, the items bought."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from .base import OcrItem
from .layout import Row
from .money import Amount, find_amounts, find_spaced_amount


class Kind(enum.IntEnum):
    """What a labelled amount is. The total kinds are ordered by how final the amount is."""

    OTHER = 0
    TOTAL = 2  # "TOTAL", "TOTAL AMOUNT"
    TOTAL_WITH_TAX = 3  # "TOTAL INCL. GST", "TOTAL SALES (INCLUSIVE OF GST)"
    FINAL = 4  # "GRAND TOTAL", "NETT TOTAL", "ROUNDED TOTAL", "AMOUNT DUE", "PAYABLE"
    SUBTOTAL = -1
    TAX = -2
    ROUNDING = -3
    TENDERED = -4
    CHANGE = -5


# A total however OCR spells it: TOTAL, TOTL, TATAL, T0TAL, and the short TL.
_TOTAL_WORD = r"(?:T\s?[O0AU]?\s?T\s?[A4]?\s?L|\bTL\b|\bAMOUNT\b|\bAMT\b)"
_RULES: list[tuple[Kind, re.Pattern[str]]] = [
    (Kind.CHANGE, re.compile(r"CHANGE|\bBAKI\b|KEMBALI|RÜCKGELD|RENDU")),
    (
        Kind.TENDERED,
        re.compile(
            r"CASH|TENDER|\bPAID\b|PAYMENT|\bVISA\b|MASTER|AMEX|\bCARD\b|DEBIT|CREDIT|"
            r"RECEIVED|WALLET|\bBAR\b|GEGEBEN"
        ),
    ),
    (
        Kind.SUBTOTAL,
        re.compile(
            r"SUB\W*T|\bQTY|QUANTITY|\bITEM|EXCL|BEFORE|SAVING|DISC|POINT|COUNT|"
            r"\bPAX\b|AVERAGE|\bGROSS\b"
        ),
    ),
    (
        Kind.TOTAL_WITH_TAX,
        re.compile(
            _TOTAL_WORD + r".*(?:[IL1]NCL|WITH)\W*(?:OF\W*)?(?:\d+\W*%\W*)?(?:GST|TAX|VAT|SST)"
        ),
    ),
    (Kind.TAX, re.compile(r"GST|TAX|\bVAT\b|\bSST\b|SERVICE|\bSVC\b|CHARGE|\bMWST|\bTVA\b")),
    (
        Kind.FINAL,
        re.compile(
            r"ROUNDED|GRAND|\bNETT?\b|\bDUE\b|PAYABLE|PAYABIE|AFTER\s+ADJ|TO\s+PAY|ZU\s+ZAHLEN"
        ),
    ),
    (Kind.ROUNDING, re.compile(r"ROUND|\bADJ")),
    (Kind.TOTAL, re.compile(_TOTAL_WORD + r"|SUMME|\bTOTAAL")),
]
# After a tax summary table, every "Total" is a column sum.
_SUMMARY = re.compile(r"SUMMARY|SUMMRY|ANALYSIS|\bSUMM")


def classify(label: str) -> Kind:
    """What an amount labelled like this is."""
    upper = label.upper()
    for kind, pattern in _RULES:
        if pattern.search(upper):
            return kind
    return Kind.OTHER


@dataclass(frozen=True)
class Labelled:
    """An amount with the label printed before it (on its row, or alone on the row above)."""

    row: int
    label: str
    kind: Kind
    value: Decimal
    amounts_on_row: int


@dataclass(frozen=True)
class TotalGuess:
    value: Decimal
    certainty: float


def labelled_amounts(rows: Sequence[Row]) -> list[Labelled]:
    """Every amount of the receipt with its label, top to bottom, up to any tax summary."""
    found: list[Labelled] = []
    pending_label = ""
    for index, row in enumerate(rows):
        text = row.text
        if _SUMMARY.search(text.upper()):
            break
        amounts = find_amounts(text)
        if not amounts:
            kind = classify(text)
            spaced = find_spaced_amount(text) if kind >= Kind.TOTAL else None
            if spaced is not None:
                found.append(Labelled(index, text, kind, spaced.value, 1))
                pending_label = ""
            else:
                pending_label = text if _has_words(text) else ""
            continue
        label = pending_label
        previous_end = 0
        for amount in amounts:
            own = text[previous_end : amount.start]
            if _has_words(own):
                label = own
            found.append(Labelled(index, label, classify(label), amount.value, len(amounts)))
            previous_end = amount.end
        pending_label = ""
    return found


def find_total(rows: Sequence[Row]) -> TotalGuess | None:
    """The amount paid: the most final labelled total, checked against cash less change."""
    amounts = labelled_amounts(rows)
    candidates = _total_candidates(amounts)
    expected = _cash_less_change(amounts)
    if expected is not None:
        matching = [c for c in candidates if c.value == expected]
        if matching:
            return TotalGuess(expected, 1.0)
    if candidates:
        best = max(c.kind for c in candidates)
        chosen = [c for c in candidates if c.kind == best][-1]
        # Cash rounding: the amount paid is the total rounded to the smallest coin.
        if expected is not None and 0 < abs(expected - chosen.value) < Decimal("0.10"):
            return TotalGuess(expected, 0.8)
        return TotalGuess(chosen.value, 0.8 if best >= Kind.TOTAL_WITH_TAX else 0.6)
    if expected is not None:
        return TotalGuess(expected, 0.5)
    tendered = [a.value for a in amounts if a.kind == Kind.TENDERED and a.value > 0]
    if tendered:
        return TotalGuess(tendered[-1], 0.3)
    return None


def _total_candidates(amounts: Sequence[Labelled]) -> list[Labelled]:
    candidates = []
    after_rounding = False
    for amount in amounts:
        if amount.kind == Kind.ROUNDING:
            after_rounding = True
            continue
        if amount.kind < Kind.TOTAL or amount.value <= 0 or amount.amounts_on_row > 2:
            continue
        if after_rounding and amount.kind == Kind.TOTAL:
            # The total printed after a rounding adjustment is the rounded one.
            amount = Labelled(amount.row, amount.label, Kind.FINAL, amount.value, 1)
        candidates.append(amount)
    return candidates


def _cash_less_change(amounts: Sequence[Labelled]) -> Decimal | None:
    tendered = [a.value for a in amounts if a.kind == Kind.TENDERED and a.value > 0]
    change = [a.value for a in amounts if a.kind == Kind.CHANGE and a.value >= 0]
    if not tendered or not change:
        return None
    paid = tendered[-1] - change[-1]
    return paid if paid > 0 else None


# Quantity markers: "2 X 8.02", "2x", "2pc @ 9.89", "1 PC".
_QUANTITY = re.compile(
    r"(?<![\d.])(?P<qty>\d{1,4}(?:\.\d{1,3})?)\s?(?:X|×|\*|@|PCS?\b|UNITS?\b|EA\b|NOS\b)",
    re.IGNORECASE,
)
_BARE_NUMBER = re.compile(r"(?<![\w.,])(\d{1,4}(?:\.\d{1,3})?)(?![\w.,])")
_CODE = re.compile(r"^(?:[#*~=-]+|\d{4,}[\w-]*|[A-Z]{1,3}\d[\w/-]*|SR:?|ZR:?|S:|\d+)$", re.I)
_HEADER = re.compile(r"\b(?:QTY|DESC|DESCRIPTION|ITEM|PRICE|AMOUNT|AMT)\b", re.I)


def find_items(rows: Sequence[Row], start: int) -> list[OcrItem]:
    """The purchased lines between the receipt's header (rows before start) and its totals."""
    amounts = labelled_amounts(rows)
    end = next(
        (a.row for a in amounts if a.row >= start and a.kind != Kind.OTHER),
        len(rows),
    )
    items: list[OcrItem] = []
    pending: list[str] = []
    for row in rows[start:end]:
        text = row.text
        found = find_amounts(text)
        if not found:
            if _has_words(text) and not _HEADER.search(text):
                pending.append(_description(text))
            continue
        item = _item(text, found, pending)
        if item is not None:
            items.append(item)
            pending = []
    return items


def _item(text: str, found: list[Amount], pending: list[str]) -> OcrItem | None:
    amount = found[-1].value
    unit = found[-2].value if len(found) >= 2 else None
    before = text[: found[0].start]
    description = _description(before)
    if len(re.sub(r"[^A-Za-z]", "", description)) < 3:
        description = " ".join(part for part in pending if part)
    if not description:
        return None
    quantity = _quantity(before)
    if (
        quantity is not None
        and unit is not None
        and abs(quantity * unit - amount) > Decimal("0.05")
    ):
        unit = amount / quantity if quantity else None
        unit = unit.quantize(Decimal("0.01")) if unit is not None else None
    if quantity is None and unit is not None:
        if unit == amount:
            quantity = Decimal(1)
        elif unit > 0 and (amount / unit) == (amount / unit).to_integral_value():
            quantity = amount / unit
        else:
            unit = None
    return OcrItem(description=description, quantity=quantity, unit_price=unit, amount=amount)


def _quantity(text: str) -> Decimal | None:
    marked = list(_QUANTITY.finditer(text))
    if marked:
        return Decimal(marked[-1].group("qty"))
    bare = _BARE_NUMBER.findall(text)
    if bare and len(bare[-1]) <= 3:
        value = Decimal(bare[-1])
        return value if value > 0 else None
    return None


def _description(text: str) -> str:
    """The words of an item line without product codes, quantities and tax codes."""
    words = [w for w in text.split() if not _CODE.match(w)]
    cleaned = " ".join(words)
    cleaned = re.sub(r"\s*(?:\d+(?:\.\d+)?\s?(?:X|×|@)\s*)$", "", cleaned, flags=re.I)
    return cleaned.strip(" -:*~")


def _has_words(text: str) -> bool:
    return re.search(r"[^\W\d_]{2,}", text) is not None and not re.fullmatch(
        r"\W*(?:RM|MYR|USD|EUR|GBP)?\W*", text.strip(), flags=re.I
    )
