"""GraphQL Code Generator with the config the client guide shows (`docs/codegen/codegen.ts`)
over `schema.graphql` and the contract's documents: it must keep generating typed
documents for every operation, map every custom scalar of the schema (an unmapped one
fails the run, by `strictScalars`), and its output must type-check.

Needs Node.js and `npm ci --prefix tests/codegen`; skips without them, except under CI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from graphql import (
    FragmentDefinitionNode,
    GraphQLScalarType,
    OperationDefinitionNode,
    build_schema,
    parse,
    specified_scalar_types,
)

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "tests" / "codegen"
BIN = PACKAGES / "node_modules" / ".bin"
CONFIG = ROOT / "docs" / "codegen" / "codegen.ts"
OUTPUT = "src/gql/graphql.ts"

_MISSING = (
    "Node.js is not installed"
    if shutil.which("node") is None
    else "GraphQL Code Generator is not installed: npm ci --prefix tests/codegen"
    if not (BIN / "graphql-codegen").exists()
    else None
)
pytestmark = pytest.mark.skipif(
    _MISSING is not None and not os.environ.get("CI"), reason=_MISSING or ""
)

UNKNOWN_SCALAR = re.compile(r"Unknown scalar type (\w+)")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's layout around the config (schema, contract, docs/codegen) in a
    temporary folder, so the documented paths hold and the output lands there."""
    root = tmp_path_factory.mktemp("codegen")
    shutil.copy(ROOT / "schema.graphql", root / "schema.graphql")
    shutil.copytree(ROOT / "contract" / "operations", root / "contract" / "operations")
    folder = root / "docs" / "codegen"
    folder.mkdir(parents=True)
    shutil.copy(CONFIG, folder / "codegen.ts")
    shutil.copy(PACKAGES / "strict.ts", folder / "strict.ts")
    (root / "node_modules").symlink_to(PACKAGES / "node_modules", target_is_directory=True)
    return folder


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def custom_scalars() -> set[str]:
    schema = build_schema((ROOT / "schema.graphql").read_text())
    return {
        name
        for name, kind in schema.type_map.items()
        if isinstance(kind, GraphQLScalarType) and name not in specified_scalar_types
    }


def expected_names() -> set[str]:
    """The generated type of each operation and fragment of the contract, and each
    operation's variables and typed document."""
    names = set()
    for path in sorted((ROOT / "contract" / "operations").glob("*.graphql")):
        for definition in parse(path.read_text()).definitions:
            if isinstance(definition, OperationDefinitionNode):
                assert definition.name is not None, f"{path.name}: an operation without a name"
                name = definition.name.value
                kind = definition.operation.value.capitalize()
                names |= {f"{name}{kind}", f"{name}{kind}Variables", f"{name}Document"}
            elif isinstance(definition, FragmentDefinitionNode):
                names |= {f"{definition.name.value}Fragment", f"{definition.name.value}FragmentDoc"}
    return names


@pytest.fixture(scope="module")
def generated(workspace: Path) -> str:
    result = run(workspace, "graphql-codegen", "--config", "codegen.ts")
    assert result.returncode == 0, f"codegen failed:\n{result.stdout}\n{result.stderr}"
    return (workspace / OUTPUT).read_text()


def test_codegen_types_every_operation_of_the_contract(generated: str) -> None:
    exported = set(re.findall(r"^export (?:type|const) (\w+)", generated, re.MULTILINE))
    missing = expected_names() - exported
    assert not missing, f"codegen generated no {sorted(missing)}"
    assert len(expected_names()) > 150  # every document of every domain was read


def test_the_scalars_come_out_as_the_guide_says(generated: str) -> None:
    # A sample field of each scalar, as the contract's documents select or send it.
    assert "amount: string" in generated  # Decimal
    assert "purchasedAt: string" in generated  # DateTime
    assert "date: string" in generated  # Date (a habit's check-ins)
    assert "fields: unknown" in generated  # JSON (sync records, presigned fields)
    assert "file: File" in generated  # Upload
    assert not re.search(r":\s*any\b", generated), "a value was typed as any"


def test_every_scalar_of_the_schema_is_mapped_and_strictly(workspace: Path) -> None:
    """`strict.ts` types the whole schema with the documented mappings (it must generate)
    and once without each mapping (each must fail, naming that scalar)."""
    result = run(workspace, "graphql-codegen", "--config", "strict.ts")
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"codegen succeeded with a mapping removed:\n{output}"
    failed = UNKNOWN_SCALAR.findall(output)
    scalars = custom_scalars()
    assert sorted(failed) == sorted(scalars), (
        f"the schema's custom scalars are {sorted(scalars)}; codegen refused {failed}. "
        "Map each scalar of schema.graphql in docs/codegen/codegen.ts (scalars) and "
        "describe it in docs/clients.md."
    )


def test_the_generated_types_compile(generated: str, workspace: Path) -> None:
    result = run(
        workspace,
        "tsc",
        "--noEmit",
        "--strict",
        "--verbatimModuleSyntax",
        "--target",
        "es2022",
        "--module",
        "esnext",
        "--moduleResolution",
        "bundler",
        "--lib",
        "es2022,dom",
        OUTPUT,
    )
    assert result.returncode == 0, f"tsc:\n{result.stdout}\n{result.stderr}"
