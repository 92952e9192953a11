"""Every list the client contract reads, with the variables it is sent: the cases of the
query-cost tests (tests/test_statement_counts.py, tests/test_query_plans.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ListOperation:
    """A contract operation that lists rows; ``paged`` when it takes ``first``/``after``,
    ``path`` the keys from ``data`` down to its connection or list."""

    name: str
    path: tuple[str, ...]
    variables: dict[str, Any] = field(default_factory=dict)
    paged: bool = False
    admin: bool = False

    @property
    def label(self) -> str:
        shown = {k: v for k, v in self.variables.items() if k not in ("from", "to")}
        return f"{self.name}({shown})" if shown else self.name


PERIOD = {"from": "2026-01-01", "to": "2026-12-01"}

# The contract's lists, each with no filter; nested lists (items, receipt and its OCR, note
# images, check-ins, roles) come with their parents' documents.
UNFILTERED = [
    ListOperation("Purchases", ("purchases",), paged=True),
    ListOperation("Receipts", ("receipts",), paged=True),
    ListOperation("Tasks", ("tasks",), paged=True),
    ListOperation("Notes", ("notes",), paged=True),
    ListOperation("AdminUsers", ("users",), paged=True, admin=True),
    ListOperation("Habits", ("habits",), {"includeArchived": True, **PERIOD}),
    ListOperation("Roles", ("roles",), admin=True),
    ListOperation("Dashboard", ("dashboard", "recentPurchases")),
    ListOperation("SyncPull", ("syncPull", "changes")),
    ListOperation("SpendingSummary", ("spendingSummary", "byCategory"), PERIOD),
    ListOperation("Budgets", ("budgets",), {"month": "2026-11"}),
    ListOperation("Categories", ("categories",)),
    ListOperation("SpendingByCurrency", ("spendingByCurrency",), PERIOD),
]

# The filters, orders and searches the contract's variables allow: each is other SQL.
FILTERED = [
    ListOperation(
        "Purchases",
        ("purchases",),
        {"orderBy": {"field": "AMOUNT", "direction": "DESC"}},
        paged=True,
    ),
    ListOperation(
        "Purchases",
        ("purchases",),
        {"orderBy": {"field": "MERCHANT", "direction": "ASC"}},
        paged=True,
    ),
    ListOperation(
        "Purchases",
        ("purchases",),
        {"orderBy": {"field": "CREATED_AT", "direction": "ASC"}},
        paged=True,
    ),
    ListOperation("Purchases", ("purchases",), {"filter": {"search": "bakery"}}, paged=True),
    ListOperation("Purchases", ("purchases",), {"filter": {"category": "books"}}, paged=True),
    ListOperation(
        "Purchases",
        ("purchases",),
        {"filter": {"merchant": "city books", "minAmount": "10", "maxAmount": "50"}},
        paged=True,
    ),
    ListOperation(
        "Purchases",
        ("purchases",),
        {"filter": {"from": "2026-10-01T00:00:00Z", "to": "2026-10-31T00:00:00Z"}},
        paged=True,
    ),
    ListOperation(
        "Receipts",
        ("receipts",),
        {"filter": {"status": "FAILED", "from": "2026-10-01"}},
        paged=True,
    ),
    ListOperation(
        "Tasks",
        ("tasks",),
        {"filter": {"status": ["TODO"], "priority": ["HIGH", "URGENT"]}},
        paged=True,
    ),
    ListOperation("Tasks", ("tasks",), {"filter": {"tag": "tag3"}}, paged=True),
    ListOperation("Tasks", ("tasks",), {"filter": {"search": "details 12"}}, paged=True),
    ListOperation(
        "Tasks",
        ("tasks",),
        {"filter": {"dueAfter": "2026-12-01T00:00:00Z", "dueBefore": "2026-12-08T00:00:00Z"}},
        paged=True,
    ),
    ListOperation("Notes", ("notes",), {"filter": {"tag": "tag4"}}, paged=True),
    ListOperation("Notes", ("notes",), {"filter": {"pinned": True}}, paged=True),
    ListOperation("Notes", ("notes",), {"filter": {"search": "topic 7"}}, paged=True),
    ListOperation("AdminUsers", ("users",), {"search": "person1234"}, paged=True, admin=True),
    ListOperation("Habits", ("habits",), {"includeArchived": False, **PERIOD}),
    ListOperation("SyncPull", ("syncPull", "changes"), {"collections": ["NOTES"]}),
    ListOperation(
        "SpendingSummary", ("spendingSummary", "byCategory"), {**PERIOD, "currency": "USD"}
    ),
]


def listed(result: dict[str, Any], operation: ListOperation) -> list[Any]:
    """The rows the operation returned: a connection's edges, or the list itself."""
    assert "errors" not in result, result["errors"]
    found: Any = result["data"]
    for key in operation.path:
        found = found[key]
    rows: list[Any] = found["edges"] if isinstance(found, dict) else found
    return rows
