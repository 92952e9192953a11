"""Imports run one way: db, storage < auth < resolvers < schema < lifegraph.

Every module of every layer is read with ``ast``; an import of a higher layer fails the
test, except type-only imports (under ``if TYPE_CHECKING:``) and the rules layer reading
the settings module, a leaf of the composition root.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

MAY_IMPORT: dict[str, set[str]] = {
    "db": {"db"},
    "storage": {"storage"},
    "auth": {"auth", "db"},
    "resolvers": {"resolvers", "auth", "db", "storage"},
    "schema": {"schema", "resolvers", "auth", "db", "storage"},
    "lifegraph": {"lifegraph", "schema", "resolvers", "auth", "db", "storage"},
    "migrations": {"migrations", "db"},
}
MAY_READ_SETTINGS = {"resolvers", "migrations"}
"""Layers that may read ``lifegraph.settings``, a leaf that imports nothing of the project."""


def modules() -> list[Path]:
    return sorted(path for layer in MAY_IMPORT for path in (ROOT / layer).rglob("*.py"))


def type_only_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def imported(tree: ast.Module, package: str) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                yield node.lineno, package
            elif node.module:
                for alias in node.names:
                    yield node.lineno, f"{node.module}.{alias.name}"


def upward_imports(path: Path, layer: str) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    type_only = type_only_lines(tree)
    found = []
    for line, name in imported(tree, layer):
        top = name.split(".")[0]
        if top not in MAY_IMPORT or top in MAY_IMPORT[layer] or line in type_only:
            continue
        if layer in MAY_READ_SETTINGS and name.startswith("lifegraph.settings."):
            continue
        found.append(f"{path.name}:{line} imports {name}")
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_run_downward(path: Path) -> None:
    assert upward_imports(path, path.relative_to(ROOT).parts[0]) == []


def test_the_check_sees_upward_imports(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from typing import TYPE_CHECKING\n"
        "from resolvers.errors import ApiError\n"
        "if TYPE_CHECKING:\n"
        "    from schema.root import build_schema\n"
        "from lifegraph.settings import Settings\n"
        "def f():\n"
        "    import lifegraph.app\n"
    )
    assert upward_imports(probe, "db") == [
        "probe.py:2 imports resolvers.errors.ApiError",
        "probe.py:5 imports lifegraph.settings.Settings",
        "probe.py:7 imports lifegraph.app",
    ]
    assert upward_imports(probe, "resolvers") == ["probe.py:7 imports lifegraph.app"]
    assert upward_imports(probe, "lifegraph") == []
