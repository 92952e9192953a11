"""Schemathesis fuzzing of every query and mutation, for much longer than tests/test_fuzz.py.

    python bench/fuzz.py [--examples N] [--seed S]

Starts a fresh database (a new one on the server of DATABASE_URL, dropped at the end, or
the embedded PostgreSQL in a temporary folder), serves the app with Uvicorn on a loopback
port, registers a member with a record of each kind, and sends N generated cases per
operation (positive and negative ones, as the test does) with its token, signing up again
whenever a case ended the session. Prints the operations tried, the number of cases, the
count of responses by error code (``none``: no top-level error; ``userErrors:`` codes of
payloads) and every server fault: a 5xx, or an error with INTERNAL_SERVER_ERROR or no
code. Exits with 1 if there was any.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.generation import GenerationMode

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(Path(__file__).parent)]

from fuzzing import (  # noqa: E402
    KnownIds,
    Member,
    Operation,
    faults,
    load_schema,
    operations,
    register_scalars,
    served,
)
from subscriptions import fresh_database  # noqa: E402

from lifegraph.services import build_services  # noqa: E402
from lifegraph.settings import Settings  # noqa: E402


def fuzz(operation: Operation, member: Member, examples: int, random_seed: int) -> list[str]:
    """The faults of ``examples`` cases of the operation (none are shrunk: each is kept)."""
    found: list[str] = []
    strategy = st.one_of([operation.as_strategy(mode) for mode in GenerationMode])

    @seed(random_seed)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        response = member.call(case)
        found.extend(
            f"{operation.label}: {fault}\n{case.body[:2000]}" for fault in faults(response)
        )

    run()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=200, help="cases per operation")
    parser.add_argument("--seed", type=int, default=0, help="of the generated cases")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")  # embedded PostgreSQL, as root
    known = KnownIds()
    register_scalars(known)
    selected = operations(load_schema())
    found: list[str] = []
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="lifegraph-fuzz-") as folder,
        fresh_database(Path(folder)) as url,
    ):
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            database_url=url,
            data_dir=Path(folder) / "data",
            password_memory_kib=19456,
            password_time_cost=2,
            password_parallelism=1,
            access_token_ttl_seconds=24 * 3600,
            rate_limit_user_points=10**9,
            rate_limit_address_points=10**9,
        )
        with served(build_services(settings)) as endpoint:
            member = Member(endpoint, known)
            for index, operation in enumerate(selected, 1):
                member.register()
                before = member.cases
                found += fuzz(operation, member, args.examples, args.seed)
                print(
                    f"[{index}/{len(selected)}] {operation.label}: {member.cases - before} cases",
                    file=sys.stderr,
                    flush=True,
                )
    minutes = (time.monotonic() - started) / 60
    print(f"operations tried: {len(selected)}")
    print(f"cases: {member.cases} in {minutes:.1f} min ({member.accounts} accounts)")
    print(f"5xx: {sum(n for code, n in member.by_code.items() if code.startswith('HTTP 5'))}")
    print(f"INTERNAL_SERVER_ERROR: {member.by_code['INTERNAL_SERVER_ERROR']}")
    print("responses by code:")
    for code, count in sorted(member.by_code.items(), key=lambda item: -item[1]):
        print(f"  {code:34} {count:7d}")
    for fault in found:
        print(f"\nFAULT {fault}")
    if found:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
