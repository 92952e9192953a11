"""Full-text search helpers shared by the domains."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import ColumnElement, func

_WORD = re.compile(r"\w+", re.UNICODE)
CONFIG = "simple"


def prefix_query(text: str) -> str | None:
    """``'cof bea'`` → ``'cof:* & bea:*'``: every word, each as a prefix (search as you type)."""
    words = _WORD.findall(unicodedata.normalize("NFC", text).lower())
    if not words:
        return None
    return " & ".join(f"{word}:*" for word in words[:20])


def matches(vector: Any, query: str) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = vector.bool_op("@@")(func.to_tsquery(CONFIG, query))
    return condition
