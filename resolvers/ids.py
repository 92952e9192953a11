"""Global IDs: ``<type>_<uuid>``, the type word being the lower-case GraphQL type name."""

from __future__ import annotations

import uuid


def encode(kind: str, value: uuid.UUID) -> str:
    return f"{kind}_{value}"


def decode(global_id: str) -> tuple[str, uuid.UUID] | None:
    kind, _, raw = global_id.partition("_")
    if not kind or not raw:
        return None
    try:
        return kind, uuid.UUID(raw)
    except ValueError:
        return None


def decode_as(kind: str, global_id: str) -> uuid.UUID | None:
    """The UUID of an ID of ``kind``; None for malformed IDs and IDs of other types."""
    decoded = decode(global_id)
    if decoded is None or decoded[0] != kind:
        return None
    return decoded[1]
