"""``userErrors`` and the payload convention shared by every mutation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Self

import strawberry

from resolvers.errors import ErrorCode, UserErrors

# The rules' own enum, registered with the schema under the same name.
strawberry.enum(ErrorCode)


@strawberry.type(description="An expected failure; nothing of the mutation was stored.")
class UserError:
    field: list[str] | None = strawberry.field(
        description="Path of the input field, such as ['input', 'amount']; null for the input."
    )
    message: str
    code: ErrorCode


class Payload:
    """Runs a mutation's resolver and turns its result or its UserErrors into the payload."""

    @classmethod
    def of(cls, result: Any) -> Self:
        raise NotImplementedError

    @classmethod
    async def run(cls, call: Any, build: Callable[[Any], Awaitable[Self]] | None = None) -> Self:
        """``build`` makes the payload where it needs more than the result (the relations
        the query selects, loaded with it); else ``of`` does."""
        try:
            result = await call
        except UserErrors as errors:
            problems = [
                UserError(
                    field=list(p.field) if p.field else None,
                    message=p.message,
                    code=p.code,
                )
                for p in errors.problems
            ]
            return cls(user_errors=problems)  # type: ignore[call-arg]
        return await build(result) if build is not None else cls.of(result)


@strawberry.type
class OkPayload(Payload):
    ok: bool = False
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: bool | None) -> Self:
        return cls(ok=result is not False)


@strawberry.type
class DeletePayload(Payload):
    deleted_id: strawberry.ID | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: str) -> Self:
        return cls(deleted_id=strawberry.ID(result))
