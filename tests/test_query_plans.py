"""No list of the client contract reads a large table whole.

With thousands of rows of each kind for several users, and fresh statistics, every
statement a contract list sends is captured as the driver received it, then explained with
its own parameters. A sequential scan of a table past ``LARGE`` rows fails the test: it
means a missing index (or a query no index can serve), and it grows with every user.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from conftest import Api
from list_operations import FILTERED, UNFILTERED, ListOperation, listed
from sqlalchemy import event, text
from volume import Volume, bulk, seed, seed_users

from resolvers.context import Services

# Twenty owners of 400 rows of each kind: the one who lists owns a twentieth of each table,
# as any one user owns a small part of it. Every table stays under the 30,000 rows ANALYZE
# samples, so the statistics, and the plans, are the same on every run.
VOLUME = Volume(rows=400, habits=20, days=60)
OWNERS = 20
LARGE = 1000  # rows: past this a sequential scan costs more than a few pages

# Small lookup tables, read whole on purpose: the roles (a handful of rows).
READ_WHOLE = {"roles"}
# Tables whose every row a list counts: the admin list's totalCount of all users. Nothing
# but a scan answers that (an estimate, or a kept count, would be other SQL).
COUNTED_WHOLE = {"users"}


def scans_whole(plan: dict[str, Any], node: dict[str, Any]) -> bool:
    """A sequential scan, but of a lookup table or to count every row of the table (the
    count may be a subquery of the page's statement)."""
    if node["Node Type"] != "Seq Scan" or node["Relation Name"] in READ_WHOLE:
        return False
    counts = any(
        parent["Node Type"] == "Aggregate" and parent.get("Plans") == [node]
        for parent in nodes(plan)
    )
    return not (counts and node["Relation Name"] in COUNTED_WHOLE and "Filter" not in node)


def walks(node: dict[str, Any]) -> bool:
    """An index read in order from its start and filtered: to fill a page it may go
    through every row, as a sequential scan would (an unfiltered walk stops at the
    page's end)."""
    return (
        node["Node Type"] in ("Index Scan", "Index Only Scan")
        and "Index Cond" not in node
        and "Filter" in node
    )


def user_id(session: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(session["user"]["id"].removeprefix("user_"))


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


async def run(api: Api, token: str, operation: ListOperation) -> None:
    """The operation as the apps send it; a paged list at its first and second page."""
    page = {"first": 20} if operation.paged else {}
    result = await api.op(operation.name, {**operation.variables, **page}, token)
    assert listed(result, operation), operation.label
    if operation.paged:
        connection: Any = result["data"]
        for key in operation.path:
            connection = connection[key]
        second = {**operation.variables, **page, "after": connection["pageInfo"]["endCursor"]}
        listed(await api.op(operation.name, second, token), operation)


async def test_no_list_scans_a_large_table(api: Api, services: Services) -> None:
    caller = await api.admin("owner@example.com")
    async with bulk(services.engine) as connection:
        await seed_users(connection, 20_000, "people.example")
        others = await connection.scalars(
            text(
                "SELECT id FROM users WHERE email LIKE '%@people.example' ORDER BY email LIMIT :n"
            ),
            {"n": OWNERS - 1},
        )
        await seed(connection, [user_id(caller), *others], VOLUME)
    # As autovacuum leaves tables: statistics, the visibility map, and GIN indexes' pending
    # entries merged (the planner prices a long pending list as a slow index).
    async with services.engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("VACUUM ANALYZE"))
        large = set(
            await connection.scalars(
                text(
                    "SELECT relname FROM pg_class WHERE relkind = 'r' AND reltuples > :rows "
                    "AND relnamespace = 'public'::regnamespace"
                ),
                {"rows": LARGE},
            )
        )
    assert {"purchases", "receipts", "tasks", "notes", "users", "sync_changes"} <= large

    sent: list[tuple[str, str, Any]] = []
    current = ""

    def capture(connection: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        sent.append((current, statement, parameters))

    engine = services.engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        for operation in UNFILTERED + FILTERED:
            current = operation.label
            await run(api, caller["accessToken"], operation)
    finally:
        event.remove(engine, "before_cursor_execute", capture)

    scans: list[str] = []
    explained: set[tuple[str, str]] = set()
    async with services.engine.connect() as connection:
        for label, statement, parameters in sent:
            key = (statement, repr(parameters))
            if not statement.lstrip().upper().startswith(("SELECT", "WITH")) or key in explained:
                continue
            explained.add(key)
            raw = await connection.exec_driver_sql(
                f"EXPLAIN (FORMAT JSON) {statement}", tuple(parameters)
            )
            found = raw.scalar_one()
            plan = (json.loads(found) if isinstance(found, str) else found)[0]["Plan"]
            for node in nodes(plan):
                table = node.get("Relation Name")
                if table in large and (walks(node) or scans_whole(plan, node)):
                    scans.append(
                        f"{label}: {node['Node Type']} of {table}\n{statement}\n"
                        f"{json.dumps(plan, indent=1)}"
                    )
    assert len(explained) > len(UNFILTERED + FILTERED)
    assert not scans, "\n\n".join(scans)
