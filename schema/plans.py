"""Compiled execution plans for query documents seen before.

graphql-core works out, for every field of every row, which field definition, resolver,
sub-selection and serialiser apply: a page of 50 purchases with their items is some
2,000 fields looked up, wrapped and checked one by one. A plan takes those decisions once
per document and operation, as graphql-jit and Grafast do, and is then run for each
request as a tree of closures (:mod:`schema.plan_nodes`).

Only the execution step changes: the plan runs inside graphql-core's ``Executor`` (our
subclass of Strawberry's execution context), after parsing, validation, the extensions
(pricing, rate limits) and variable coercion, and its result goes through the same error
shaping. A query is planned on its second execution (the parser cache hands back the same
document object for the same text) or on its first when the document is persisted (known
by its hash, :meth:`resolvers.documents.Documents.is_persisted`). Mutations,
subscriptions and anything a plan does not cover (introspection, middleware, fragment
variables, custom ``is_type_of`` checks) run on the standard executor.

- Fields are merged by graphql-core's own ``collect_fields``, evaluated when the plan is
  built. Only ``@skip``/``@include`` with variables make that depend on the request, so a
  document has one plan per combination of those variables' values.
- Fields with a resolver (root fields, relations, anything with field extensions such as
  the permission checks) are called through the field's ``resolve`` with a resolve info
  built by the executor; plain attributes are read with a getter, without info.
- Errors go through the executor's ``handle_field_error``: the same located error, path,
  nulling and propagation, in the same list.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, ClassVar

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    is_abstract_type,
    is_leaf_type,
    is_object_type,
)
from graphql.execution.collect_fields import (
    FieldDetailsList,
    GroupedFieldSet,
    collect_fields,
    collect_subfields,
)
from graphql.execution.types import ExecutionResult
from graphql.pyutils import AwaitableOrValue
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from resolvers.documents import Documents
from schema import plan_nodes as nodes
from schema.plan_nodes import FieldShape

PLAN_CACHE_SIZE = 512
VARIANTS_PER_DOCUMENT = 16
"""Plans kept per document for different ``@skip``/``@include`` variable values."""
_CONDITIONS = ("skip", "include")
_MISSING = object()


class Unplannable(Exception):
    """The document uses something a plan does not cover: it runs on the standard path."""


@dataclass
class PlanStats:
    hits: int = 0
    """Executions run from a plan."""
    builds: int = 0
    fallbacks: int = 0
    """Executions on the standard executor: first sight, mutations, unplannable."""


@dataclass(eq=False)
class _Entry:
    document: DocumentNode
    """Held, so that the id in the cache key cannot be reused by another document."""
    conditions: tuple[str, ...]
    seen: int = 0
    persisted: bool = False
    plans: dict[tuple[Any, ...], Plan | None] = field(default_factory=dict)


class PlanCache:
    """Plans by (document, operation), least recently used dropped first."""

    def __init__(self, maxsize: int = PLAN_CACHE_SIZE) -> None:
        self.maxsize = maxsize
        self.stats = PlanStats()
        self._entries: OrderedDict[tuple[int, int], _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def plan_for(self, ex: CompiledExecutor) -> Plan | None:
        document = ex.document
        if document is None or not _plannable_request(ex):
            return None
        key = (id(document), id(ex.operation))
        entry = self._entries.get(key)
        if entry is None or entry.document is not document:
            entry = _Entry(document, _condition_variables(document))
            entry.persisted = _is_persisted(ex, document)
            self._entries[key] = entry
            while len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        entry.seen += 1
        if entry.seen < 2 and not entry.persisted:
            return None
        coerced = ex.variable_values.coerced
        variant = tuple(coerced.get(name, _MISSING) for name in entry.conditions)
        plan = entry.plans.get(variant, _MISSING)
        if plan is _MISSING:
            if len(entry.plans) >= VARIANTS_PER_DOCUMENT:
                return None
            plan = entry.plans[variant] = _build(ex)
            self.stats.builds += plan is not None
        assert plan is None or isinstance(plan, Plan)
        return plan


class Plan:
    def __init__(self, root: nodes.ObjectRunner) -> None:
        self.root = root

    def run(self, ex: CompiledExecutor) -> AwaitableOrValue[ExecutionResult]:
        """``Executor.execute_operation`` for the planned root selection."""
        try:
            data = self.root(ex, ex.root_value, None)
        except GraphQLError as error:
            ex.collected_errors.add(error, None)
            return ex.finish(ex.build_response(None))  # type: ignore[return-value]
        if ex.is_awaitable(data):

            async def await_result() -> ExecutionResult:
                try:
                    awaited = await data
                except GraphQLError as error:
                    ex.collected_errors.add(error, None)
                    return ex.build_response(None)  # type: ignore[return-value]
                except Exception:
                    await ex.cancel_incremental_work()
                    ex.run_async_work_finished_hook()
                    raise
                return ex.build_response(awaited)  # type: ignore[return-value]

            return await_result()
        return ex.finish(ex.build_response(data))  # type: ignore[return-value]


class CompiledExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, running queries from their plans when it can."""

    plans: ClassVar[PlanCache]
    document: DocumentNode | None = None

    @classmethod
    def build(cls, schema: Any, document: DocumentNode, *args: Any, **kwargs: Any) -> Any:
        executor = super().build(schema, document, *args, **kwargs)
        if isinstance(executor, CompiledExecutor):
            executor.document = document
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        plan = None
        if self.operation.operation is OperationType.QUERY and not serially:
            plan = self.plans.plan_for(self)
        if plan is None:
            self.plans.stats.fallbacks += 1
            return super().execute_operation(serially)
        self.plans.stats.hits += 1
        return plan.run(self)


