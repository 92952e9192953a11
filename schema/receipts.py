"""Receipts. The type is declared here so ``node(id:)`` fragments validate; its fields and
operations arrive with the receipts domain."""

from __future__ import annotations

from enum import Enum

import strawberry

from schema.node import Node


@strawberry.enum
class ReceiptStatus(Enum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    PROCESSED = "PROCESSED"
    FAILED = "FAILED"


@strawberry.type
class Receipt(Node):
    id: strawberry.ID
    status: ReceiptStatus
