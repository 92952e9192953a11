"""How a bystander fares while floods run against one server process.

    python bench/attacks.py [--rounds 100] [--flood 200]

Starts a fresh database (on DATABASE_URL's server, or embedded) and one real
``lifegraph serve`` process with its default password cost (argon2id, 64 MiB, t=3) on
loopback. A bystander signed in sends the contract's ``Me`` one request at a time; its
median and 95th-percentile round trips are measured idle (the reference, in the same run)
and while each flood runs from the same client process:

- logins: ``--flood`` sign-ins at once for unknown emails (one real password check each,
  in the server's bounded hashing pool);
- aliases: ``--flood`` requests at once, each 30 aliases of ``me { id roles { name } }``
  (the most the server allows);
- refused: a quarter as many requests at once, each 50,000 aliases of ``__typename``
  (refused while parsing).

Figures are printed as ratios to the idle reference. Everything talks to 127.0.0.1 only,
every wait is bounded, and the server is stopped and the database dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(Path(__file__).parent)]

import httpx  # noqa: E402
from subscriptions import (  # noqa: E402
    SERVER_SETTINGS,
    Api,
    contract_documents,
    fresh_database,
    say,
    serving,
)

ALIASES = "{ " + " ".join(f"m{i}: me {{ id roles {{ name }} }}" for i in range(30)) + " }"
REFUSED = "{ " + " ".join(f"a{i}: __typename" for i in range(50_000)) + " }"
LOGIN = "mutation($input: LoginInput!) { login(input: $input) { userErrors { code } } }"


async def bystander(api: Api, token: str, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        result = await api.op("Me", {}, token)
        times.append(time.perf_counter() - started)
        if result.get("errors"):
            raise RuntimeError(f"the bystander was refused: {result['errors']}")
    return times


async def during(
    api: Api, token: str, rounds: int, flood: Callable[[], Coroutine[Any, Any, Counter[str]]]
) -> tuple[list[float], Counter[str]]:
    attack = asyncio.create_task(flood())
    await asyncio.sleep(0.2)  # the flood is under way
    times = await bystander(api, token, rounds)
    return times, await asyncio.wait_for(attack, 300)


async def many(client: httpx.AsyncClient, bodies: list[dict[str, Any]], token: str) -> Counter[str]:
    async def one(body: dict[str, Any]) -> str:
        try:
            response = await client.post(
                "/graphql", json=body, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.TransportError as error:
            return type(error).__name__
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        answer = response.json()
        errors = answer.get("errors") or []
        return errors[0]["extensions"]["code"] if errors else "OK"

    return Counter(await asyncio.gather(*(one(body) for body in bodies)))


def summary(times: list[float], reference: float) -> str:
    median = statistics.median(times)
    p95 = sorted(times)[int(0.95 * (len(times) - 1))]
    return f"median {median * 1000:.1f} ms ({median / reference:.1f}x), p95 {p95 * 1000:.1f} ms"


async def run(base: str, args: argparse.Namespace) -> None:
    limits = httpx.Limits(max_connections=args.flood + 10)
    async with (
        httpx.AsyncClient(base_url=base, trust_env=False, timeout=120, limits=limits) as http,
        httpx.AsyncClient(base_url=base, trust_env=False, timeout=120) as quiet,
    ):
        api = Api(quiet, contract_documents({"Me", "Register"}))
        token = await api.register("bystander@example.com")
        attacker = await api.register("attacker@example.com")
        await bystander(api, token, 10)  # warm
        idle = await bystander(api, token, args.rounds)
        reference = statistics.median(idle)
        print(f"bystander idle: {summary(idle, reference)}")
        floods: dict[str, Callable[[], Coroutine[Any, Any, Counter[str]]]] = {
            "logins": lambda: many(
                http,
                [
                    {
                        "query": LOGIN,
                        "variables": {
                            "input": {"email": f"nobody{i}@example.com", "password": "guess"}
                        },
                    }
                    for i in range(args.flood)
                ],
                attacker,
            ),
            "aliases": lambda: many(http, [{"query": ALIASES}] * args.flood, attacker),
            "refused": lambda: many(http, [{"query": REFUSED}] * (args.flood // 4), attacker),
        }
        for name, flood in floods.items():
            say(f"flood: {name}")
            times, answers = await during(api, token, args.rounds, flood)
            print(f"during {name}: {summary(times, reference)}; flood answers {dict(answers)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--flood", type=int, default=200)
    args = parser.parse_args()
    # The real password cost: the flood of logins is only a test of the hashing pool then.
    for key in ("MEMORY_KIB", "TIME_COST", "PARALLELISM"):
        SERVER_SETTINGS.pop(f"LIFEGRAPH_PASSWORD_{key}", None)
    with tempfile.TemporaryDirectory(prefix="lifegraph-attacks-") as temporary:
        folder = Path(temporary)
        with fresh_database(folder) as url, serving(url, folder, 4096) as (base, _):
            asyncio.run(run(base, args))


if __name__ == "__main__":
    main()
