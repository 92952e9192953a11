"""Schemathesis fuzzes every query and mutation of the schema over HTTP, against a real
Uvicorn server, as a signed-in member with a record of each kind: no answer may be a 5xx,
or carry an error without a code or with INTERNAL_SERVER_ERROR. None is left out: the
operations that end the session (``logoutEverywhere``, ``deleteMyAccount``,
``changePassword``) are fuzzed too, and the member registers again when its token stops
working (tests/fuzzing.py). Derandomized, so every run sends the same cases;
``bench/fuzz.py`` sends many more."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import make_settings, reset
from fuzzing import KnownIds, Member, faults, load_schema, register_scalars, served
from hypothesis import HealthCheck, settings

from lifegraph.services import build_services

EXAMPLES = 25  # per operation: about a minute for the file on a 2-core machine

known = KnownIds()
register_scalars(known)
schema = load_schema()


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    services = build_services(make_settings(database_url, data_dir=tmp_path_factory.mktemp("fuzz")))
    with served(services) as url:
        yield url
    asyncio.run(reset(database_url))


@pytest.fixture(scope="module")
def member(server: str) -> Member:
    return Member(server, known)


@pytest.fixture
def fresh(member: Member) -> Member:
    """New records for each operation: the one before may have deleted them."""
    member.register()
    return member


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_input_is_a_server_fault(case: Any, fresh: Member) -> None:
    response = fresh.call(case)
    assert not faults(response), f"{case.body}\n{faults(response)}"
