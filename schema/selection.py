"""What a query selects below a field, so that a resolver loads the relations its rows
need together with the rows, and the relation fields are plain attributes (no resolver
and no awaitable per row)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode

from resolvers.context import Info


@dataclass(frozen=True)
class Selection:
    """Field names (as in the schema, not aliases) selected at one level, each with what
    is selected below it. Fragments are merged whatever their type condition, and
    ``@skip``/``@include`` are not evaluated: a selection may hold more than a request
    reads, never less, so it can only load a relation that goes unused."""

    fields: Mapping[str, Selection] = field(default_factory=dict)

    def __contains__(self, name: object) -> bool:
        return name in self.fields

    def __getitem__(self, path: str) -> Selection:
        """The selection below a dotted path (``"edges.node"``); empty when not selected."""
        found = self
        for name in path.split("."):
            found = found.fields.get(name, EMPTY)
        return found


EMPTY = Selection()

_CACHE_SIZE = 1024
_cache: OrderedDict[tuple[int, ...], tuple[Any, Selection]] = OrderedDict()


def selection_of(info: Info) -> Selection:
    """The selection below the field being resolved. Documents come from the parser's
    cache, so a field's nodes are the same objects on every request for the same text:
    the selection is computed once for them (the cache holds the nodes, so an id is never
    reused while its entry lives)."""
    raw = info._raw_info
    nodes = raw.field_nodes
    key = tuple(id(node) for node in nodes)
    cached = _cache.get(key)
    if cached is not None:
        _cache.move_to_end(key)
        return cached[1]
    found = _merge(
        (node.selection_set for node in nodes if node.selection_set is not None), raw.fragments
    )
    _cache[key] = (nodes, found)
    if len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return found


def _merge(sets: Iterable[SelectionSetNode], fragments: Mapping[str, Any]) -> Selection:
    below: dict[str, list[SelectionSetNode]] = {}
    for selection_set in sets:
        for node in _fields(selection_set, fragments):
            children = below.setdefault(node.name.value, [])
            if node.selection_set is not None:
                children.append(node.selection_set)
    return Selection(
        {name: _merge(sets, fragments) if sets else EMPTY for name, sets in below.items()}
    )


def _fields(selection_set: SelectionSetNode, fragments: Mapping[str, Any]) -> Iterable[FieldNode]:
    """The fields of a selection set, through its fragments (validation has refused
    fragment cycles and unknown fragments)."""
    for node in selection_set.selections:
        if isinstance(node, FieldNode):
            yield node
        elif isinstance(node, InlineFragmentNode):
            yield from _fields(node.selection_set, fragments)
        elif isinstance(node, FragmentSpreadNode):
            yield from _fields(fragments[node.name.value].selection_set, fragments)
