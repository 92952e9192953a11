"""Checks of user input shared by the domains."""

from __future__ import annotations

import re
import unicodedata
import zoneinfo
from functools import cache

import babel
import babel.numbers

from resolvers.errors import BadUserInput, Problems

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL_LENGTH = 320
MAX_SEARCH_LENGTH = 200
MAX_DISPLAY_NAME_LENGTH = 100
# PostgreSQL text holds any code point but NUL; surrogates have no UTF-8 form.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE = "Remove the NUL characters and unpaired surrogates: text cannot hold them."


def storable(text: str) -> bool:
    return _UNSTORABLE.search(text) is None


def clean_text(
    value: str, *, max_length: int, min_length: int = 0, trim: bool = True
) -> tuple[str, str | None]:
    """The text trimmed (unless ``trim`` is false) and in NFC, with what is wrong with it,
    if anything. In NFC, a "Café" typed with a combining accent is the "Café" a search finds."""
    if not storable(value):
        return value, UNSTORABLE
    text = unicodedata.normalize("NFC", value.strip() if trim else value)
    if min_length and not text:
        return text, "This cannot be empty."
    if not min_length <= len(text) <= max_length:
        span = f"{min_length:,} to {max_length:,}" if min_length else f"at most {max_length:,}"
        return text, f"Use {span} characters."
    return text, None


def checked_text(
    value: str | None,
    field: tuple[str, ...],
    problems: Problems,
    *,
    max_length: int,
    min_length: int = 0,
    trim: bool = True,
) -> str:
    """:func:`clean_text` of a field (None is empty), its problem added to ``problems``."""
    text, problem = clean_text(value or "", max_length=max_length, min_length=min_length, trim=trim)
    if problem:
        problems.add(field, problem)
    return text


def search_text(
    value: str | None, name: str = "search", max_length: int = MAX_SEARCH_LENGTH
) -> str | None:
    """A free-text filter argument cleaned like stored text, or BAD_USER_INPUT."""
    if value is None:
        return None
    text, problem = clean_text(value, max_length=max_length)
    if problem:
        raise BadUserInput(f"'{name}': {problem}")
    return text


def normalise_email(email: str) -> str:
    """Emails are trimmed, case-folded and in NFC, so one address has one account.

    Characters text cannot hold become U+FFFD, which :func:`email_problem` refuses: a
    sign-in with such an address fails like any unknown one, and none is stored."""
    return unicodedata.normalize("NFC", _UNSTORABLE.sub("\ufffd", email).strip().casefold())


def email_problem(email: str) -> str | None:
    if "\ufffd" in email or not storable(email):
        return UNSTORABLE
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        return "Enter a valid email address."
    return None


def display_name_problem(name: str) -> str | None:
    return clean_text(name, min_length=1, max_length=MAX_DISPLAY_NAME_LENGTH)[1]


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
