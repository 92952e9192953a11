"""Candidates for each field of a receipt, with the features a learned ranker scores.

Every amount is a candidate total (and cash less change, when no amount printed is), every
date a candidate date of purchase, every run of one or two rows at the top a candidate
merchant, every run of one to five rows there a candidate address. Each candidate is
described by numbers only: what its text says (keywords, number formats, currency
marks), where it stands (position on the page, size, alignment, neighbours), how it
compares with the others (the largest amounts, repeats) and how sure the recogniser was.
The rules of ``totals``, ``dates`` and ``merchant`` are features too: the ranker learns
when to trust them.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from .dates import FoundDate, find_dates
from .layout import Row
from .merchant import (
    ADDRESS,
    CONTACT,
    NOT_NAME,
    canonical_name,
    ends_with_suffix,
    is_registration,
    strip_registration,
)
from .totals import TOTAL_WORD, Kind, Labelled, find_total, labelled_amounts

HEADER_ROWS = 14
"""Rows at the top where the merchant and its address are looked for."""
MAX_ADDRESS_ROWS = 5

_DATE_LABEL = re.compile(r"DATE|\bDT\b|TARIKH|DATUM|\bFECHA")
_NOT_PURCHASE_DATE = re.compile(r"EXP|VALID|BEST\s+BEFORE|USE\s+BY|BIRTH|PROMO|DUE")
_TIME = re.compile(r"\d{1,2}:\d{2}")
_CURRENCY_MARK = re.compile(r"RM|MYR|\$|€|£|USD|EUR|SGD")
_POSTCODE = re.compile(r"(?<![\dA-Z])\d{5}(?![\d-])")
_STREET = re.compile(
    r"\b(?:JALAN|JLN|JL|LORONG|LRG|TAMAN|TMN|PERSIARAN|LEBUH|ROAD|RD|STREET|ST|AVENUE|AVE|"
    r"LANE|DRIVE|STRASSE|STR|RUE|FLOOR|FLR|LOT|NO|BLOCK|BLK|UNIT|LEVEL|BANDAR|KAMPUNG|KG|"
    r"INDUSTRIAL|PLAZA|MALL|CENTRE|CENTER|SEKSYEN|SECTION|BATU|KM|SQUARE|PARK|AREA)\b"
)
_PHONE = re.compile(r"\b(?:TEL|FAX|PHONE|H/P|HP|MOBILE|EMAIL|E-MAIL)\b|\d{2,4}-\d{6,8}")
_TAX_ID = re.compile(r"\b(?:GST|SST|VAT|TAX)\b")
_TITLE = re.compile(r"INVOICE|RECEIPT|CASH\s+BILL|\bBILL\b|\bORDER\b|\bTABLE\b|CASHIER|\bPOS\b")


@dataclass(frozen=True)
class Page:
    """What the features of every candidate are measured against."""

    rows: Sequence[Row]
    typical_height: float
    top: float
    height: float
    left: float
    width: float

    @classmethod
    def of(cls, rows: Sequence[Row]) -> Page:
        top = min(row.top for row in rows)
        bottom = max(row.bottom for row in rows)
        left = min(piece.left for row in rows for piece in row.pieces)
        right = max(piece.right for row in rows for piece in row.pieces)
        return cls(
            rows,
            statistics.median(row.height for row in rows) or 1.0,
            top,
            max(bottom - top, 1.0),
            left,
            max(right - left, 1.0),
        )

    def row_features(self, index: int) -> list[float]:
        """Where a row stands and how it looks."""
        row = self.rows[index]
        text = row.text
        letters = sum(c.isalpha() for c in text)
        digits = sum(c.isdigit() for c in text)
        upper = sum(c.isupper() for c in text)
        left = min(piece.left for piece in row.pieces)
        right = max(piece.right for piece in row.pieces)
        centre = ((left + right) / 2 - self.left) / self.width
        return [
            index,
            len(self.rows) - 1 - index,
            index / max(len(self.rows) - 1, 1),
            (row.top - self.top) / self.height,
            row.height / self.typical_height,
            row.score,
            min(piece.score for piece in row.pieces),
            len(text),
            letters / max(len(text), 1),
            digits / max(len(text), 1),
            upper / max(letters, 1),
            len(row.pieces),
            (left - self.left) / self.width,
            (right - self.left) / self.width,
            abs(centre - 0.5),
            len(text.split()),
        ]


ROW_FEATURES = [
    "row",
    "rows_below",
    "row_share",
    "top",
    "height",
    "score",
    "least_score",
    "length",
    "letters",
    "digits",
    "upper",
    "pieces",
    "left",
    "right",
    "off_centre",
    "words",
]


@dataclass(frozen=True)
class Candidate:
    """A possible value of a field, with its features in the order of the field's names."""

    value: object
    rows: tuple[int, ...]
    features: list[float]


