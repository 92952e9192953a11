"""The amounts on a receipt: what each labelled amount is, the total paid, the items bought."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from .layout import Row
from .money import find_amounts, find_spaced_amount


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
    DISCOUNT = -6


# A total however OCR spells it: TOTAL, TOTL, TATAL, T0TAL, and the short TL.
TOTAL_WORD = r"(?:\bT\s?[O0AU]?\s?T\s?[A4]?\s?L|\bTL\b|\bAMOUNT\b|\bAMT\b)"
_RULES: list[tuple[Kind, re.Pattern[str]]] = [
    (Kind.CHANGE, re.compile(r"CHANGE|\bBAKI\b|KEMBALI|RÜCKGELD|RENDU")),
    (
        Kind.TENDERED,
        re.compile(
            r"CASH|TENDER|\bPAID\b|PAYMENT|\bVISA\b|MASTER|AMEX|\bCARD\b|DEBIT|CREDIT|"
            r"RECEIVED|WALLET|GEGEBEN"
        ),
    ),
    (
        Kind.SUBTOTAL,
        re.compile(
            r"SUB\W*T|\bQTY|QUANTITY|\bITEM|EXCL|BEFORE|SAVING|POINT|COUNT|"
            r"\bPAX\b|AVERAGE|\bGROSS\b"
        ),
    ),
    (Kind.DISCOUNT, re.compile(r"DISC|RABATT|REMISE|\bPROMO")),
    (
        Kind.TOTAL_WITH_TAX,
        re.compile(
            TOTAL_WORD + r".*(?:[IL1]NCL\w*|WITH)\W*(?:OF\W*)?(?:\d+\W*%\W*)?(?:GST|TAX|VAT|SST)"
        ),
    ),
    (Kind.TAX, re.compile(r"GST|TAX|\bVAT\b|\bSST\b|SERVICE|\bSVC\b|CHARGE|\bMWST|\bTVA\b")),
    (
        Kind.FINAL,
        re.compile(
            r"ROUNDED|GRAND|\bNETT?\W*(?:T\w*L|AMT|AMOUNT|SALES)|\bDUE\b|PAYABLE|PAYABIE|"
            r"AFTER\s+ADJ|TO\s+PAY|ZU\s+ZAHLEN"
        ),
    ),
    (Kind.ROUNDING, re.compile(r"ROUND|\bADJ")),
    (Kind.TOTAL, re.compile(TOTAL_WORD + r"|SUMME|\bTOTAAL")),
]
# After a tax summary table, every "Total" is a column sum.
_SUMMARY = re.compile(r"(?:GST|TAX|VAT|SST|MWST)\s*(?:SU\w*M|ANALYSIS)|\bSUMMARY\b")


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
                pending_label = text if has_words(text) else ""
            continue
        # A label alone on the row above names an amount alone on its row.
        label = pending_label if _is_bare(text[: amounts[0].start]) else ""
        previous_end = 0
        for amount in amounts:
            own = text[previous_end : amount.start]
            if has_words(own):
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


_CURRENCY_WORD = re.compile(r"(?<![A-Z])(?:RM|MYR|USD|EUR|GBP|SGD)(?![A-Z])", re.IGNORECASE)


def has_words(text: str) -> bool:
    """Whether the text has a word in it, beyond a currency."""
    return re.search(r"[^\W\d_]{2,}", _CURRENCY_WORD.sub("", text)) is not None


def _is_bare(text: str) -> bool:
    return re.fullmatch(r"[^\w]*", _CURRENCY_WORD.sub("", text)) is not None
