"""Purchases. The type is declared here so ``node(id:)`` fragments validate; its fields and
operations arrive with the purchases domain."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from schema.node import Node


@strawberry.type
class Purchase(Node):
    id: strawberry.ID
    amount: Decimal