Finder = Callable[[Page], list[Candidate]]


# --- totals --------------------------------------------------------------------------------

_KINDS = list(Kind)
TOTAL_FEATURES = [
    *ROW_FEATURES,
    *(f"kind_{kind.name.lower()}" for kind in _KINDS),
    "kind",
    "value_log",
    "value_rank",
    "is_largest",
    "repeats",
    "repeats_as_total",
    "amounts_on_row",
    "last_on_row",
    "from_end",
    "after_rounding",
    "after_total",
    "cash_less_change",
    "is_tendered_last",
    "currency_mark",
    "label_words",
    "label_total",
    "label_incl",
    "label_round",
    "label_tax",
    "rule_pick",
    "has_cents",
    "negative",
    "above_is_total",
    "below_is_change",
    "equals_largest_total",
    "derived",
    "label_total_word",
    "label_after_adjustment",
    "label_net",
    "label_grand",
    "label_pay",
    "label_cash",
    "label_change",
    "label_sub",
    "label_to_pay",
    "label_inclusive",
    "label_received",
    "near_other_total",
    "total_plus_rounding",
    "whole_five_cents",
]
_LABEL_WORDS = [
    re.compile(TOTAL_WORD),
    re.compile(r"AFTER|\bADJ"),
    re.compile(r"\bNETT?\b"),
    re.compile(r"GRAND"),
    re.compile(r"\bPAY|PAID|\bDUE\b"),
    re.compile(r"CASH|TUNAI"),
    re.compile(r"CHANGE|BAKI"),
    re.compile(r"\bSUB"),
    re.compile(r"TO\s*BE\s*PAID|TO\s*PAY|PAYAB|AMOUNT\s+DUE"),
    re.compile(r"INC[LI1]|IN[DC]LU"),
    re.compile(r"RECEIVED|TENDER|PA[IL]D\s+AMOUNT"),
]


def total_candidates(page: Page) -> list[Candidate]:
    amounts = labelled_amounts(page.rows)
    if not amounts:
        return []
    values = sorted({a.value for a in amounts}, reverse=True)
    rank = {value: position for position, value in enumerate(values)}
    repeats = Counter(a.value for a in amounts)
    as_total = Counter(a.value for a in amounts if a.kind >= Kind.TOTAL)
    tendered = [a.value for a in amounts if a.kind == Kind.TENDERED and a.value > 0]
    change = [a.value for a in amounts if a.kind == Kind.CHANGE and a.value >= 0]
    paid = tendered[-1] - change[-1] if tendered and change else None
    rule = find_total(page.rows)
    largest_total = max((a.value for a in amounts if a.kind >= Kind.TOTAL), default=None)
    totals = [a for a in amounts if a.kind >= Kind.TOTAL and a.value > 0]
    roundings = [a for a in amounts if a.kind == Kind.ROUNDING and abs(a.value) < 1]
    rounded = {t.value + r.value for t in totals for r in roundings if r.row > t.row}
    entries = [(amount, False) for amount in amounts]
    # Printed nowhere, but what was paid: cash handed over less the change, or a total
    # with the rounding adjustment printed after it.
    if paid is not None and paid > 0 and paid not in repeats:
        change_row = next(a.row for a in reversed(amounts) if a.kind == Kind.CHANGE)
        entries.append((Labelled(change_row, "", Kind.OTHER, paid, 1), True))
    for value in sorted(rounded - set(repeats) - {paid}):
        row = next(r.row for r in roundings if any(t.value + r.value == value for t in totals))
        entries.append((Labelled(row, "", Kind.OTHER, value, 1), True))
    candidates = []
    after_rounding = after_total = False
    for position, (amount, derived) in enumerate(entries):
        label = amount.label.upper()
        on_row = [a for a in amounts if a.row == amount.row] or [amount]
        above = [a for a in amounts if a.row == amount.row - 1]
        below = [a for a in amounts if a.row == amount.row + 1]
        features = [
            *page.row_features(amount.row),
            *(float(amount.kind == kind) for kind in _KINDS),
            float(amount.kind),
            math.log10(1 + abs(float(amount.value))),
            rank.get(amount.value, -1),
            float(rank.get(amount.value) == 0),
            repeats[amount.value],
            as_total[amount.value],
            amount.amounts_on_row,
            float(on_row[-1] is amount),
            len(amounts) - 1 - position,
            float(after_rounding),
            float(after_total),
            float(paid is not None and paid == amount.value),
            float(bool(tendered) and tendered[-1] == amount.value),
            float(bool(_CURRENCY_MARK.search(page.rows[amount.row].text.upper()))),
            len(label.split()),
            float("TOTAL" in label or "JUMLAH" in label),
            float(bool(re.search(r"INCL|INC\b|WITH", label))),
            float("ROUND" in label),
            float(bool(_TAX_ID.search(label))),
            float(rule is not None and rule.value == amount.value),
            float(amount.value != amount.value.to_integral_value()),
            float(amount.value < 0),
            float(any(a.kind >= Kind.TOTAL for a in above)),
            float(any(a.kind == Kind.CHANGE for a in below)),
            float(largest_total is not None and amount.value == largest_total),
            float(derived),
            *(float(bool(pattern.search(label))) for pattern in _LABEL_WORDS),
            float(any(0 < abs(t.value - amount.value) <= Decimal("0.10") for t in totals)),
            float(amount.value in rounded),
            float(amount.value * 20 == (amount.value * 20).to_integral_value()),
        ]
        candidates.append(Candidate(amount.value, (amount.row,), features))
        after_rounding = after_rounding or amount.kind == Kind.ROUNDING
        after_total = after_total or amount.kind >= Kind.TOTAL
    return candidates


