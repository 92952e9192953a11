"""What each GraphQL operation did, told to the observers the composition root gives
(the request log, the metrics): one report per operation, after its errors are coded.

Observers are plain callables and run inline, so they must be quick and must not raise;
a faulty observer is logged and skipped, never allowed to fail the request."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionContext
from strawberry.types.graphql import OperationType

from resolvers.context import Context

logger = logging.getLogger("lifegraph.observe")

_COST = "_lifegraph_cost"


@dataclass(frozen=True, slots=True)
class OperationReport:
    name: str | None
    """The operation's name; None for an anonymous operation or a document that did not parse."""
    kind: str
    """``query``, ``mutation`` or ``subscription`` (``unknown`` when it did not parse)."""
    seconds: float
    error_codes: tuple[str, ...]
    """``extensions.code`` of each error, in order."""
    cost: int | None
    """The points the query was priced at (``schema.limits.QueryCost``), when priced."""
    user_id: str | None
    """The signed-in user, when the operation authenticated one."""


Observer = Callable[[OperationReport], None]


def record_cost(execution_context: ExecutionContext, cost: int) -> None:
    setattr(execution_context, _COST, cost)


def cost_of(execution_context: ExecutionContext) -> int | None:
    cost: int | None = getattr(execution_context, _COST, None)
    return cost


def error_codes(errors: Sequence[GraphQLError] | None) -> tuple[str, ...]:
    return tuple(str((error.extensions or {}).get("code", "")) for error in errors or ())


class ObserveOperations(SchemaExtension):
    """Times the operation and hands its report to every observer, once. A query or a
    mutation is reported as its result is finished (``get_results`` runs last, after
    Strawberry has coded every error, whichever way the operation ended); a subscription
    when it ends. Added by ``schema.root.build_schema`` only when there is an observer."""

    def __init__(self, observers: Sequence[Observer]) -> None:
        self.observers = observers
        self.started = time.perf_counter()
        self.reported = False

    def on_operation(self) -> Iterator[None]:
        self.started = time.perf_counter()
        try:
            yield
        finally:
            if self._is_subscription():
                self._report()

    def get_results(self) -> dict[str, object]:
        if not self._is_subscription():
            self._report()
        return {}

    def _is_subscription(self) -> bool:
        execution = self.execution_context
        return (
            execution.graphql_document is not None
            and execution.operation_type is OperationType.SUBSCRIPTION
        )

    def _report(self) -> None:
        if self.reported:
            return
        self.reported = True
        report = self._describe(time.perf_counter() - self.started)
        for observer in self.observers:
            try:
                observer(report)
            except Exception:
                logger.exception("an operation observer failed")

    def _describe(self, seconds: float) -> OperationReport:
        execution = self.execution_context
        errors = execution.pre_execution_errors
        if errors is None and execution.result is not None:
            errors = execution.result.errors
        document = execution.graphql_document
        context = execution.context
        user = context.known_user_id if isinstance(context, Context) else None
        return OperationReport(
            name=execution.operation_name if document is not None else None,
            kind=execution.operation_type.value if document is not None else "unknown",
            seconds=seconds,
            error_codes=error_codes(errors),
            cost=cost_of(execution),
            user_id=str(user) if user is not None else None,
        )
