"""How money and quantities leave the API (``resolvers.money``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from resolvers.money import minor_digits, plain, quantize


@pytest.mark.parametrize(
    ("quantity", "shown"),
    [
        ("10", "10"),
        ("10.0000", "10"),
        ("1E+1", "10"),
        ("100.0000", "100"),
        ("1000", "1000"),
        ("1E+3", "1000"),
        ("0.5000", "0.5"),
        ("1.2500", "1.25"),
        ("0", "0"),
        ("0.0000", "0"),
        ("0E+2", "0"),
        ("123456789012.3456", "123456789012.3456"),
    ],
)
def test_quantities_are_plain_decimals(quantity: str, shown: str) -> None:
    assert str(plain(Decimal(quantity))) == shown


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        ("9", "EUR", "9.00"),
        ("100", "USD", "100.00"),
        ("1E+2", "EUR", "100.00"),
        ("12.3000", "EUR", "12.30"),
        ("0", "EUR", "0.00"),
        ("1000.0000", "JPY", "1000"),
        ("1E+3", "JPY", "1000"),
        ("9", "KWD", "9.000"),
        ("0.125", "EUR", "0.12"),
    ],
)
def test_money_has_the_currencys_minor_digits(amount: str, currency: str, shown: str) -> None:
    assert str(quantize(Decimal(amount), currency)) == shown


def test_minor_digits() -> None:
    assert (minor_digits("EUR"), minor_digits("JPY"), minor_digits("KWD")) == (2, 0, 3)