# --- dates ---------------------------------------------------------------------------------

DATE_FEATURES = [
    *ROW_FEATURES,
    "quality",
    "label_before",
    "label_above",
    "time_near",
    "not_purchase",
    "order",
    "from_end",
    "repeats",
    "ambiguous",
    "short_year",
    "position_in_row",
    "dates_in_row",
    "phone_label",
    "more_digits_after",
    "glued_to_code",
    "in_range",
    "only_labelled",
    "rule_score",
    "rule_pick",
]
_RANGE = re.compile(r"^\s*(?:-|TO|UNTIL|BIS|AU|HINGGA)\s*\d")


@dataclass(frozen=True)
class DateValue:
    """A date as read, and the other way round when day and month could be swapped."""

    value: date
    swapped: date | None


def date_candidates(page: Page) -> list[Candidate]:
    found: list[tuple[int, FoundDate]] = []
    for index, row in enumerate(page.rows):
        found.extend((index, item) for item in find_dates(row.text.upper()))
    repeats = Counter(item.value for _, item in found)
    labelled = [
        bool(_DATE_LABEL.search(page.rows[index].text.upper()[: item.start]))
        or (index > 0 and bool(_DATE_LABEL.search(page.rows[index - 1].text.upper())))
        for index, item in found
    ]
    scores = [
        _rule_score(page, index, item, labelled[order]) for order, (index, item) in enumerate(found)
    ]
    rule_pick = scores.index(max(scores)) if scores else -1  # ties go to the first date
    candidates = []
    for order, (index, item) in enumerate(found):
        upper = page.rows[index].text.upper()
        before, after = upper[: item.start], upper[item.end :]
        printed = upper[item.start : item.end]
        swapped = _swapped(printed, item.value)
        features = [
            *page.row_features(index),
            item.quality,
            float(bool(_DATE_LABEL.search(before))),
            float(index > 0 and bool(_DATE_LABEL.search(page.rows[index - 1].text.upper()))),
            float(bool(_TIME.search(after) or _TIME.search(before))),
            float(bool(_NOT_PURCHASE_DATE.search(before))),
            order,
            len(found) - 1 - order,
            repeats[item.value],
            float(swapped is not None),
            float(bool(re.search(r"\D\d{2}$", printed.strip()))),
            item.start / max(len(upper), 1),
            sum(1 for i, _ in found if i == index),
            float(bool(_PHONE.search(before))),
            float(bool(re.match(r"[-./]\d", after))),
            float(item.start > 0 and upper[item.start - 1].isalnum()),
            float(bool(_RANGE.match(after)) or bool(re.search(r"(?:-|TO)\s*$", before))),
            float(labelled[order] and sum(labelled) == 1),
            scores[order],
            float(order == rule_pick),
        ]
        candidates.append(Candidate(DateValue(item.value, swapped), (index,), features))
    return candidates


def _rule_score(page: Page, index: int, item: FoundDate, labelled: bool) -> float:
    """The hand-written rule's score: a date labelled as such or printed with the time
    beats any other; stamps and handwriting (far taller than the print) and expiry dates
    lose."""
    upper = page.rows[index].text.upper()
    before, after = upper[: item.start], upper[item.end :]
    score = float(item.quality) + 2 * labelled
    score += bool(_TIME.search(after) or _TIME.search(before))
    score -= 4 * bool(_NOT_PURCHASE_DATE.search(before))
    score -= 3 * (page.rows[index].height > 2 * page.typical_height)
    return score


def _swapped(text: str, value: date) -> date | None:
    """The same digits read month first, when both readings are dates and differ."""
    if re.search(r"[A-Z]", text) or value.day > 12 or value.day == value.month:
        return None
    if re.match(r"\s*\d{4}", text):
        return None  # year first: always year-month-day
    try:
        return date(value.year, value.day, value.month)
    except ValueError:
        return None


# --- merchant and address ------------------------------------------------------------------

