"""Notes. The type is declared here so ``node(id:)`` fragments validate; its fields and
operations arrive with the notes domain."""

from __future__ import annotations

import strawberry

from schema.node import Node


@strawberry.type
class Note(Node):
    id: strawberry.ID
    title: str
