"""Cursor connections: ``edges { cursor node }``, ``pageInfo`` and ``totalCount``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import strawberry

from db.pagination import Page

NodeT = TypeVar("NodeT")
RowT = TypeVar("RowT")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT


@strawberry.type
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    total_count: int

    @classmethod
    def of(cls, page: Page[RowT], convert: Callable[[RowT], NodeT]) -> Connection[NodeT]:
        return cls.of_nodes(page, [convert(row) for row in page.rows])

    @classmethod
    def of_nodes(cls, page: Page[RowT], nodes: Sequence[NodeT]) -> Connection[NodeT]:
        """The page with its rows already built into nodes, in the same order."""
        return cls(
            edges=[
                Edge(cursor=cursor, node=node)
                for node, cursor in zip(nodes, page.cursors, strict=True)
            ],
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
            total_count=page.total_count,
        )