_TEXT_FEATURES = [
    "suffix",
    "registration",
    "not_name",
    "address_words",
    "contact",
    "has_date",
    "postcode",
    "street_words",
    "commas",
    "phone",
    "tax_id",
    "title",
    "letters_total",
    "digit_share",
    "ends_with_stop",
    "lower_share",
]


def _text_features(text: str) -> list[float]:
    upper = text.upper()
    letters = sum(c.isalpha() for c in text)
    return [
        float(ends_with_suffix(strip_registration(upper))),
        float(is_registration(upper)),
        float(bool(NOT_NAME.search(upper))),
        float(bool(ADDRESS.search(upper))),
        float(bool(CONTACT.search(upper))),
        float(bool(find_dates(upper))),
        float(bool(_POSTCODE.search(upper))),
        len(_STREET.findall(upper)),
        upper.count(","),
        float(bool(_PHONE.search(upper))),
        float(bool(_TAX_ID.search(upper))),
        float(bool(_TITLE.search(upper))),
        letters,
        sum(c.isdigit() for c in text) / max(len(text), 1),
        float(text.rstrip().endswith(".")),
        sum(c.islower() for c in text) / max(letters, 1),
    ]


SPAN_FEATURES = [
    *(f"first_{name}" for name in ROW_FEATURES),
    *(f"last_{name}" for name in ROW_FEATURES),
    "span",
    "tallest",
    "height_spread",
    *_TEXT_FEATURES,
    *(f"above_{name}" for name in _TEXT_FEATURES),
    *(f"below_{name}" for name in _TEXT_FEATURES),
    "rows_with_suffix_above",
    "rows_with_address_above",
    "first_row_with_suffix",
]
MERCHANT_FEATURES = [*SPAN_FEATURES, "rule_pick"]
ADDRESS_FEATURES = [*SPAN_FEATURES, "postcode_rows", "street_rows", "contact_rows"]


def _span_features(page: Page, start: int, end: int) -> list[float]:
    rows = page.rows[start:end]
    texts = [row.text for row in rows]
    heights = [row.height / page.typical_height for row in rows]
    header = page.rows[:HEADER_ROWS]
    above = page.rows[start - 1].text if start > 0 else ""
    below = page.rows[end].text if end < len(page.rows) else ""
    suffix_rows = [
        i for i, row in enumerate(header) if ends_with_suffix(strip_registration(row.text.upper()))
    ]
    return [
        *page.row_features(start),
        *page.row_features(end - 1),
        end - start,
        max(heights),
        max(heights) - min(heights),
        *_text_features(" ".join(texts)),
        *_text_features(above),
        *_text_features(below),
        sum(1 for i in suffix_rows if i < start),
        sum(1 for row in page.rows[:start] if ADDRESS.search(row.text.upper())),
        float(bool(suffix_rows) and suffix_rows[0] in range(start, end)),
    ]


def merchant_text(page: Page, rows: tuple[int, ...]) -> str:
    return canonical_name(" ".join(page.rows[i].text for i in rows))


def address_text(page: Page, rows: tuple[int, ...]) -> str:
    """The address in one canonical form, as the merchant's: upper case, one space."""
    return re.sub(r"\s+", " ", " ".join(page.rows[i].text for i in rows)).strip().upper()


def merchant_candidates(page: Page, rule: str | None = None) -> list[Candidate]:
    candidates = []
    limit = min(len(page.rows), HEADER_ROWS)
    for start in range(limit):
        for end in (start + 1, start + 2):
            if end > limit:
                continue
            rows = tuple(range(start, end))
            text = merchant_text(page, rows)
            if not re.search(r"[^\W\d_]{2}", text):
                continue
            features = [*_span_features(page, start, end), float(rule == text)]
            candidates.append(Candidate(text, rows, features))
    return candidates


def address_candidates(page: Page) -> list[Candidate]:
    candidates = []
    limit = min(len(page.rows), HEADER_ROWS + MAX_ADDRESS_ROWS)
    for start in range(min(limit, HEADER_ROWS)):
        for end in range(start + 1, min(start + MAX_ADDRESS_ROWS, limit) + 1):
            rows = tuple(range(start, end))
            texts = [page.rows[i].text.upper() for i in rows]
            features = [
                *_span_features(page, start, end),
                sum(1 for t in texts if _POSTCODE.search(t)),
                sum(1 for t in texts if _STREET.search(t)),
                sum(1 for t in texts if _PHONE.search(t) or _TAX_ID.search(t)),
            ]
            candidates.append(Candidate(address_text(page, rows), rows, features))
    return candidates


FEATURES: dict[str, list[str]] = {
    "total": TOTAL_FEATURES,
    "date": DATE_FEATURES,
    "merchant": MERCHANT_FEATURES,
    "address": ADDRESS_FEATURES,
}
