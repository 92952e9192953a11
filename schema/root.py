"""The whole schema, merged from the domain modules."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from resolvers.context import Info
from schema import (
    accounts,
    budgets,
    dashboard,
    exports,
    habits,
    notes,
    projects,
    purchases,
    receipts,
    roles,
    sessions,
    sync,
    tasks,
    users,
    webhooks,
)
from schema.extensions import shape_error
from schema.limits import DocumentLimits, Limits, QueryCost, validation_rules
from schema.node import Node, resolve_node
from schema.observe import ObserveOperations, Observer
from schema.permissions import SignedIn, requires
from schema.plans import compiled_executor
from schema.scalars import SCALAR_MAP
from schema.tracing import TraceOperations

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer


@strawberry.type
class NodeQuery:
    @strawberry.field(
        extensions=requires(SignedIn()),
        description="Any object by its global ID, for its owner; null when not found.",
    )
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await resolve_node(info, id)


DOMAINS = (
    users,
    accounts,
    roles,
    receipts,
    purchases,
    budgets,
    habits,
    projects,
    tasks,
    notes,
    sync,
    exports,
    webhooks,
)

Query = merge_types(
    "Query", (*(d.Query for d in DOMAINS), sessions.Query, dashboard.Query, NodeQuery)
)
Mutation = merge_types("Mutation", (sessions.Mutation, *(d.Mutation for d in DOMAINS)))


class LifegraphSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Codes every error and masks server faults (logging them); the client's own
        errors are not logged."""
        for error in errors:
            shape_error(error)


def build_schema(
    limits: Limits | None = None,
    *,
    introspection: bool = True,
    suggestions: bool = True,
    compiled_plans: bool = True,
    observers: Sequence[Observer] = (),
    tracer: Tracer | None = None,
    metered: bool = True,
) -> strawberry.Schema:
    """The schema with the request limits; production turns introspection and the
    "Did you mean ...?" suggestions off, which would otherwise map the schema for anyone.
    With ``compiled_plans``, queries seen before run from a plan (:mod:`schema.plans`).
    ``observers`` hear what each operation did (:mod:`schema.observe`); with a ``tracer``,
    each operation is a span (:mod:`schema.tracing`). Unless ``metered``, operations cost
    no one's rate-limit budget: the server's own reads as a user (a data export)."""
    limits = limits or Limits()
    rules = validation_rules(limits)
    if not introspection:
        rules += (NoSchemaIntrospectionCustomRule,)
    return LifegraphSchema(
        query=Query,
        mutation=Mutation,
        subscription=dashboard.Subscription,
        execution_context_class=compiled_executor() if compiled_plans else None,
        config=StrawberryConfig(scalar_map=SCALAR_MAP, disable_field_suggestions=not suggestions),
        extensions=[
            # First, so that its span holds the other extensions' work.
            *([partial(TraceOperations, tracer)] if tracer is not None else []),
            lambda: DocumentLimits(limits.max_tokens, rules),
            lambda: ParserCache(maxsize=512),
            lambda: ValidationCache(maxsize=512),
            *([lambda: QueryCost(limits.max_cost)] if metered else []),
            *([lambda: ObserveOperations(observers)] if observers else []),
        ],
    )


def export(**kwargs: Any) -> str:
    return build_schema(**kwargs).as_str() + "\n"
