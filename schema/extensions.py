"""Shapes every error the schema reports (queries, mutations, subscriptions alike): each
carries ``extensions.code``, and server faults are logged with their traceback but reach
the client as a bare message with a correlation id, the same as in the log. An
unreachable database is no fault of ours to trace: ``SERVICE_UNAVAILABLE`` and a retry
hint, so clients can tell an outage worth retrying from a bug."""

from __future__ import annotations

import logging
import uuid

import structlog
from graphql import GraphQLError

from db.engine import is_unavailable
from resolvers.errors import ApiError, ApiErrorCode

logger = logging.getLogger("lifegraph.errors")

INTERNAL_MESSAGE = "Internal server error."
UNAVAILABLE_MESSAGE = "The service is unavailable for a moment; try again shortly."
UNAVAILABLE_RETRY_SECONDS = 5
LIMIT_MESSAGES = (
    "exceeds maximum operation depth",
    "tokens. Parsing aborted",
    "Maximum introspection depth exceeded",
)


def shape_error(error: GraphQLError) -> None:
    """Sets the error's code, and hides a server fault's message, in place."""
    original = error.original_error
    extensions = dict(error.extensions or {})
    if isinstance(original, ApiError):
        extensions.update(original.extensions, code=original.code)
    elif original is not None and is_unavailable(original):
        logger.warning("database unavailable at %s: %r", error.path, original)
        error.message = UNAVAILABLE_MESSAGE
        error.original_error = None
        extensions = {
            "code": ApiErrorCode.SERVICE_UNAVAILABLE,
            "retryAfter": UNAVAILABLE_RETRY_SECONDS,
        }
    elif (
        original is None
        or isinstance(original, GraphQLError)
        or (error.path is None and error.nodes)
    ):
        # Parse, validation and variable coercion errors (outside execution, pointing into
        # the document): the client's request is at fault. Any other exception, from a
        # resolver or from an extension before execution, is a fault of ours.
        # Strawberry's depth limiter and graphql-core's introspection limit report through
        # validation, the token limit through parsing, each recognisable by its message.
        limited = any(sign in error.message for sign in LIMIT_MESSAGES)
        code = ApiErrorCode.QUERY_TOO_COMPLEX if limited else ApiErrorCode.BAD_USER_INPUT
        extensions.setdefault("code", code)
    else:
        # The request's id where there is one (lifegraph.logs binds it), so that the
        # client's correlation id finds the request's every line.
        correlation_id = structlog.contextvars.get_contextvars().get("request_id")
        correlation_id = correlation_id or uuid.uuid4().hex
        logger.error("unhandled error %s at %s", correlation_id, error.path, exc_info=original)
        error.message = INTERNAL_MESSAGE
        error.original_error = None
        extensions = {
            "code": ApiErrorCode.INTERNAL_SERVER_ERROR,
            "correlationId": correlation_id,
        }
    error.extensions = extensions
