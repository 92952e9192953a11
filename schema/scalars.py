"""Scalars as the client contract describes them. ``DateTime`` always leaves in UTC and
must arrive with an offset (the rules are :mod:`resolvers.dates`); ``Upload`` takes only
files (:func:`resolvers.uploads.parse_upload`); ``Decimal``, ``Date`` and ``JSON`` are
Strawberry's."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types.scalar import ScalarDefinition

from resolvers.dates import format_instant, parse_instant
from resolvers.uploads import parse_upload

DATETIME = strawberry.scalar(
    name="DateTime",
    description="ISO 8601 date and time with an offset; returned in UTC.",
    serialize=format_instant,
    parse_value=parse_instant,
)

UPLOAD = strawberry.scalar(
    name="Upload",
    description="Represents a file upload.",
    serialize=lambda value: value,
    parse_value=parse_upload,
)

SCALAR_MAP: dict[object, ScalarDefinition] = {datetime: DATETIME, Upload: UPLOAD}
