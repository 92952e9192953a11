"""Amounts of money and currencies as printed on receipts. Decimal throughout, never float."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation


@dataclass(frozen=True)
class Amount:
    """An amount found in a line of text, with where it stands in that line."""

    value: Decimal
    start: int
    end: int


# An amount in OCR text: two decimals after a point or comma, optional thousands
# separators, an optional minus sign and currency before it. Two decimals keep quantities,
# percentages and unit prices printed to three or four decimals out.
_AMOUNT = re.compile(
    r"""
    (?P<sign>-\s?)?
    (?:(?:RM|MYR|US\$|\$|€|£)\s?)?
    (?P<sign2>-\s?)?
    (?<![\d.,])
    (?P<int>\d{1,3}(?:,\d{3})+(?=\.)|\d{1,3}(?:\.\d{3})+(?=,)|\d+)?
    [.,](?P<dec>\d{2})
    (?![\d%])
    """,
    re.VERBOSE | re.IGNORECASE,
)
# "10 00" where OCR lost the decimal point; only trusted on a row already known to be a total.
_SPACED_AMOUNT = re.compile(r"(?<![\d.,])(\d{1,5}) (\d{2})\s*[A-Z]?\s*$")


def find_amounts(text: str) -> list[Amount]:
    """Every amount in a line of receipt text, left to right."""
    found = []
    for match in _AMOUNT.finditer(text):
        whole = match.group("int")
        if whole is None and not _loose_prefix(text, match):
            continue
        whole = re.sub(r"[.,]", "", whole or "0")
        value = Decimal(f"{whole}.{match.group('dec')}")
        if match.group("sign") or match.group("sign2"):
            value = -value
        found.append(Amount(value, match.start(), match.end()))
    return found


def find_spaced_amount(text: str) -> Amount | None:
    """A trailing amount printed or read with a space for its decimal point ("88 17")."""
    match = _SPACED_AMOUNT.search(text)
    if match is None:
        return None
    return Amount(Decimal(f"{match.group(1)}.{match.group(2)}"), match.start(), match.end())


def _loose_prefix(text: str, match: re.Match[str]) -> bool:
    """An amount written without its leading zero (".50") must stand apart from other text."""
    before = text[: match.start("dec") - 1].rstrip()
    return before == "" or before.upper().endswith(("RM", "$", ":"))


def parse_money(text: str) -> Decimal | None:
    """Parses one printed amount: "$1,234.50", "RM 12.30", "12,30 €", "1.234,50", "(5.00)".

    A lone separator followed by three digits is taken as a thousands separator.
    """
    cleaned = text.strip()
    negative = cleaned.startswith(("-", "(")) or cleaned.endswith("-")
    digits = re.sub(r"[^\d.,]", "", cleaned)
    if not re.search(r"\d", digits):
        return None
    last_point, last_comma = digits.rfind("."), digits.rfind(",")
    if last_point >= 0 and last_comma >= 0:
        decimal_mark = "." if last_point > last_comma else ","
    elif last_point >= 0 or last_comma >= 0:
        mark = "." if last_point >= 0 else ","
        decimals = len(digits) - digits.rfind(mark) - 1
        decimal_mark = mark if digits.count(mark) == 1 and decimals != 3 else ""
    else:
        decimal_mark = ""
    if decimal_mark:
        whole, _, fraction = digits.rpartition(decimal_mark)
        number = re.sub(r"[.,]", "", whole) + "." + fraction
    else:
        number = re.sub(r"[.,]", "", digits)
    try:
        value = Decimal(number)
    except InvalidOperation:
        return None
    return -value if negative else value


# Markers of a currency, most specific first. A bare "$" names no single currency.
_CURRENCY_MARKERS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"US\$"), "USD"),
    (re.compile(r"(?<![A-Z])S\$"), "SGD"),
    (re.compile(r"(?<![A-Z])A\$"), "AUD"),
    (re.compile(r"(?<![A-Z])C\$"), "CAD"),
    (re.compile(r"HK\$"), "HKD"),
    (re.compile(r"NZ\$"), "NZD"),
    (re.compile(r"(?<![A-Z])RM(?![A-Z])"), "MYR"),
    (re.compile(r"€"), "EUR"),
    (re.compile(r"£"), "GBP"),
    (re.compile(r"₹"), "INR"),
    (re.compile(r"฿"), "THB"),
    (re.compile(r"₩"), "KRW"),
    (re.compile(r"₱"), "PHP"),
    (re.compile(r"₫"), "VND"),
]
_CURRENCY_CODES = [
    "MYR",
    "USD",
    "EUR",
    "GBP",
    "SGD",
    "AUD",
    "CAD",
    "NZD",
    "HKD",
    "JPY",
    "CNY",
    "CHF",
    "SEK",
    "NOK",
    "DKK",
    "PLN",
    "CZK",
    "HUF",
    "INR",
    "IDR",
    "THB",
    "PHP",
    "VND",
    "KRW",
    "TWD",
    "AED",
    "SAR",
    "ZAR",
    "BRL",
    "MXN",
    "TRY",
]
_CODE = re.compile(r"(?<![A-Z])(" + "|".join(_CURRENCY_CODES) + r")(?![A-Z])")


def detect_currency(text: str) -> str | None:
    """The ISO 4217 code the receipt's amounts are in, if its text names one."""
    upper = text.upper()
    votes: Counter[str] = Counter()
    for pattern, code in _CURRENCY_MARKERS:
        votes[code] += len(pattern.findall(upper))
    for code in _CODE.findall(upper):
        votes[code] += 1
    votes = +votes
    if not votes:
        return None
    return votes.most_common(1)[0][0]
