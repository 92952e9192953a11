"""Shapes every error the schema reports (queries, mutations, subscriptions alike): each
carries ``extensions.code``, and server faults are logged with their traceback but reach
the client as a bare message."""

from __future__ import annotations

import logging

from graphql import GraphQLError

from resolvers.errors import ApiError, ApiErrorCode

logger = logging.getLogger("lifegraph.errors")

INTERNAL_MESSAGE = "Internal server error."


def shape_error(error: GraphQLError) -> None:
    """Sets the error's code, and hides a server fault's message, in place."""
    original = error.original_error
    extensions = dict(error.extensions or {})
    if isinstance(original, ApiError):
        extensions["code"] = original.code
    elif original is None or isinstance(original, GraphQLError) or error.path is None:
        # Parse, validation and variable coercion errors: the client's request is at fault.
        # Strawberry's depth limiter reports through validation, recognisable by its message.
        too_deep = "exceeds maximum operation depth" in error.message
        extensions.setdefault(
            "code", ApiErrorCode.QUERY_TOO_COMPLEX if too_deep else ApiErrorCode.BAD_USER_INPUT
        )
    else:
        logger.error("unhandled error at %s", error.path, exc_info=original)
        error.message = INTERNAL_MESSAGE
        error.original_error = None
        extensions = {"code": ApiErrorCode.INTERNAL_SERVER_ERROR}
    error.extensions = extensions
