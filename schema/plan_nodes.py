"""The closures an execution plan is made of (built by :mod:`schema.plans`).

Each one does for a single field, list or value what graphql-core's ``Executor`` does in
``execute_field`` and ``complete_value``, with the decisions that depend only on the
document and the schema taken once: which type, which resolver, which sub-selection.
What depends on the request stays with the request's executor ``ex``: the variables, the
errors (``ex.handle_field_error``, so errors are located, recorded and propagated to the
nearest nullable parent by graphql-core's own code) and the awaitable checks.

Awaitables are created and gathered in the same places as graphql-core does (every
sibling field and list item started before any is awaited, ``gather_with_cancel`` over
them), so DataLoader batches form and errors are recorded in the same order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from graphql import (
    GraphQLAbstractType,
    GraphQLBoolean,
    GraphQLError,
    GraphQLField,
    GraphQLID,
    GraphQLLeafType,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLString,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.execution.executor import collect_iterator_awaitables, invalid_return_type_error
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, Undefined, gather_with_cancel, inspect, is_iterable

if TYPE_CHECKING:
    from graphql import FieldNode, GraphQLResolveInfo
    from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext as Executor

    Info = GraphQLResolveInfo[Any]

Completer = Callable[["Executor", Any, Path, "Info | None"], Any]
"""Completes a resolved value: the response value, or an awaitable of it; raises on error."""
ObjectRunner = Callable[["Executor", Any, "Path | None"], Any]
"""Runs an object's selection on a source: its response dict, or an awaitable of it."""
FieldRunner = Callable[["Executor", Any, "Path | None", dict[str, Any], list[str]], None]
"""Sets one response key of an object, appending the key to the pending list when the
value set is an awaitable."""


async def _gather_fields(results: dict[str, Any], pending: list[str]) -> dict[str, Any]:
    if len(pending) == 1:
        key = pending[0]
        results[key] = await results[key]
    else:
        values = await gather_with_cancel(*(results[key] for key in pending))
        results.update(zip(pending, values, strict=True))
    return results


def object_runner(fields: list[FieldRunner]) -> ObjectRunner:
    def run(ex: Executor, source: Any, path: Path | None) -> Any:
        results: dict[str, Any] = {}
        pending: list[str] = []
        try:
            for field in fields:
                field(ex, source, path, results, pending)
        except Exception:
            if pending:
                ex.settle_in_background([results[key] for key in pending])
            raise
        if not pending:
            return results
        return _gather_fields(results, pending)

    return run


def typename_field(key: str, type_name: str) -> FieldRunner:
    def run(
        ex: Executor, source: Any, path: Path | None, results: dict[str, Any], pending: list[str]
    ) -> None:
        results[key] = type_name

    return run


class FieldShape:
    """What every runner of one response key needs to know about its field."""

    def __init__(
        self,
        key: str,
        parent: GraphQLObjectType,
        definition: GraphQLField,
        details: FieldDetailsList,
    ) -> None:
        self.key = key
        self.parent = parent
        self.parent_name = parent.name
        self.definition = definition
        self.return_type: GraphQLOutputType = definition.type
        self.details = details
        self.nodes: list[FieldNode] = [detail.node for detail in details]
        self.node = self.nodes[0]
        self.name = self.node.name.value
        self.null_message = f"Cannot return null for non-nullable field {parent.name}.{self.name}."


def _await_completed(
    shape: FieldShape, return_type: GraphQLOutputType
) -> Callable[[Executor, Awaitable[Any], Path], Awaitable[Any]]:
    async def run(ex: Executor, completed: Awaitable[Any], path: Path) -> Any:
        try:
            return await completed
        except Exception as error:
            ex.handle_field_error(error, return_type, shape.details, path)
            return None

    return run


def plain_leaf_field(
    shape: FieldShape, getter: Callable[[Any], Any], leaf: Completer, non_null: bool
) -> FieldRunner:
    """A plain attribute of a scalar or enum type: read, checked for null, serialised."""
    key, parent_name, return_type = shape.key, shape.parent_name, shape.return_type
    details, message = shape.details, shape.null_message

    def run(
        ex: Executor, source: Any, path: Path | None, results: dict[str, Any], pending: list[str]
    ) -> None:
        try:
            value = getter(source)
            if value is None or value is Undefined:
                if non_null:
                    raise TypeError(message)
                results[key] = None
                return
            results[key] = leaf(ex, value, path, None)  # type: ignore[arg-type]
        except Exception as error:
            ex.handle_field_error(error, return_type, details, Path(path, key, parent_name))
            results[key] = None

    return run


