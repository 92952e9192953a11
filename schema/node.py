"""The ``Node`` interface and ``node(id:)``, which resolves any global ID for its owner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

import strawberry

from resolvers import ids
from resolvers.context import Info


@strawberry.interface
class Node:
    id: strawberry.ID


NodeFetcher: TypeAlias = Callable[[Info, str], Awaitable[Node | None]]
FetcherT = TypeVar("FetcherT", bound=NodeFetcher)
_FETCHERS: dict[str, NodeFetcher] = {}


def fetches_node(kind: str) -> Callable[[FetcherT], FetcherT]:
    """Registers how a domain loads its type for ``node(id:)``, by the ID's type word."""

    def register(fetch: FetcherT) -> FetcherT:
        _FETCHERS[kind] = fetch
        return fetch

    return register


async def resolve_node(info: Info, global_id: str) -> Node | None:
    decoded = ids.decode(global_id)
    fetch = _FETCHERS.get(decoded[0]) if decoded else None
    if decoded is None or fetch is None:
        return None
    return await fetch(info, global_id)
