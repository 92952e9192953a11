"""What the emails say: a subject, plain text and HTML per message, in the user's language
where a translation exists (``resolvers/mail/<language>/``), English otherwise.

Each message is two Jinja templates: ``<name>.txt`` holds the blocks ``subject`` and
``body``; ``<name>.html`` extends ``base.html`` and is autoescaped, so a display name
cannot inject markup.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import babel
import babel.dates
from jinja2 import Environment, PackageLoader, StrictUndefined, Template, select_autoescape

DEFAULT_LANGUAGE = "en"
LANGUAGES = frozenset({"en", "de"})


class MessageKind(enum.StrEnum):
    PASSWORD_RESET = "password_reset"
    PASSWORD_RESET_EXTERNAL = "password_reset_external"
    """To an account that signs in only through the OpenID issuer: it has no password here."""
    VERIFY_EMAIL = "verify_email"
    REMINDER = "reminder"
    DAILY_DIGEST = "daily_digest"


@dataclass(frozen=True)
class Composed:
    subject: str
    text: str
    html: str


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("resolvers", "mail"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
    )


def language_of(locale: str | None) -> str:
    """The language of a BCP 47 locale (``de-AT``: ``de``) when there is a translation."""
    try:
        language = babel.Locale.parse((locale or "").replace("-", "_")).language
    except (ValueError, TypeError, babel.UnknownLocaleError):
        return DEFAULT_LANGUAGE
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def duration(value: timedelta, language: str) -> str:
    """ "30 minutes", "2 Tage": the lifetime of a link, in words of the language."""
    return babel.dates.format_timedelta(value, threshold=2, locale=language)


def babel_locale(locale: str | None) -> babel.Locale:
    """The user's BCP 47 locale (``en-US``) for formatting; English when unknown."""
    try:
        return babel.Locale.parse((locale or "").replace("-", "_"))
    except (ValueError, TypeError, babel.UnknownLocaleError):
        return babel.Locale.parse(DEFAULT_LANGUAGE)


def moment_in(
    value: datetime,
    timezone: str,
    locale: str | None,
    *,
    date_only: bool = False,
    time_only: bool = False,
) -> str:
    """An instant as the user reads it, in their time zone and locale: "Dec 1, 2026, 9:30
    AM", "01.12.2026, 09:30"; with ``date_only`` the full date, "Tuesday, December 1, 2026",
    with ``time_only`` the time. CLDR's narrow no-break spaces become plain ones, which
    every mail client shows alike."""
    where = babel_locale(locale)
    local = value.astimezone(ZoneInfo(timezone))
    day = babel.dates.format_date(local.date(), "full" if date_only else "medium", locale=where)
    clock = babel.dates.format_time(local.time(), "short", locale=where)
    if date_only:
        text = day
    elif time_only:
        text = clock
    else:
        text = str(where.datetime_formats["medium"]).format(clock, day)
    return text.replace("\u202f", " ")


def compose(kind: MessageKind, locale: str | None, **values: Any) -> Composed:
    language = language_of(locale)
    environment = _environment()
    text = environment.get_template(f"{language}/{kind.value}.txt")
    subject = " ".join(_block(text, "subject", values).split())
    html = environment.get_template(f"{language}/{kind.value}.html")
    return Composed(
        subject=subject,
        text=_block(text, "body", values).strip() + "\n",
        html=html.render(language=language, subject=subject, **values),
    )


def _block(template: Template, name: str, values: dict[str, Any]) -> str:
    return "".join(template.blocks[name](template.new_context(values)))
