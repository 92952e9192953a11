"""Every list of the client contract runs a fixed number of SQL statements, whatever the
page size or the amount of data: nested lists are batched, never read row by row.

Each contract document is sent verbatim. Paged lists are read at ``first: 1`` and at
``first: 100`` of a user with more than 100 rows; the others for a user owning one row of
each kind and for one owning over a hundred.
"""

from __future__ import annotations

import uuid

import pytest
from conftest import Api, StatementCounter
from list_operations import UNFILTERED, ListOperation, listed
from volume import Volume, bulk, seed, seed_users

from resolvers.context import Services

LARGE = Volume(rows=120, habits=12, days=30)
SMALL = Volume(rows=1, habits=1, days=1)

# The statements of each list, as the comments say; a page carries its total count.
EXPECTED = {
    # principal, page, items, receipts, their OCR results
    "Purchases": 5,
    # principal, page, OCR results
    "Receipts": 3,
    # principal, page
    "Tasks": 2,
    # principal, page, images
    "Notes": 3,
    # principal, page, roles
    "AdminUsers": 3,
    # principal, habits, check-ins
    "Habits": 3,
    # principal, roles
    "Roles": 2,
    # principal, figures, recent purchases
    "Dashboard": 3,
    # principal, changes, one per collection (tasks, notes, habits), notes' images
    "SyncPull": 6,
    # principal, total, by category, by month, top merchants
    "SpendingSummary": 5,
    # principal, budgets with their spending
    "Budgets": 2,
    # principal, categories
    "Categories": 2,
    # principal, totals
    "SpendingByCurrency": 2,
}


def user_id(session: dict[str, object]) -> uuid.UUID:
    user = session["user"]
    assert isinstance(user, dict)
    return uuid.UUID(str(user["id"]).removeprefix("user_"))


async def statements_of(
    api: Api, statements: StatementCounter, operation: ListOperation, token: str, **extra: object
) -> tuple[int, int]:
    """(statements run, rows listed) for one request of the operation."""
    statements.count = 0
    result = await api.op(operation.name, {**operation.variables, **extra}, token)
    count = statements.count
    return count, len(listed(result, operation))


@pytest.mark.parametrize("operation", UNFILTERED, ids=lambda operation: operation.label)
async def test_a_list_runs_the_same_statements_for_one_row_and_for_a_hundred(
    api: Api, services: Services, statements: StatementCounter, operation: ListOperation
) -> None:
    sign_up = api.admin if operation.admin else api.register
    large = await sign_up("large@example.com")
    small = await api.register("small@example.com")
    async with bulk(services.engine) as connection:
        await seed(connection, [user_id(large)], LARGE)
        await seed(connection, [user_id(small)], SMALL)
        await seed_users(connection, LARGE.rows, "people.example")
    if operation.paged:
        one = await statements_of(api, statements, operation, large["accessToken"], first=1)
        hundred = await statements_of(api, statements, operation, large["accessToken"], first=100)
        assert (one[1], hundred[1]) == (1, 100)
    elif operation.admin:  # the same for every caller: read twice
        one = await statements_of(api, statements, operation, large["accessToken"])
        hundred = await statements_of(api, statements, operation, large["accessToken"])
    else:
        one = await statements_of(api, statements, operation, small["accessToken"])
        hundred = await statements_of(api, statements, operation, large["accessToken"])
        assert one[1] < hundred[1]
    assert one[0] == hundred[0] == EXPECTED[operation.name], (one, hundred)
