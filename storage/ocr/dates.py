"""Calendar dates as printed on receipts, in the many ways shops print them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

# Receipts older than this or further ahead are misreadings (a phone number, a code...).
MIN_YEAR = 1990
MAX_YEAR = 2099

_MONTHS = {
    "JAN": 1,
    "FEB": 2,
    "MAR": 3,
    "APR": 4,
    "MAY": 5,
    "JUN": 6,
    "JUL": 7,
    "AUG": 8,
    "SEP": 9,
    "OCT": 10,
    "NOV": 11,
    "DEC": 12,
    # Malay, Indonesian, German and French spellings that differ from the English ones.
    "MAC": 3,
    "MEI": 5,
    "MAI": 5,
    "OGO": 8,
    "AGU": 8,
    "AGO": 8,
    "OKT": 10,
    "DIS": 12,
    "DES": 12,
    "DEZ": 12,
    "MRZ": 3,
    "MÄR": 3,
    "FÉV": 2,
    "AVR": 4,
    "AOÛ": 8,
    "DÉC": 12,
}
_MONTH = r"(?P<month>(?:" + "|".join(_MONTHS) + r")[A-ZÄÉÛ]*\.?)"
_YEAR = r"(?P<year>\d{4}|\d{2})"
# A year may run straight into the time when OCR drops the space: "10-03-201823:03:06".
_YEAR_END = r"(?=\D|$|\d{1,2}:\d{2})"


@dataclass(frozen=True)
class FoundDate:
    """A date found in a line of text. quality is 3 for a clearly written date, less for a
    date read from a damaged or compact form."""

    value: date
    start: int
    end: int
    quality: int


_PATTERNS: list[tuple[re.Pattern[str], int, str]] = [
    # 2018-12-25, 2018/12/25, and 2018-01-0522:55 where OCR lost the space before the time
    (
        re.compile(
            r"(?<!\d)(?P<year>\d{4})(?P<sep>[-/.])(?P<a>\d{1,2})(?P=sep)(?P<b>\d{1,2})"
            r"(?:(?!\d)|(?=\d{2}:\d{2}))"
        ),
        3,
        "ymd",
    ),
    # 25/12/2018, 25-12-18, 25.12.2018, 12/28/2017 (month first only when day first is impossible)
    (
        re.compile(
            r"(?<![\d/.-])(?P<a>\d{1,2})\s?(?P<sep>[-/.])\s?(?P<b>\d{1,2})\s?(?P=sep)\s?"
            + _YEAR
            + _YEAR_END
        ),
        3,
        "numeric",
    ),
    # 25 Dec 2018, 25-DEC-18, 17JAN2018, 28 Mar 18
    (
        re.compile(
            r"(?<!\d)(?P<day>\d{1,2})(?:ST|ND|RD|TH)?[\s/.-]*"
            + _MONTH
            + r"[\s/.,-]*"
            + _YEAR
            + r"(?!\d)"
        ),
        3,
        "dmy",
    ),
    # Dec 25, 2018; December 25th 2018
    (
        re.compile(_MONTH + r"\s*(?P<day>\d{1,2})(?:ST|ND|RD|TH)?,?\s*(?P<year>\d{4})(?!\d)"),
        3,
        "mdy",
    ),
    # After a code and a dash ("REG #19-18/03/2018"), with its own separator.
    (
        re.compile(
            r"(?<=\d-)(?P<a>\d{1,2})(?P<sep>[/.])(?P<b>\d{1,2})(?P=sep)" + _YEAR + _YEAR_END
        ),
        2,
        "numeric",
    ),
    # A two-digit year run into the time ("06/04/1711:43").
    (
        re.compile(
            r"(?<![\d/.-])(?P<a>\d{1,2})(?P<sep>[-/.])(?P<b>\d{1,2})(?P=sep)(?P<year>\d{2})"
            r"(?=\d{1,2}:\d{2})"
        ),
        2,
        "numeric",
    ),
    # Damaged forms: a separator misread ("05~05-17") or lost ("2703/2018", "05 02-18"), or
    # none printed ("20180304").
    (
        re.compile(r"(?<![\d/.-])(?P<a>\d{1,2})[~-](?P<b>\d{1,2})[~-]" + _YEAR + r"(?!\d)"),
        1,
        "numeric",
    ),
    (re.compile(r"(?<!\d)(?P<a>\d{2})(?P<b>\d{2})[/.-](?P<year>\d{4})(?!\d)"), 1, "numeric"),
    (
        re.compile(r"(?<![\d/.-])(?P<a>\d{1,2}) (?P<b>\d{1,2})[/-]" + _YEAR + r"(?!\d)"),
        1,
        "numeric",
    ),
    (
        re.compile(r"(?<![\d/.-])(?P<a>\d{1,2})[/-](?P<b>\d{1,2}) " + _YEAR + r"(?!\d)"),
        1,
        "numeric",
    ),
    (re.compile(r"(?<!\d)(?P<compact>\d{8})(?!\d)"), 1, "compact"),
]


def find_dates(text: str) -> list[FoundDate]:
    """Every date in a line of text, left to right; overlapping readings keep the best."""
    upper = text.upper()
    found: list[FoundDate] = []
    for pattern, quality, kind in _PATTERNS:
        for match in pattern.finditer(upper):
            value = _to_date(match, kind)
            if value is None:
                continue
            if any(match.start() < other.end and other.start < match.end() for other in found):
                continue
            found.append(FoundDate(value, match.start(), match.end(), quality))
    return sorted(found, key=lambda d: d.start)


def parse_date(text: str) -> date | None:
    """The first date in a string such as a Textract field value."""
    found = find_dates(text)
    return max(found, key=lambda d: d.quality).value if found else None


def _to_date(match: re.Match[str], kind: str) -> date | None:
    groups = match.groupdict()
    if kind == "compact":
        digits = groups["compact"]
        # 20180304 (year first) or 04032018 (year last).
        return _make(int(digits[:4]), int(digits[4:6]), int(digits[6:])) or _make(
            int(digits[4:]), int(digits[2:4]), int(digits[:2])
        )
    year = _full_year(groups["year"])
    if kind == "ymd":
        return _make(year, int(groups["a"]), int(groups["b"]))
    if kind in ("dmy", "mdy"):
        return _make(year, _MONTHS[groups["month"][:3]], int(groups["day"]))
    first, second = int(groups["a"]), int(groups["b"])
    # Day first unless that is impossible (12/28/2017).
    return _make(year, second, first) or _make(year, first, second)


def _full_year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 70 else 1900
    return year


def _make(year: int, month: int, day: int) -> date | None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None