def compiled_executor(maxsize: int = PLAN_CACHE_SIZE) -> type[CompiledExecutor]:
    """An executor class with a plan cache of its own (one per schema)."""
    return type("CompiledExecutor", (CompiledExecutor,), {"plans": PlanCache(maxsize)})


def plan_cache(schema: Any) -> PlanCache | None:
    """The plans of a schema built with compiled plans (None without)."""
    executor = getattr(schema, "execution_context_class", None)
    if isinstance(executor, type) and issubclass(executor, CompiledExecutor):
        return executor.plans
    return None


def _plannable_request(ex: CompiledExecutor) -> bool:
    manager = ex.middleware_manager
    return (
        ex.abort_signal is None
        and ex.error_propagation
        and (manager is None or not manager.middlewares)
        and not any(details.variable_signatures for details in ex.fragments.values())
    )


def _is_persisted(ex: CompiledExecutor, document: DocumentNode) -> bool:
    documents = getattr(getattr(ex.context_value, "services", None), "documents", None)
    if not isinstance(documents, Documents) or document.loc is None:
        return False
    return documents.is_persisted(document.loc.source.body)


def _condition_variables(document: DocumentNode) -> tuple[str, ...]:
    """The variables ``@skip``/``@include`` read anywhere in the document, in order."""
    found: dict[str, None] = {}
    for node in _selections(document):
        for directive in node.directives or ():
            if directive.name.value not in _CONDITIONS:
                continue
            for argument in directive.arguments or ():
                if isinstance(argument.value, VariableNode):
                    found[argument.value.name.value] = None
    return tuple(found)


