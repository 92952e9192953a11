"""Arguments of cursor connections, checked the same way for every list."""

from __future__ import annotations

from lifegraph.errors import BadUserInput

DEFAULT_FIRST = 20
MAX_FIRST = 100


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_FIRST
    if not 0 <= first <= MAX_FIRST:
        raise BadUserInput(f"'first' must be between 0 and {MAX_FIRST}.")
    return first


def bad_cursor() -> BadUserInput:
    return BadUserInput("'after' is not a cursor of this list.")
