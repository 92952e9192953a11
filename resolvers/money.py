"""Money and quantities: ``Decimal`` end to end. What leaves the API is formatted here:
money with the currency's minor digits, quantities as plain decimals."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

import babel.numbers

MAX_AMOUNT = Decimal("1000000000000")
STORED_PLACES = Decimal("0.0001")  # of the money columns, numeric(20, 4)


@cache
def minor_digits(currency: str) -> int:
    try:
        return int(babel.numbers.get_currency_precision(currency))
    except (KeyError, ValueError):
        return 2


def quantize(amount: Decimal, currency: str) -> Decimal:
    """``Decimal("12.3000")`` in EUR → ``Decimal("12.30")``; in JPY → ``Decimal("12")``."""
    return amount.quantize(Decimal(1).scaleb(-minor_digits(currency)), rounding=ROUND_HALF_EVEN)


def stored(quantity: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
    """A quantity at the places the database keeps, rounded as PostgreSQL would (an
    exponent such as ``1E-999999999`` cannot even be sent to it)."""
    return quantity.quantize(STORED_PLACES, rounding=rounding)


def plain(quantity: Decimal) -> Decimal:
    """A quantity without exponent or trailing zeros: ``10.0000`` → ``10`` (not ``1E+1``),
    ``0.5000`` → ``0.5``."""
    normal = quantity.normalize()
    exponent = normal.as_tuple().exponent
    return normal.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else normal


def amount_problem(amount: Decimal, currency: str, *, allow_zero: bool = True) -> str | None:
    try:
        if not amount.is_finite():
            return "Use a number."
        if amount < 0 or (amount == 0 and not allow_zero):
            return "Use a positive amount."
        if amount >= MAX_AMOUNT:
            return "The amount is too large."
        # Exactly, not after normalize(): that rounds to 28 digits, and 1E-999999999 to 0.
        if quantize(amount, currency) != amount:
            return f"{currency} has {minor_digits(currency)} decimal places."
    except InvalidOperation:
        return "Use a number."
    return None
