"""Errors that reach the client in the top-level ``errors`` array with ``extensions.code``.

Anything else raised while resolving is a server fault: it is logged with its traceback
and the client sees only ``INTERNAL_SERVER_ERROR``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class ApiErrorCode(StrEnum):
    """``extensions.code`` of the top-level errors."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    NOT_FOUND = "NOT_FOUND"
    RATE_LIMITED = "RATE_LIMITED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class ErrorCode(StrEnum):
    """The ``code`` of a payload's ``userErrors`` (the GraphQL enum ``ErrorCode``)."""

    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    RATE_LIMITED = "RATE_LIMITED"
    TOO_LARGE = "TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    LIMIT_REACHED = "LIMIT_REACHED"


class ApiError(Exception):
    code: ClassVar[ApiErrorCode] = ApiErrorCode.INTERNAL_SERVER_ERROR
    default_message: ClassVar[str] = "Internal server error."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default_message)

    @property
    def extensions(self) -> dict[str, object]:
        """What the error adds to ``extensions`` beside its code."""
        return {}


class Unauthenticated(ApiError):
    code = ApiErrorCode.UNAUTHENTICATED
    default_message = "Sign-in required."


class Forbidden(ApiError):
    code = ApiErrorCode.FORBIDDEN
    default_message = "You do not have permission to do this."


class BadUserInput(ApiError):
    code = ApiErrorCode.BAD_USER_INPUT
    default_message = "Invalid input."


class NotFound(ApiError):
    code = ApiErrorCode.NOT_FOUND
    default_message = "Not found."


class RateLimited(ApiError):
    code = ApiErrorCode.RATE_LIMITED
    default_message = "Too many requests; try again later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def extensions(self) -> dict[str, object]:
        return {"retryAfter": self.retry_after}


class QueryTooComplex(ApiError):
    code = ApiErrorCode.QUERY_TOO_COMPLEX
    default_message = "The query is too complex."


class Problem:
    """One expected failure, reported in a payload's ``userErrors``."""

    __slots__ = ("code", "field", "message")

    def __init__(self, field: tuple[str, ...] | None, message: str, code: ErrorCode) -> None:
        self.field = field
        self.message = message
        self.code = code


class UserErrors(Exception):
    """Raised inside a mutation's transaction: it rolls back and the payload lists the problems."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems

    @classmethod
    def one(cls, field: tuple[str, ...] | None, message: str, code: ErrorCode) -> UserErrors:
        return cls([Problem(field, message, code)])


class Problems:
    """Collects every problem of an input before failing, so a form can show them all at once."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(
        self, field: tuple[str, ...] | None, message: str, code: ErrorCode = ErrorCode.INVALID
    ) -> None:
        self.items.append(Problem(field, message, code))

    def has(self, field: tuple[str, ...]) -> bool:
        return any(problem.field == field for problem in self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise UserErrors(self.items)
