"""What receipts and notes share for uploads: the presigned POST a client sends a large
file with, its input and its payload (the rules are :mod:`resolvers.uploads`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

import strawberry
from strawberry.scalars import JSON

from schema.errors import Payload, UserError
from storage.objects import PresignedPost


@strawberry.type(description="Send `fields` then the file as `file` in a multipart POST to `url`.")
class PresignedUpload:
    key: str
    url: str
    fields: JSON
    expires_at: datetime
    max_size: int

    @classmethod
    def from_post(cls, post: PresignedPost) -> Self:
        fields: Any = dict(post.fields)
        return cls(
            key=post.key,
            url=post.url,
            fields=fields,
            expires_at=post.expires_at,
            max_size=post.max_size,
        )


@strawberry.input
class CreateUploadInput:
    filename: str
    content_type: str
    size: int


@strawberry.type
class UploadPayload(Payload):
    upload: PresignedUpload | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: PresignedPost) -> Self:
        return cls(upload=PresignedUpload.from_post(result))
