"""The committed schema.graphql is the live schema, and it accepts the client contract."""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from client_contract import CONTRACT_DIR, ROOT

from schema.root import export

VALIDATOR = CONTRACT_DIR / "validate.py"


def test_schema_file_matches_the_live_schema() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == export(), "run `lifegraph export-schema` and commit schema.graphql"


@cache
def validator_output() -> list[str]:
    completed = subprocess.run(
        [sys.executable, str(VALIDATOR), str(ROOT / "schema.graphql"), str(CONTRACT_DIR)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    lines = completed.stdout.splitlines()
    assert lines, completed.stderr
    assert lines[-1].startswith("contract:"), completed.stderr
    return lines


def contract_files() -> list[str]:
    return [
        "inputs.graphql",
        *sorted(p.name for p in (CONTRACT_DIR / "operations").glob("*.graphql")),
    ]


@pytest.mark.parametrize("name", contract_files())
def test_contract_file_validates(name: str) -> None:
    prefix = name if name == "inputs.graphql" else f"operations/{name}"
    problems = [line for line in validator_output() if line.startswith(f"{prefix}:")]
    assert problems == []


def test_the_contract_is_where_the_tests_expect_it() -> None:
    assert VALIDATOR.is_file(), f"no validator at {VALIDATOR}"
    assert Path(CONTRACT_DIR / "operations" / "auth.graphql").is_file()
