"""Checks of user input shared by the domains."""

from __future__ import annotations

import re
import zoneinfo
from functools import cache

import babel
import babel.numbers

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL_LENGTH = 320


def normalise_email(email: str) -> str:
    """Emails are trimmed and case-folded, so one address has one account."""
    return email.strip().casefold()


def email_problem(email: str) -> str | None:
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        return "Enter a valid email address."
    return None


def display_name_problem(name: str) -> str | None:
    if not 1 <= len(name) <= 100:
        return "Use 1 to 100 characters."
    return None


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_timezone(name: str) -> bool:
    return name in _timezones()


@cache
def _currencies() -> frozenset[str]:
    return frozenset(babel.numbers.list_currencies())


def is_currency(code: str) -> bool:
    return code in _currencies()


def canonical_locale(tag: str) -> str | None:
    """A BCP 47 tag as ``en-US``, or None when no such locale is known."""
    try:
        locale = babel.Locale.parse(tag.replace("_", "-"), sep="-")
    except (ValueError, TypeError, babel.UnknownLocaleError):
        return None
    return str(locale).replace("_", "-")