def _selections(
    document: DocumentNode,
) -> Iterator[FieldNode | FragmentSpreadNode | InlineFragmentNode]:
    pending: list[SelectionSetNode] = [
        d.selection_set
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    while pending:
        selection_set = pending.pop()
        for selection in selection_set.selections:
            yield selection  # type: ignore[misc]
            child = getattr(selection, "selection_set", None)
            if child is not None:
                pending.append(child)


def _build(ex: CompiledExecutor) -> Plan | None:
    try:
        return Plan(_Planner(ex).root())
    except (Unplannable, GraphQLError, RecursionError):
        return None


def _is_strawberry_type_check(check: Any) -> bool:
    """Strawberry's own ``is_type_of`` (an ``isinstance`` test that ignores the info)."""
    return "_get_is_type_of.<locals>.is_type_of" in getattr(check, "__qualname__", "")


def _plain_getter(definition: GraphQLField) -> Callable[[Any], Any] | None:
    """The getter of a Strawberry field without resolver, extensions or arguments, which
    Strawberry itself reads with ``getattr(source, python_name)``."""
    resolve = definition.resolve
    strawberry_field = definition.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if (
        resolve is None
        or getattr(resolve, "__name__", None) != "_get_basic_result"
        or definition.args
        or not isinstance(strawberry_field, StrawberryField)
        or type(strawberry_field).get_result is not StrawberryField.get_result
        or not strawberry_field.is_basic_field
        or strawberry_field.default_resolver is not getattr
    ):
        return None
    return attrgetter(strawberry_field.python_name)


def _needs_info(kind: GraphQLOutputType) -> bool:
    """Whether completing a value of this type reads the resolve info: resolving an
    abstract type does."""
    while isinstance(kind, GraphQLNonNull | GraphQLList):
        kind = kind.of_type
    return is_abstract_type(kind)


class _Planner:
    def __init__(self, ex: CompiledExecutor) -> None:
        self.ex = ex

    def root(self) -> nodes.ObjectRunner:
        ex = self.ex
        root_type = ex.schema.get_root_type(OperationType.QUERY)
        if root_type is None:
            raise Unplannable
        collected = collect_fields(
            ex.schema,
            ex.fragments,
            ex.variable_values,
            root_type,
            ex.operation,
            ex.hide_suggestions,
        )
        if collected.new_defer_usages:
            raise Unplannable
        return self.selection(root_type, collected.grouped_field_set)

    def selection(self, parent: GraphQLObjectType, grouped: GroupedFieldSet) -> nodes.ObjectRunner:
        return nodes.object_runner(
            [self.field(parent, key, details) for key, details in grouped.items()]
        )

    def subselection(
        self, kind: GraphQLObjectType, details: FieldDetailsList
    ) -> nodes.ObjectRunner:
        ex = self.ex
        collected = collect_subfields(
            ex.schema,
            ex.fragments,
            ex.variable_values,
            ex.operation,
            kind,
            details,
            ex.hide_suggestions,
        )
        if collected.new_defer_usages:
            raise Unplannable
        return self.selection(kind, collected.grouped_field_set)

    def field(
        self, parent: GraphQLObjectType, key: str, details: FieldDetailsList
    ) -> nodes.FieldRunner:
        if any(d.defer_usage or d.fragment_variable_values for d in details):
            raise Unplannable
        name = details[0].node.name.value
        if name == "__typename":
            return nodes.typename_field(key, parent.name)
        definition = parent.fields.get(name)
        if name.startswith("__") or definition is None:
            raise Unplannable
        shape = FieldShape(key, parent, definition, details)
        getter = _plain_getter(definition)
        if getter is None or shape.node.arguments or _needs_info(shape.return_type):
            return nodes.resolved_field(shape, self.completer(shape, shape.return_type, True)[0])
        complete, may_await = self.completer(shape, shape.return_type, False)
        named: GraphQLOutputType = shape.return_type
        required = isinstance(named, GraphQLNonNull)
        if required:
            named = named.of_type  # type: ignore[union-attr]
        if is_leaf_type(named):
            return nodes.plain_leaf_field(shape, getter, nodes.leaf(named), required)
        return nodes.plain_field(shape, getter, complete, may_await)

    def completer(
        self, shape: FieldShape, kind: GraphQLOutputType, resolved: bool
    ) -> tuple[nodes.Completer, bool]:
        """The value's completer, and whether it may return an awaitable. Items of lists
        a resolver returned are checked for awaitables, those of plain attributes not."""
        if isinstance(kind, GraphQLNonNull):
            inner, may_await = self.value(shape, kind.of_type, resolved)
            return nodes.non_null(inner, shape.null_message), may_await
        inner, may_await = self.value(shape, kind, resolved)
        return nodes.nullable(inner), may_await

    def value(
        self, shape: FieldShape, kind: GraphQLOutputType, resolved: bool
    ) -> tuple[nodes.Completer, bool]:
        if isinstance(kind, GraphQLList):
            item, may_await = self.completer(shape, kind.of_type, resolved)
            return nodes.list_value(shape, kind.of_type, item, resolved), may_await or resolved
        if is_leaf_type(kind):
            return nodes.leaf(kind), False
        if is_object_type(kind):
            assert isinstance(kind, GraphQLObjectType)
            return self.object_value(shape, kind), True
        if is_abstract_type(kind):
            possible = self.ex.schema.get_possible_types(kind)
            by_type = {t.name: self.object_value(shape, t) for t in possible}
            return nodes.abstract_value(kind, by_type, shape.details), True
        raise Unplannable

    def object_value(self, shape: FieldShape, kind: GraphQLObjectType) -> nodes.Completer:
        check = kind.is_type_of
        if check is not None and not _is_strawberry_type_check(check):
            raise Unplannable
        runner = self.subselection(kind, shape.details)
        return nodes.object_value(kind, runner, shape.details, check)
