"""What one request may ask for, checked before any resolver runs.

Parsing stops after ``max_tokens`` tokens. Validation refuses documents deeper than
``max_depth``, with more than ``max_aliases`` aliases or ``max_directives`` directives
(graphql-core's own rule bounds introspection, which costs nothing here, at three nested
lists: types, fields, args). Then the operation's cost is computed from the document and
its variables, as GitHub and Shopify do it, and an operation over ``max_cost`` is refused:

- an object costs 1, a scalar or enum field 0, ``__typename`` 0;
- a list of objects costs its length times the cost of one item: the value of its slicing
  argument (``first``, ``limit``: given, from a variable, or the default), or else its
  assumed size;
- a connection costs 1 plus ``first`` times what one of its items selects (its ``edges``
  list is not counted again);
- a mutation's root field costs 10 more;
- fragments count where they are spread, inline fragments of every type are added up.

Every refusal is ``QUERY_TOO_COMPLEX`` with a message naming the limit. An operation
within the limit spends its cost from the caller's budget (:mod:`resolvers.rate_limits`);
once that is used up, operations are refused with ``RATE_LIMITED`` and ``retryAfter``.
Every answer carries ``extensions.cost`` (requested, limit, remaining), and HTTP answers
carry ``RateLimit-*`` headers (and ``Retry-After`` when refused).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
    is_leaf_type,
)
from graphql.language import Node
from strawberry.extensions import SchemaExtension
from strawberry.extensions.query_depth_limiter import create_validator as depth_validator

from resolvers.context import Context
from resolvers.errors import QueryTooComplex, RateLimited
from resolvers.pagination import DEFAULT_FIRST
from resolvers.rate_limits import Budget
from schema.observe import record_cost

SLICING_ARGUMENTS = ("first", "limit")
MUTATION_COST = 10
DEFAULT_LIST_SIZE = 10
ASSUMED_LIST_SIZES: Mapping[str, int] = {
    "Query.habits": 20,
    "Query.roles": 5,
    "User.roles": 2,
    "Note.images": 5,
    "Purchase.items": 10,
    "ReceiptOcr.items": 10,
    "Habit.checkIns": 31,
    "SyncPullResult.changes": 500,
    "SyncPushPayload.applied": 100,
    "SyncPushPayload.conflicts": 100,
    "HabitsPayload.habits": 20,
}
"""Lists without a slicing argument: how many items to expect (10 unless named here)."""


@dataclass(frozen=True)
class Limits:
    max_depth: int = 12
    max_aliases: int = 30
    max_directives: int = 20
    max_tokens: int = 5000
    max_cost: int = 2000


def validation_rules(limits: Limits) -> tuple[type[ValidationRule], ...]:
    """Built once per schema: the validation cache keys on these classes."""
    return (
        depth_validator(limits.max_depth, should_ignore=None),
        _counting_rule(
            limits.max_aliases,
            lambda node: isinstance(node, FieldNode) and node.alias is not None,
            "aliases",
        ),
        _counting_rule(
            limits.max_directives, lambda node: isinstance(node, DirectiveNode), "directives"
        ),
    )


def too_complex(message: str, nodes: Node | list[Node] | None = None) -> GraphQLError:
    return GraphQLError(message, nodes, original_error=QueryTooComplex(message))


def _counting_rule(limit: int, counts: Any, noun: str) -> type[ValidationRule]:
    class CountingRule(ValidationRule):
        """Counts in the whole document, fragments included (each one once)."""

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            found = sum(1 for node in _walk(context.document) if counts(node))
            if found > limit:
                context.report_error(
                    too_complex(f"The document has {found} {noun}; at most {limit} are allowed.")
                )

    CountingRule.__name__ = f"Max{noun.capitalize()}"
    return CountingRule


def _walk(node: Node) -> Iterator[Node]:
    pending = [node]
    while pending:
        current = pending.pop()
        yield current
        for key in current.keys:
            value = getattr(current, key, None)
            if isinstance(value, Node):
                pending.append(value)
            elif isinstance(value, tuple | list):
                pending.extend(item for item in value if isinstance(item, Node))


class OperationCost:
    """The cost of one operation of a validated document, for the given variables."""

    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any]
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def of(self, operation: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return 0
        extra = MUTATION_COST if operation.operation is OperationType.MUTATION else 0
        return self._selections(operation.selection_set, root, extra, frozenset())

    def _selections(
        self,
        selections: SelectionSetNode | None,
        parent: Any,
        field_extra: int,
        spread: frozenset[str],
    ) -> int:
        total = 0
        for selection in selections.selections if selections else ():
            if isinstance(selection, FieldNode):
                total += self._field(selection, parent, field_extra, spread)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                kind = self.schema.get_type(condition.name.value) if condition else parent
                total += self._selections(selection.selection_set, kind, field_extra, spread)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in spread:
                    continue
                kind = self.schema.get_type(fragment.type_condition.name.value)
                total += self._selections(
                    fragment.selection_set, kind, field_extra, spread | {name}
                )
        return total

    def _field(self, node: FieldNode, parent: Any, extra: int, spread: frozenset[str]) -> int:
        name = node.name.value
        fields = getattr(parent, "fields", None)
        if name.startswith("__") or not fields or name not in fields:
            return 0
        definition: GraphQLField = fields[name]
        named = get_named_type(definition.type)
        if is_leaf_type(named):
            return extra
        children = self._selections(node.selection_set, named, 0, spread)
        size = self._size(node, definition, parent)
        if _is_list(definition.type):
            return extra + size * (1 + children)
        return extra + 1 + size * children

    def _size(self, node: FieldNode, definition: GraphQLField, parent: GraphQLObjectType) -> int:
        for argument in SLICING_ARGUMENTS:
            if argument in definition.args:
                return self._argument(node, argument, definition)
        if not _is_list(definition.type) or parent.name.endswith("Connection"):
            return 1
        return ASSUMED_LIST_SIZES.get(f"{parent.name}.{node.name.value}", DEFAULT_LIST_SIZE)

    def _argument(self, node: FieldNode, argument: str, definition: GraphQLField) -> int:
        value: Any = definition.args[argument].default_value
        if not isinstance(value, int):
            value = DEFAULT_FIRST
        for given in node.arguments or ():
            if given.name.value != argument:
                continue
            if isinstance(given.value, IntValueNode):
                value = int(given.value.value)
            elif isinstance(given.value, VariableNode):
                value = self.variables.get(given.value.name.value, value)
        # An unusable value is refused by validation or by the resolver; cost it as 1.
        return value if isinstance(value, int) and value > 0 else 1


def _is_list(kind: GraphQLOutputType) -> bool:
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    return isinstance(kind, GraphQLList)


def selected_operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == operation_name), None)


class DocumentLimits(SchemaExtension):
    """At most ``max_tokens`` in a document, and these validation rules besides the
    standard ones: Strawberry's MaxTokensLimiter and AddValidationRules, but set as the
    document is parsed and validated rather than around the whole operation, so that a
    live subscription keeps no hook of theirs open. List it before the caches."""

    def __init__(self, max_tokens: int, rules: tuple[type[ValidationRule], ...]) -> None:
        self.max_tokens = max_tokens
        self.rules = rules

    def on_parse(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self.max_tokens
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = context.validation_rules + self.rules
        yield


class QueryCost(SchemaExtension):
    """Prices the operation after validation, refuses it over the limit, then spends its
    cost from the caller's budget (RATE_LIMITED once that is used up)."""

    def __init__(self, max_cost: int) -> None:
        self.max_cost = max_cost
        self.requested: int | None = None
        self.budget: Budget | None = None

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        document = context.graphql_document
        operation = selected_operation(document, context.operation_name) if document else None
        if document is not None and operation is not None:
            variables = context.variables or {}
            self.requested = OperationCost(context.schema._schema, document, variables).of(
                operation
            )
            record_cost(context, self.requested)
            if self.requested > self.max_cost:
                message = (
                    f"The query costs {self.requested} points; at most {self.max_cost} "
                    "are allowed. Ask for fewer items (first, limit) or fewer fields."
                )
                context.result = ExecutionResult(data=None, errors=[too_complex(message)])
            else:
                await self._spend(context.context, self.requested)
        yield

    async def _spend(self, ctx: Context, cost: int) -> None:
        self.budget = budget = await ctx.services.rate_limiter.spend(
            cost, user_id=await ctx.signed_in_user(), address=ctx.client_address
        )
        if ctx.response is not None:
            ctx.response.headers.update(
                {
                    "RateLimit-Limit": str(budget.limit),
                    "RateLimit-Remaining": str(budget.remaining),
                    "RateLimit-Reset": str(budget.reset_seconds),
                }
            )
        if not budget.allowed:
            if ctx.response is not None:
                ctx.response.headers["Retry-After"] = str(budget.reset_seconds)
            message = (
                f"This costs {cost} points and {budget.remaining} of your {budget.limit} "
                f"a minute are left; try again in {budget.reset_seconds} s."
            )
            error = RateLimited(budget.reset_seconds, message)
            self.execution_context.result = ExecutionResult(
                data=None, errors=[GraphQLError(message, original_error=error)]
            )

    def get_results(self) -> dict[str, Any]:
        if self.requested is None:
            return {}
        cost: dict[str, int] = {"requested": self.requested, "limit": self.max_cost}
        if self.budget is not None:
            cost["remaining"] = self.budget.remaining
        return {"cost": cost}