def plain_field(
    shape: FieldShape, getter: Callable[[Any], Any], complete: Completer, may_await: bool
) -> FieldRunner:
    """A plain attribute of an object or list type."""
    key, parent_name, return_type, details = (
        shape.key,
        shape.parent_name,
        shape.return_type,
        shape.details,
    )
    await_completed = _await_completed(shape, return_type)

    def run(
        ex: Executor, source: Any, path: Path | None, results: dict[str, Any], pending: list[str]
    ) -> None:
        field_path = Path(path, key, parent_name)
        try:
            completed = complete(ex, getter(source), field_path, None)
            if may_await and ex.is_awaitable(completed):
                results[key] = await_completed(ex, completed, field_path)
                pending.append(key)
                return
            results[key] = completed
        except Exception as error:
            ex.handle_field_error(error, return_type, details, field_path)
            results[key] = None

    return run


def resolved_field(shape: FieldShape, complete: Completer) -> FieldRunner:
    """A field called through its graphql-core ``resolve`` (Strawberry's wrapper), with a
    resolve info built by the executor and arguments coerced by graphql-core."""
    key, parent, parent_name = shape.key, shape.parent, shape.parent_name
    definition, return_type, details = shape.definition, shape.return_type, shape.details
    nodes, node = shape.nodes, shape.node
    resolve = definition.resolve
    has_arguments = bool(definition.args or node.arguments)
    await_completed = _await_completed(shape, return_type)

    async def complete_awaitable(
        ex: Executor, result: Awaitable[Any], path: Path, info: Info
    ) -> Any:
        try:
            completed = complete(ex, await result, path, info)
            if ex.is_awaitable(completed):
                completed = await completed
        except Exception as error:
            ex.handle_field_error(error, return_type, details, path)
            completed = None
        return completed

    def run(
        ex: Executor, source: Any, path: Path | None, results: dict[str, Any], pending: list[str]
    ) -> None:
        field_path = Path(path, key, parent_name)
        info = ex.build_resolve_info(definition, nodes, parent, field_path)
        try:
            arguments = (
                get_argument_values(definition, node, ex.variable_values, None, ex.hide_suggestions)
                if has_arguments
                else {}
            )
            result = (resolve or ex.field_resolver)(source, info, **arguments)
            if ex.is_awaitable(result):
                results[key] = complete_awaitable(ex, result, field_path, info)
                pending.append(key)
                return
            completed = complete(ex, result, field_path, info)
            if ex.is_awaitable(completed):
                results[key] = await_completed(ex, completed, field_path)
                pending.append(key)
                return
            results[key] = completed
        except Exception as error:
            ex.handle_field_error(error, return_type, details, field_path)
            results[key] = None

    return run


def nullable(inner: Completer) -> Completer:
    def complete(ex: Executor, value: Any, path: Path, info: Info | None) -> Any:
        if isinstance(value, Exception):
            raise value
        if value is None or value is Undefined:
            return None
        return inner(ex, value, path, info)

    return complete


def non_null(inner: Completer, message: str) -> Completer:
    def complete(ex: Executor, value: Any, path: Path, info: Info | None) -> Any:
        if isinstance(value, Exception):
            raise value
        if value is None or value is Undefined:
            raise TypeError(message)
        return inner(ex, value, path, info)

    return complete


_FAST_TYPES: dict[GraphQLLeafType, type] = {
    GraphQLString: str,
    GraphQLID: str,
    GraphQLBoolean: bool,
}


def leaf(kind: GraphQLLeafType) -> Completer:
    """A scalar or enum value serialised by the type's own ``coerce_output_value``; the
    built-in strings and booleans pass through unchanged when already of their type, as
    graphql-core's serialisers leave them."""
    coerce = kind.coerce_output_value
    fast = _FAST_TYPES.get(kind)

    def complete(ex: Executor, value: Any, path: Path, info: Info | None) -> Any:
        if value.__class__ is fast:
            return value
        coerced = coerce(value)
        if coerced is Undefined or coerced is None:
            raise TypeError(
                f"Expected `{inspect(kind)}.coerce_output_value({inspect(value)})`"
                f" to return non-nullable value, returned: {inspect(coerced)}"
            )
        return coerced

    return complete


