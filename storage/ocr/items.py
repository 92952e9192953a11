"""The purchased lines of a receipt: the unlabelled amounts between its header and totals."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from .base import OcrItem
from .dates import find_dates
from .layout import Row
from .money import Amount, find_amounts
from .totals import Kind, has_words, labelled_amounts

# Quantity markers: "2 X 8.02", "2x", "2pc @ 9.89", "1 PC".
_QUANTITY = re.compile(
    r"(?<![\d.])(?P<qty>\d{1,4}(?:\.\d{1,3})?)\s?(?:X|\u00d7|\*|@|PCS?\b|UNITS?\b|EA\b|NOS\b)",
    re.IGNORECASE,
)
_BARE_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:\.\d{1,3})?)(?![\w.,%])")
# Words of an item line that are no part of its description: product codes, bar codes,
# numbers, percentages, tax codes.
_CODE = re.compile(
    r"^(?:[#*~=@-]+|\d{4,}[\w-]*|[A-Z]{1,3}\d[\w/-]*|SR:?|ZR:?|ZRL|S:|\d+(?:\.\d+)?%?|@?\d+\.\d+)$",
    re.IGNORECASE,
)
_COLUMNS = re.compile(r"\b(?:QTY|DESC|DESCRIPTION|ITEM|PRICE|AMOUNT|AMT)\b", re.IGNORECASE)
_MAX_QUANTITY = 999


def find_items(rows: Sequence[Row]) -> list[OcrItem]:
    """Each purchased line with its amount, and quantity and unit price where printed.

    Item rows are the rows with unlabelled amounts before the first total, tax or payment
    (single-item discounts count as items). A row without words takes its description from
    the row above it, or, when the receipt prints descriptions under the amounts, below.
    """
    amounts = labelled_amounts(rows)
    # Items come after the column headings or the date, when the receipt prints them.
    floor = next((i for i, row in enumerate(rows) if _is_heading(row.text)), 0)
    item_rows = [a.row for a in amounts if a.row > floor and a.kind in (Kind.OTHER, Kind.DISCOUNT)]
    if not item_rows:
        return []
    first = item_rows[0]
    end = next(
        (a.row for a in amounts if a.row > first and a.kind not in (Kind.OTHER, Kind.DISCOUNT)),
        len(rows),
    )
    start = _start(rows, first)
    described_below = not _description(_before_amounts(rows[first].text)) and not any(
        _text_row(rows[i]) for i in range(start, first)
    )
    items: list[OcrItem] = []
    index = start
    above = ""
    while index < end:
        row = rows[index]
        index += 1
        text = row.text
        found = find_amounts(text)
        if not found:
            if _text_row(row):
                above = _description(text) or above
            continue
        description = _description(_before_amounts(text))
        if not description and described_below:
            below = []
            while index < end and _text_row(rows[index]):
                below.append(_description(rows[index].text))
                index += 1
            description = " ".join(part for part in below if part)
        item = _item(description or above, text, found)
        if item is not None:
            items.append(item)
        above = ""
    return items


def _start(rows: Sequence[Row], first_item: int) -> int:
    """The row after the column headings (or the date) above the first item."""
    for index in range(first_item - 1, -1, -1):
        if _is_heading(rows[index].text):
            return index + 1
    return first_item


def _is_heading(text: str) -> bool:
    return _COLUMNS.search(text) is not None or bool(find_dates(text))


def _text_row(row: Row) -> bool:
    return has_words(row.text) and not _COLUMNS.search(row.text) and not find_amounts(row.text)


def _before_amounts(text: str) -> str:
    found = find_amounts(text)
    return text[: found[0].start] if found else text


def _item(description: str, text: str, found: list[Amount]) -> OcrItem | None:
    if not description:
        return None
    amount = found[-1].value
    unit = found[-2].value if len(found) >= 2 else None
    quantity = _quantity(text[: found[0].start])
    if unit is not None and unit > 0:
        ratio = amount / unit
        whole = ratio == ratio.to_integral_value() and 0 < ratio <= _MAX_QUANTITY
        if quantity is None or abs(quantity * unit - amount) > Decimal("0.05"):
            # Trust the prices over a misread quantity; drop a "unit price" that is not one.
            quantity = ratio.to_integral_value() if whole else None
            unit = unit if whole else None
    elif unit is not None:
        unit = None
    return OcrItem(description=description, quantity=quantity, unit_price=unit, amount=amount)


def _quantity(text: str) -> Decimal | None:
    marked = list(_QUANTITY.finditer(text))
    if marked:
        return Decimal(marked[-1].group("qty"))
    bare = _BARE_NUMBER.findall(text)
    if bare:
        value = Decimal(bare[-1])
        return value if value > 0 else None
    return None


def _description(text: str) -> str:
    """The words of an item line without codes, quantities and tax codes."""
    words = [word for word in text.split() if not _CODE.match(word)]
    cleaned = " ".join(words)
    cleaned = re.sub(r"\s*\d+(?:\.\d+)?\s?(?:X|\u00d7|@)\s*$", "", cleaned, flags=re.IGNORECASE)
    cleaned = cleaned.strip(" -:*~@")
    return cleaned if has_words(cleaned) and len(re.sub(r"[^\w]", "", cleaned)) >= 3 else ""
