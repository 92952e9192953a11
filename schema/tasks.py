"""Tasks. The type is declared here so ``node(id:)`` fragments validate; its fields and
operations arrive with the tasks domain."""

from __future__ import annotations

import strawberry

from schema.node import Node


@strawberry.type
class Task(Node):
    id: strawberry.ID
    title: str