def object_value(
    kind: GraphQLObjectType,
    runner: ObjectRunner,
    details: FieldDetailsList,
    is_type_of: Callable[[Any, Any], Any] | None,
) -> Completer:
    def complete(ex: Executor, value: Any, path: Path, info: Info | None) -> Any:
        if is_type_of is not None and not is_type_of(value, info):
            raise invalid_return_type_error(kind, value, details)
        return runner(ex, value, path)

    return complete


def abstract_value(
    kind: GraphQLAbstractType, by_type: dict[str, Completer], details: FieldDetailsList
) -> Completer:
    """Resolves the runtime type as the standard executor does (the type's
    ``resolve_type``, Strawberry's for its interfaces), then completes for that type."""

    def complete(ex: Executor, value: Any, path: Path, info: Info | None) -> Any:
        assert info is not None
        runtime = (kind.resolve_type or ex.type_resolver)(value, info, kind)
        if ex.is_awaitable(runtime):

            async def await_runtime() -> Any:
                name = await runtime
                found = ex.ensure_valid_runtime_type(name, kind, details, info, value)
                completed = by_type[found.name](ex, value, path, info)
                if ex.is_awaitable(completed):
                    return await completed
                return completed

            return await_runtime()
        found = ex.ensure_valid_runtime_type(runtime, kind, details, info, value)
        return by_type[found.name](ex, value, path, info)

    return complete


def list_value(
    shape: FieldShape, item_type: GraphQLOutputType, item: Completer, check_items: bool
) -> Completer:
    """A list: every item completed (and every awaitable item started) before any is
    awaited; an item's error nulls that item or, if it cannot be null, the list."""
    details = shape.details
    message = f"Expected Iterable, but did not find one for field '{shape.parent}.{shape.name}'."

    async def await_item(ex: Executor, completed: Awaitable[Any], path: Path) -> Any:
        try:
            return await completed
        except Exception as error:
            ex.handle_field_error(error, item_type, details, path)
            return None

    async def complete_awaitable_item(
        ex: Executor, value: Awaitable[Any], path: Path, info: Info | None
    ) -> Any:
        try:
            completed = item(ex, await value, path, info)
            if ex.is_awaitable(completed):
                completed = await completed
        except Exception as error:
            ex.handle_field_error(error, item_type, details, path)
            return None
        return completed

    async def gather_items(results: list[Any], pending: list[int]) -> list[Any]:
        if len(pending) == 1:
            index = pending[0]
            results[index] = await results[index]
        else:
            values = await gather_with_cancel(*(results[index] for index in pending))
            for index, value in zip(pending, values, strict=True):
                results[index] = value
        return results

    def complete(ex: Executor, value: Any, path: Path, info: Info | None) -> Any:
        if value.__class__ is not list:
            if ex.is_async_iterable(value):
                raise GraphQLError(f"{message} (an asynchronous iterable is not planned)")
            if not is_iterable(value):
                raise GraphQLError(message)
        is_awaitable = ex.is_awaitable
        results: list[Any] = []
        pending: list[int] = []
        iterator = iter(value)
        index = 0
        try:
            for element in iterator:
                item_path = Path(path, index, None)
                if check_items and is_awaitable(element):
                    results.append(complete_awaitable_item(ex, element, item_path, info))
                    pending.append(index)
                else:
                    try:
                        completed = item(ex, element, item_path, info)
                        if is_awaitable(completed):
                            results.append(await_item(ex, completed, item_path))
                            pending.append(index)
                        else:
                            results.append(completed)
                    except Exception as error:
                        ex.handle_field_error(error, item_type, details, item_path)
                        results.append(None)
                index += 1
        except Exception:
            awaitables = [results[index] for index in pending]
            awaitables.extend(collect_iterator_awaitables(iterator, is_awaitable))
            if awaitables:
                ex.settle_in_background(awaitables)
            raise
        if not pending:
            return results
        return gather_items(results, pending)

    return complete
