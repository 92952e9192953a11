"""A span per GraphQL operation, with parse, validate and execute spans inside it; the SQL
and S3 spans of the resolvers nest under it. One span per operation, not per resolver:
a resolver span would cost more than most resolvers do.

Names and attributes follow OpenTelemetry's semantic conventions for GraphQL
(``query Me``, ``graphql.operation.name``, ``graphql.operation.type``). The document's
text is not recorded, since literals in it may be a password or a note: its SHA-256 is,
the hash clients use for persisted documents. Added by ``schema.root.build_schema`` only
when tracing is on."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionContext

from resolvers.errors import ApiErrorCode
from schema.observe import cost_of, error_codes

SERVER_FAULTS = frozenset({ApiErrorCode.INTERNAL_SERVER_ERROR, ApiErrorCode.SERVICE_UNAVAILABLE})
"""Codes that mark the span as failed; the client's own errors (bad input, not found,
refused) leave its status unset, as a 4xx leaves an HTTP server span's."""


class TraceOperations(SchemaExtension):
    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer

    def on_operation(self) -> Iterator[None]:
        # The name waits for the document to parse: the operation's type comes from it.
        span = self.tracer.start_span("GraphQL Operation")
        with trace.use_span(span, end_on_exit=True):
            try:
                yield
            finally:
                self._describe(span)

    def on_parse(self) -> Iterator[None]:
        with self.tracer.start_as_current_span("graphql.parse"):
            yield

    def on_validate(self) -> Iterator[None]:
        with self.tracer.start_as_current_span("graphql.validate"):
            yield

    def on_execute(self) -> Iterator[None]:
        with self.tracer.start_as_current_span("graphql.execute"):
            yield

    def _describe(self, span: Span) -> None:
        """Errors are coded by now: Strawberry codes them as execution ends, or as
        parsing or validation fails, before the operation's hook resumes."""
        execution = self.execution_context
        if execution.query:
            digest = hashlib.sha256(execution.query.encode()).hexdigest()
            span.set_attribute("lifegraph.graphql.document.sha256", digest)
        if (kind := _operation_type(execution)) is not None:
            name = execution.operation_name
            span.update_name(f"{kind} {name}" if name else kind)
            span.set_attribute("graphql.operation.type", kind)
            if name:
                span.set_attribute("graphql.operation.name", name)
        errors = execution.pre_execution_errors
        if errors is None and execution.result is not None:
            errors = execution.result.errors
        if codes := error_codes(errors):
            span.set_attribute("lifegraph.graphql.error_codes", codes)
            if SERVER_FAULTS.intersection(codes):
                span.set_status(Status(StatusCode.ERROR))
        if (cost := cost_of(execution)) is not None:
            span.set_attribute("lifegraph.graphql.cost", cost)


def _operation_type(execution: ExecutionContext) -> str | None:
    """None when the document did not parse or has no operation of the requested name."""
    if execution.graphql_document is None:
        return None
    try:
        return execution.operation_type.value
    except RuntimeError:
        return None
