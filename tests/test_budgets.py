"""Budgets, spending per currency, categories and line items replaced, through the
contract's own documents: validation, ownership, months in the user's calendar."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import Api, StatementCounter, errors_of

from lifegraph.services import build_services
from lifegraph.settings import Settings
from resolvers.context import Services
from storage.ocr import OcrEngine

# Mid-November in Paris (UTC+1): "this month" is 2026-11.
NOW = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def services(settings: Settings, local_ocr: OcrEngine) -> Services:
    return dataclasses.replace(build_services(settings), ocr=local_ocr, clock=lambda: NOW)


async def signed_in(api: Api, email: str = "saver@example.com") -> str:
    token: str = (await api.register(email))["accessToken"]
    settings = {"timezone": "Europe/Paris", "currency": "EUR"}
    result = await api.op("UpdateProfile", {"input": {"settings": settings}}, token)
    assert result["data"]["updateProfile"]["userErrors"] == []
    return token


async def buy(
    api: Api,
    token: str,
    amount: str,
    at: str,
    category: str | None = "food",
    currency: str = "EUR",
    items: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    result = await api.op(
        "CreatePurchase",
        {
            "input": {
                "merchant": "Market",
                "amount": amount,
                "currency": currency,
                "category": category,
                "purchasedAt": at,
                "items": items,
            }
        },
        token,
    )
    payload = result["data"]["createPurchase"]
    assert payload["userErrors"] == [], payload
    purchase: dict[str, Any] = payload["purchase"]
    return purchase


async def set_budget(api: Api, token: str, **input: str | None) -> dict[str, Any]:
    result = await api.op("SetBudget", {"input": input}, token)
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["setBudget"]
    return payload


async def budgets(api: Api, token: str, month: str | None = None) -> list[dict[str, Any]]:
    result = await api.op("Budgets", {"month": month}, token)
    assert "errors" not in result, result
    found: list[dict[str, Any]] = result["data"]["budgets"]
    return found


async def test_set_budget_reports_every_problem_at_once(api: Api) -> None:
    token = await signed_in(api)
    payload = await set_budget(api, token, category="  ", amount="-5", currency="EURO")
    assert payload["budget"] is None
    assert {tuple(e["field"]) for e in payload["userErrors"]} == {
        ("input", "category"),
        ("input", "currency"),
    }
    payload = await set_budget(api, token, category="food", amount="-5")
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", "amount"], "INVALID")
    ]
    for amount in ("0", "10.001"):
        payload = await set_budget(api, token, category="food", amount=amount)
        assert [e["field"] for e in payload["userErrors"]] == [["input", "amount"]], amount
    assert await budgets(api, token) == []


async def test_a_month_must_be_a_calendar_month(api: Api) -> None:
    token = await signed_in(api)
    for month in ("2026-13", "2026-00", "2026-1", "November", "0000-01"):
        result = await api.op("Budgets", {"month": month}, token)
        assert errors_of(result) == ["BAD_USER_INPUT"], (month, result)


async def test_set_budget_creates_then_updates_one_per_category_and_currency(api: Api) -> None:
    token = await signed_in(api)
    first = (await set_budget(api, token, category="food", amount="200"))["budget"]
    assert (first["currency"], first["amount"], first["month"]) == ("EUR", "200.00", "2026-11")
    again = (await set_budget(api, token, category="food", amount="250.5"))["budget"]
    assert again["id"] == first["id"]
    assert again["amount"] == "250.50"
    yen = (await set_budget(api, token, category="food", amount="3000", currency="jpy"))["budget"]
    assert yen["id"] != first["id"]
    assert (yen["currency"], yen["amount"]) == ("JPY", "3000")
    listed = await budgets(api, token)
    assert [(b["category"], b["currency"], b["amount"]) for b in listed] == [
        ("food", "EUR", "250.50"),
        ("food", "JPY", "3000"),
    ]


async def test_spent_counts_the_month_in_the_users_time_zone(api: Api) -> None:
    token = await signed_in(api)
    await buy(api, token, "40.00", "2026-11-30T22:30:00Z")  # 23:30 on 30 November, Paris
    await buy(api, token, "15.00", "2026-10-31T23:30:00Z")  # 00:30 on 1 November, Paris
    await buy(api, token, "7.00", "2026-10-31T22:30:00Z")  # 23:30 on 31 October, Paris
    await buy(api, token, "99.00", "2026-11-30T23:30:00Z")  # already December in Paris
    await buy(api, token, "5.00", "2026-11-10T10:00:00Z", category="books")
    await set_budget(api, token, category="food", amount="50")

    [november] = await budgets(api, token)
    assert (november["month"], november["spent"], november["remaining"]) == (
        "2026-11",
        "55.00",
        "-5.00",
    )
    assert await budgets(api, token, "2026-11") == [november]
    [october] = await budgets(api, token, "2026-10")
    assert (october["spent"], october["remaining"]) == ("7.00", "43.00")
    [december] = await budgets(api, token, "2026-12")
    assert (december["spent"], december["remaining"]) == ("99.00", "-49.00")


async def test_currencies_are_kept_apart(api: Api) -> None:
    token = await signed_in(api)
    await buy(api, token, "20.00", "2026-11-05T10:00:00Z")
    await buy(api, token, "12.50", "2026-11-06T10:00:00Z", currency="USD")
    await buy(api, token, "3.00", "2026-11-07T10:00:00Z", category="books", currency="USD")
    await buy(api, token, "1.00", "2026-11-08T10:00:00Z", category=None)
    await set_budget(api, token, category="food", amount="100")
    await set_budget(api, token, category="food", amount="10", currency="USD")

    listed = await budgets(api, token)
    assert [(b["currency"], b["spent"], b["remaining"]) for b in listed] == [
        ("EUR", "20.00", "80.00"),
        ("USD", "12.50", "-2.50"),
    ]
    spending = await api.op("SpendingByCurrency", {"from": "2026-11-01", "to": "2026-11-30"}, token)
    assert spending["data"]["spendingByCurrency"] == [
        {"currency": "EUR", "total": "21.00", "count": 2},
        {"currency": "USD", "total": "15.50", "count": 2},
    ]
    # A category used in two currencies is two rows; purchases without one are no category.
    categories = await api.op("Categories", {}, token)
    assert categories["data"]["categories"] == [
        {"name": "books", "count": 1, "total": "3.00", "currency": "USD"},
        {"name": "food", "count": 1, "total": "20.00", "currency": "EUR"},
        {"name": "food", "count": 1, "total": "12.50", "currency": "USD"},
    ]


async def test_spending_by_currency_reads_days_in_the_users_calendar(api: Api) -> None:
    token = await signed_in(api)
    await buy(api, token, "8.00", "2026-11-30T22:30:00Z")  # 30 November in Paris
    await buy(api, token, "9.00", "2026-11-30T23:30:00Z")  # 1 December in Paris
    found = await api.op("SpendingByCurrency", {"from": "2026-11-30", "to": "2026-11-30"}, token)
    assert found["data"]["spendingByCurrency"] == [{"currency": "EUR", "total": "8.00", "count": 1}]
    backwards = await api.op(
        "SpendingByCurrency", {"from": "2026-12-01", "to": "2026-11-30"}, token
    )
    assert errors_of(backwards) == ["BAD_USER_INPUT"]


async def test_only_owners_see_and_delete_their_budgets(api: Api) -> None:
    owner = await signed_in(api)
    stranger = await signed_in(api, "stranger@example.com")
    budget = (await set_budget(api, owner, category="food", amount="50"))["budget"]
    await buy(api, owner, "20.00", "2026-11-05T10:00:00Z")
    assert await budgets(api, stranger) == []
    assert (await api.op("Categories", {}, stranger))["data"]["categories"] == []

    refused = await api.op("DeleteBudget", {"id": budget["id"]}, stranger)
    assert refused["data"]["deleteBudget"]["deletedId"] is None
    assert [e["code"] for e in refused["data"]["deleteBudget"]["userErrors"]] == ["NOT_FOUND"]
    for wrong in ("budget_nonsense", "purchase_" + budget["id"].removeprefix("budget_")):
        missing = await api.op("DeleteBudget", {"id": wrong}, owner)
        assert [e["code"] for e in missing["data"]["deleteBudget"]["userErrors"]] == ["NOT_FOUND"]
    assert len(await budgets(api, owner)) == 1

    deleted = await api.op("DeleteBudget", {"id": budget["id"]}, owner)
    assert deleted["data"]["deleteBudget"] == {"deletedId": budget["id"], "userErrors": []}
    assert await budgets(api, owner) == []
    assert errors_of(await api.op("Budgets", {}, None)) == ["UNAUTHENTICATED"]


BUDGET_NODE = """query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Budget { category amount currency month spent remaining }
  }
}"""


async def node(api: Api, token: str, global_id: str) -> dict[str, Any] | None:
    result = await api.query(BUDGET_NODE, {"id": global_id}, token)
    assert "errors" not in result, result
    found: dict[str, Any] | None = result["data"]["node"]
    return found


async def test_a_budget_is_a_node_of_its_owner_only(api: Api) -> None:
    owner = await signed_in(api, "node-saver@example.com")
    stranger = await signed_in(api, "node-stranger@example.com")
    await set_budget(api, owner, category="books", amount="30")
    budget = (await set_budget(api, owner, category="food", amount="50"))["budget"]
    assert budget["id"].startswith("budget_")
    await buy(api, owner, "20.00", "2026-11-05T10:00:00Z")
    await buy(api, owner, "7.00", "2026-10-05T10:00:00Z")  # last month: not counted

    listed = {found["id"]: found for found in await budgets(api, owner)}
    found = await node(api, owner, budget["id"])
    assert found is not None
    assert found.pop("__typename") == "Budget"
    assert found == listed[budget["id"]]
    assert (found["month"], found["spent"], found["remaining"]) == ("2026-11", "20.00", "30.00")

    assert await node(api, stranger, budget["id"]) is None
    assert await node(api, owner, f"budget_{uuid.uuid4()}") is None
    assert await node(api, owner, "budget_nonsense") is None
    await api.op("DeleteBudget", {"id": budget["id"]}, owner)
    assert await node(api, owner, budget["id"]) is None


async def replace_items(
    api: Api, token: str, purchase_id: str, items: list[dict[str, str]]
) -> dict[str, Any]:
    result = await api.op("ReplacePurchaseItems", {"id": purchase_id, "items": items}, token)
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["updatePurchase"]
    return payload


async def test_replaced_items_must_add_up_to_the_amount(api: Api) -> None:
    token = await signed_in(api)
    bought = await buy(
        api,
        token,
        "12.30",
        "2026-11-05T10:00:00Z",
        items=[{"description": "Loaf", "amount": "12.30"}],
    )
    mismatch = await replace_items(
        api,
        token,
        bought["id"],
        [{"description": "Loaf", "amount": "6.30"}, {"description": "Beans", "amount": "6.01"}],
    )
    assert mismatch["purchase"] is None
    assert [(e["field"], e["code"]) for e in mismatch["userErrors"]] == [
        (["input", "items"], "INVALID")
    ]
    invalid = await replace_items(
        api, token, bought["id"], [{"description": " ", "amount": "12.301"}]
    )
    assert {tuple(e["field"]) for e in invalid["userErrors"]} == {
        ("input", "items", "0", "description"),
        ("input", "items", "0", "amount"),
    }
    unchanged = await api.op("Purchases", {}, token)
    [edge] = unchanged["data"]["purchases"]["edges"]
    assert [i["description"] for i in edge["node"]["items"]] == ["Loaf"]

    replaced = await replace_items(
        api,
        token,
        bought["id"],
        [
            {"description": "Rolls", "quantity": "3", "unitPrice": "1.10", "amount": "3.30"},
            {"description": "Beans", "quantity": "0.5", "unitPrice": "18", "amount": "9.00"},
        ],
    )
    assert replaced["userErrors"] == []
    assert replaced["purchase"] == {
        "id": bought["id"],
        "amount": "12.30",
        "items": [
            {"description": "Rolls", "quantity": "3", "unitPrice": "1.10", "amount": "3.30"},
            {"description": "Beans", "quantity": "0.5", "unitPrice": "18.00", "amount": "9.00"},
        ],
    }
    found = await api.op("Purchases", {"filter": {"search": "rolls"}}, token)
    assert [e["node"]["id"] for e in found["data"]["purchases"]["edges"]] == [bought["id"]]

    cleared = await replace_items(api, token, bought["id"], [])
    assert cleared["purchase"]["items"] == []
    stranger = await signed_in(api, "stranger@example.com")
    refused = await replace_items(api, stranger, bought["id"], [])
    assert [e["code"] for e in refused["userErrors"]] == ["NOT_FOUND"]


async def test_lists_run_a_constant_number_of_statements(
    api: Api, statements: StatementCounter
) -> None:
    token = await signed_in(api)

    async def counted(name: str, variables: dict[str, Any]) -> int:
        statements.count = 0
        result = await api.op(name, variables, token)
        assert "errors" not in result, result
        return statements.count

    window = {"from": "2026-11-01", "to": "2026-11-30"}
    await set_budget(api, token, category="c0", amount="10")
    await buy(api, token, "1.00", "2026-11-05T10:00:00Z", category="c0")
    few = [await counted(name, vs) for name, vs in _LISTS(window)]
    for index in range(1, 8):
        await set_budget(api, token, category=f"c{index}", amount="10")
        await buy(api, token, "1.00", "2026-11-05T10:00:00Z", category=f"c{index}")
        await buy(api, token, "1.00", "2026-11-05T10:00:00Z", category=f"c{index}", currency="USD")
    many = [await counted(name, vs) for name, vs in _LISTS(window)]
    assert many == few
    assert len((await api.op("Categories", {}, token))["data"]["categories"]) == 15


def _LISTS(window: dict[str, str]) -> list[tuple[str, dict[str, Any]]]:
    return [
        ("Budgets", {}),
        ("Categories", {}),
        ("SpendingByCurrency", window),
        ("DashboardBudgets", {}),
    ]


async def test_the_dashboard_shows_every_currency_and_the_budgets(api: Api) -> None:
    token = await signed_in(api)
    await buy(api, token, "20.00", "2026-11-05T10:00:00Z")
    await buy(api, token, "12.50", "2026-11-06T10:00:00Z", currency="USD")
    await buy(api, token, "99.00", "2026-10-06T10:00:00Z")  # last month
    await set_budget(api, token, category="food", amount="30")
    result = await api.op("DashboardBudgets", {}, token)
    assert result["data"]["dashboard"] == {
        "spendingThisMonth": {"total": "20.00", "currency": "EUR", "count": 1},
        "spendingByCurrency": [
            {"currency": "EUR", "total": "20.00", "count": 1},
            {"currency": "USD", "total": "12.50", "count": 1},
        ],
        "budgets": [
            {
                "category": "food",
                "amount": "30.00",
                "spent": "20.00",
                "remaining": "10.00",
                "currency": "EUR",
            }
        ],
    }
