"""Shapes the top-level ``errors``: every error carries ``extensions.code``, and server
faults are logged with their traceback but reach the client as a bare message."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from lifegraph.errors import ApiError

logger = logging.getLogger("lifegraph.errors")

INTERNAL_MESSAGE = "Internal server error."


def shape_error(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, ApiError):
        error.extensions = {**(error.extensions or {}), "code": original.code}
        return error
    if original is None or isinstance(original, GraphQLError) or error.path is None:
        # Parse, validation and variable coercion errors: the client's request is at fault.
        # Strawberry's depth limiter reports through validation, recognisable by its message.
        too_deep = "exceeds maximum operation depth" in error.message
        code = "QUERY_TOO_COMPLEX" if too_deep else "BAD_USER_INPUT"
        error.extensions = {**(error.extensions or {}), "code": code}
        return error
    logger.error("unhandled error at %s", error.path, exc_info=original)
    return GraphQLError(
        INTERNAL_MESSAGE,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR"},
    )


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [shape_error(error) for error in errors]
