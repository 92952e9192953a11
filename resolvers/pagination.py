"""Arguments of cursor connections, checked the same way for every list."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from db.pagination import InvalidCursor
from resolvers.errors import BadUserInput

DEFAULT_FIRST = 20
MAX_FIRST = 100


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_FIRST
    if not 0 <= first <= MAX_FIRST:
        raise BadUserInput(f"'first' must be between 0 and {MAX_FIRST}.")
    return first


@contextlib.contextmanager
def cursor_checked() -> Iterator[None]:
    """A cursor this server did not issue for the list is the client's error."""
    try:
        yield
    except InvalidCursor as error:
        raise BadUserInput("'after' is not a cursor of this list.") from error
