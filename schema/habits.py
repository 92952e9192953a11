"""Habits. The type is declared here so ``node(id:)`` fragments validate; its fields and
operations arrive with the habits domain."""

from __future__ import annotations

import strawberry

from schema.node import Node


@strawberry.type
class Habit(Node):
    id: strawberry.ID
    name: str
