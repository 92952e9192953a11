"""Scalars as the client contract describes them. ``DateTime`` always leaves in UTC and
must arrive with an offset (the rules are :mod:`resolvers.dates`); ``Decimal``, ``Date``,
``JSON`` and ``Upload`` are Strawberry's."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types.scalar import ScalarDefinition

from resolvers.dates import format_instant, parse_instant

DATETIME = strawberry.scalar(
    name="DateTime",
    description="ISO 8601 date and time with an offset; returned in UTC.",
    serialize=format_instant,
    parse_value=parse_instant,
)

SCALAR_MAP: dict[object, ScalarDefinition] = {datetime: DATETIME}
