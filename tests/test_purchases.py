"""Purchases through the GraphQL endpoint: validation, filters, ordering, summaries."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from conftest import Api, StatementCounter, errors_of
from unstorable import UNSTORABLE, send

PURCHASES = [
    # merchant, amount, currency, category, purchasedAt, note, items
    ("Corner Bakery", "4.50", "EUR", "food", "2026-01-05T08:00:00Z", "croissants", []),
    (
        "Corner Bakery",
        "12.30",
        "EUR",
        "food",
        "2026-01-20T08:00:00Z",
        None,
        [("Sourdough loaf", "6.30"), ("Coffee beans", "6.00")],
    ),
    ("Hardware Hub", "89.99", "EUR", "home", "2026-02-01T23:30:00Z", "drill for the shelves", []),
    ("City Transit", "30.00", "EUR", "transport", "2026-02-15T12:00:00Z", None, []),
    (
        "Book Nook",
        "19.00",
        "EUR",
        None,
        "2026-03-02T10:00:00Z",
        "a novel",
        [("Paperback", "19.00")],
    ),
    ("Dollar Diner", "15.00", "USD", "food", "2026-02-10T12:00:00Z", None, []),
]


async def signed_in(
    api: Api, email: str = "buyer@example.com", timezone: str = "Europe/Paris"
) -> str:
    token: str = (await api.register(email))["accessToken"]
    result = await api.op(
        "UpdateProfile", {"input": {"settings": {"timezone": timezone, "currency": "EUR"}}}, token
    )
    assert result["data"]["updateProfile"]["userErrors"] == []
    return token


async def create(api: Api, token: str, row: tuple[Any, ...]) -> dict[str, Any]:
    merchant, amount, currency, category, at, note, items = row
    result = await api.op(
        "CreatePurchase",
        {
            "input": {
                "merchant": merchant,
                "amount": amount,
                "currency": currency,
                "category": category,
                "purchasedAt": at,
                "note": note,
                "items": [{"description": d, "amount": a} for d, a in items],
            }
        },
        token,
    )
    payload = result["data"]["createPurchase"]
    assert payload["userErrors"] == [], payload
    purchase: dict[str, Any] = payload["purchase"]
    return purchase


async def seed(api: Api, token: str) -> list[dict[str, Any]]:
    return [await create(api, token, row) for row in PURCHASES]


async def listed(api: Api, token: str, **variables: Any) -> list[str]:
    result = await api.op("Purchases", {"first": 100, **variables}, token)
    assert "errors" not in result, result
    return [
        edge["node"]["merchant"] + " " + edge["node"]["amount"]
        for edge in result["data"]["purchases"]["edges"]
    ]


async def test_create_with_items_and_defaults(api: Api) -> None:
    token = await signed_in(api)
    created = await create(api, token, PURCHASES[1])
    assert created["id"].startswith("purchase_")
    assert created["amount"] == "12.30"
    assert created["currency"] == "EUR"
    assert created["purchasedAt"] == "2026-01-20T08:00:00Z"
    assert created["items"] == [
        {"description": "Sourdough loaf", "quantity": None, "unitPrice": None, "amount": "6.30"},
        {"description": "Coffee beans", "quantity": None, "unitPrice": None, "amount": "6.00"},
    ]
    default = await api.op(
        "CreatePurchase",
        {"input": {"merchant": "Kiosk", "amount": "3", "purchasedAt": "2026-01-01T10:00:00+01:00"}},
        token,
    )
    purchase = default["data"]["createPurchase"]["purchase"]
    assert (purchase["currency"], purchase["amount"]) == ("EUR", "3.00")
    assert purchase["purchasedAt"] == "2026-01-01T09:00:00Z"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": "1.234"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"currency": "JPY", "amount": "10.5"}, "amount"),
        ({"amount": "1E-999999999"}, "amount"),  # normalize() made it 0
        ({"amount": "1." + "0" * 40 + "1"}, "amount"),  # and this 1
        ({"currency": "XYZ"}, "currency"),
        ({"merchant": "  "}, "merchant"),
        ({"category": "x" * 61}, "category"),
        ({"items": [{"description": "", "amount": "1"}]}, "items"),
        ({"items": [{"description": "x", "amount": "1", "quantity": "1E+999999999"}]}, "items"),
        ({"receiptId": "receipt_00000000-0000-0000-0000-000000000000"}, "receiptId"),
    ],
)
async def test_bad_input_is_refused_and_nothing_stored(
    api: Api, changes: dict[str, Any], field: str
) -> None:
    token = await signed_in(api)
    base = {"merchant": "Shop", "amount": "1.00", "purchasedAt": "2026-01-01T10:00:00Z"}
    result = await api.op("CreatePurchase", {"input": {**base, **changes}}, token)
    payload = result["data"]["createPurchase"]
    assert payload["purchase"] is None
    assert payload["userErrors"][0]["field"][:2] == ["input", field]
    assert (await api.op("Purchases", {}, token))["data"]["purchases"]["totalCount"] == 0


async def test_filters(api: Api) -> None:
    token = await signed_in(api)
    await seed(api, token)
    assert await listed(api, token, filter={"category": "food"}) == [
        "Dollar Diner 15.00",
        "Corner Bakery 12.30",
        "Corner Bakery 4.50",
    ]
    assert await listed(api, token, filter={"merchant": "corner bakery"}) == [
        "Corner Bakery 12.30",
        "Corner Bakery 4.50",
    ]
    assert await listed(api, token, filter={"minAmount": "15", "maxAmount": "30"}) == [
        "Book Nook 19.00",
        "City Transit 30.00",
        "Dollar Diner 15.00",
    ]
    window = {"from": "2026-02-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}
    assert await listed(api, token, filter=window) == [
        "City Transit 30.00",
        "Dollar Diner 15.00",
        "Hardware Hub 89.99",
    ]
    assert await listed(api, token, filter={"search": "sourd"}) == ["Corner Bakery 12.30"]
    assert await listed(api, token, filter={"search": "shelves drill"}) == ["Hardware Hub 89.99"]
    assert await listed(api, token, filter={"search": "nook"}) == ["Book Nook 19.00"]
    assert await listed(api, token, filter={"search": "!!"}) == [
        row[0] + " " + row[1] for row in sorted(PURCHASES, key=lambda r: r[4], reverse=True)
    ]


@pytest.mark.parametrize(
    ("field", "direction", "expected"),
    [
        ("AMOUNT", "ASC", ["4.50", "12.30", "15.00", "19.00", "30.00", "89.99"]),
        ("AMOUNT", "DESC", ["89.99", "30.00", "19.00", "15.00", "12.30", "4.50"]),
        ("PURCHASED_AT", "ASC", ["4.50", "12.30", "89.99", "15.00", "30.00", "19.00"]),
        ("MERCHANT", "ASC", ["19.00", "30.00", "4.50", "12.30", "15.00", "89.99"]),
        ("CREATED_AT", "DESC", ["15.00", "19.00", "30.00", "89.99", "12.30", "4.50"]),
    ],
)
async def test_ordering_and_pagination(
    api: Api, field: str, direction: str, expected: list[str]
) -> None:
    token = await signed_in(api)
    await seed(api, token)
    amounts: list[str] = []
    after = None
    while True:
        result = await api.op(
            "Purchases",
            {"first": 4, "after": after, "orderBy": {"field": field, "direction": direction}},
            token,
        )
        connection = result["data"]["purchases"]
        assert connection["totalCount"] == 6
        amounts += [edge["node"]["amount"] for edge in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    if field == "MERCHANT":
        # Ties (two Corner Bakery rows) are ordered by id, so compare as sets per merchant.
        assert sorted(amounts[2:4]) == sorted(expected[2:4])
        amounts[2:4] = expected[2:4]
    assert amounts == expected


async def test_update_and_delete(api: Api) -> None:
    token = await signed_in(api)
    created = await create(api, token, PURCHASES[0])
    updated = await api.op(
        "UpdatePurchase",
        {
            "id": created["id"],
            "input": {"amount": "5.10", "category": None, "note": "pain au chocolat"},
        },
        token,
    )
    purchase = updated["data"]["updatePurchase"]["purchase"]
    assert (purchase["amount"], purchase["category"], purchase["note"]) == (
        "5.10",
        None,
        "pain au chocolat",
    )
    assert await listed(api, token, filter={"search": "chocolat"}) == ["Corner Bakery 5.10"]

    bad = await api.op("UpdatePurchase", {"id": created["id"], "input": {"currency": "JPY"}}, token)
    assert bad["data"]["updatePurchase"]["userErrors"][0]["field"] == ["input", "currency"]

    deleted = await api.op("DeletePurchase", {"id": created["id"]}, token)
    assert deleted["data"]["deletePurchase"] == {"deletedId": created["id"], "userErrors": []}
    again = await api.op("DeletePurchase", {"id": created["id"]}, token)
    assert again["data"]["deletePurchase"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_spending_summary_matches_hand_computed_sums(api: Api) -> None:
    token = await signed_in(api)  # Europe/Paris: 2026-02-01T23:30Z is 2 February there
    await seed(api, token)
    result = await api.op("SpendingSummary", {"from": "2026-01-01", "to": "2026-03-31"}, token)
    summary = result["data"]["spendingSummary"]
    assert summary["currency"] == "EUR"
    assert summary["count"] == 5
    assert Decimal(summary["total"]) == Decimal("4.50") + Decimal("12.30") + Decimal(
        "89.99"
    ) + Decimal("30.00") + Decimal("19.00")
    assert summary["total"] == "155.79"
    assert {(c["category"], c["total"], c["count"]) for c in summary["byCategory"]} == {
        ("food", "16.80", 2),
        ("home", "89.99", 1),
        ("transport", "30.00", 1),
        (None, "19.00", 1),
    }
    assert [(m["month"], m["total"], m["count"]) for m in summary["byMonth"]] == [
        ("2026-01", "16.80", 2),
        ("2026-02", "119.99", 2),
        ("2026-03", "19.00", 1),
    ]
    assert [(m["merchant"], m["total"]) for m in summary["topMerchants"]] == [
        ("Hardware Hub", "89.99"),
        ("City Transit", "30.00"),
        ("Book Nook", "19.00"),
        ("Corner Bakery", "16.80"),
    ]
    dollars = await api.op(
        "SpendingSummary", {"from": "2026-02-10", "to": "2026-02-10", "currency": "usd"}, token
    )
    assert dollars["data"]["spendingSummary"]["total"] == "15.00"
    february = await api.op("SpendingSummary", {"from": "2026-02-02", "to": "2026-02-28"}, token)
    assert february["data"]["spendingSummary"]["total"] == "119.99"


async def test_listing_runs_a_constant_number_of_statements(
    api: Api, statements: StatementCounter
) -> None:
    token = await signed_in(api)
    for index in range(30):
        await create(
            api,
            token,
            (
                "Shop",
                f"{index + 1}.00",
                "EUR",
                "x",
                "2026-01-01T10:00:00Z",
                None,
                [("a", "0.50"), ("b", "0.50")],
            ),
        )
    statements.count = 0
    result = await api.op("Purchases", {"first": 30}, token)
    assert len(result["data"]["purchases"]["edges"]) == 30
    # Principal, page (with its count), one batch of items; no receipts are linked.
    assert statements.count == 3, statements.count


async def test_another_users_purchase_is_not_found_by_any_path(api: Api) -> None:
    owner = await signed_in(api, "owner@example.com")
    other = await signed_in(api, "other@example.com")
    purchase = await create(api, owner, PURCHASES[0])
    assert (await api.op("Node", {"id": purchase["id"]}, other))["data"]["node"] is None
    assert (await api.op("Node", {"id": purchase["id"]}, owner))["data"]["node"]["amount"] == "4.50"
    assert (await api.op("Purchases", {}, other))["data"]["purchases"]["totalCount"] == 0
    update = await api.op("UpdatePurchase", {"id": purchase["id"], "input": {"amount": "1"}}, other)
    assert update["data"]["updatePurchase"]["userErrors"][0]["code"] == "NOT_FOUND"
    delete = await api.op("DeletePurchase", {"id": purchase["id"]}, other)
    assert delete["data"]["deletePurchase"]["userErrors"][0]["code"] == "NOT_FOUND"
    summary = await api.op("SpendingSummary", {"from": "2026-01-01", "to": "2026-12-31"}, other)
    assert summary["data"]["spendingSummary"]["count"] == 0
    assert errors_of(await api.op("Purchases", {})) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    ("currency", "amount", "shown", "unit_price", "unit_shown"),
    [
        ("EUR", "12.3", "12.30", "2", "2.00"),
        ("USD", "1000", "1000.00", "0.5", "0.50"),
        ("JPY", "1200", "1200", "120", "120"),
    ],
)
async def test_money_has_minor_digits_and_quantities_are_plain(
    api: Api, currency: str, amount: str, shown: str, unit_price: str, unit_shown: str
) -> None:
    token = await signed_in(api)
    quantities = ["10", "100", "1000", "0.5", "0", "1.250", "1E+1"]
    result = await api.op(
        "CreatePurchase",
        {
            "input": {
                "merchant": "Market",
                "amount": amount,
                "currency": currency,
                "purchasedAt": "2026-01-05T08:00:00Z",
                "items": [
                    {"description": q, "quantity": q, "unitPrice": unit_price, "amount": amount}
                    for q in quantities
                ],
            }
        },
        token,
    )
    payload = result["data"]["createPurchase"]
    assert payload["userErrors"] == []
    purchase = payload["purchase"]
    assert purchase["amount"] == shown
    assert [(i["quantity"], i["unitPrice"], i["amount"]) for i in purchase["items"]] == [
        (q, unit_shown, shown) for q in ["10", "100", "1000", "0.5", "0", "1.25", "10"]
    ]
    listed_node = (await api.op("Purchases", {}, token))["data"]["purchases"]["edges"][0]["node"]
    assert listed_node["items"] == purchase["items"]
    summary = await api.op(
        "SpendingSummary", {"from": "2026-01-01", "to": "2026-01-31", "currency": currency}, token
    )
    figures = summary["data"]["spendingSummary"]
    assert (figures["total"], figures["byMonth"][0]["total"]) == (shown, shown)
    assert figures["topMerchants"][0]["total"] == shown


async def test_dashboard_money_has_the_users_minor_digits(api: Api) -> None:
    token = (await api.register("yen@example.com"))["accessToken"]
    await api.op("UpdateProfile", {"input": {"settings": {"currency": "JPY"}}}, token)
    now = datetime.now(UTC).isoformat()
    await api.op(
        "CreatePurchase",
        {"input": {"merchant": "Kiosk", "amount": "1E+3", "purchasedAt": now}},
        token,
    )
    board = (await api.op("Dashboard", {}, token))["data"]["dashboard"]
    assert board["recentPurchases"][0]["amount"] == "1000"
    assert board["spendingThisMonth"] == {"total": "1000", "currency": "JPY", "count": 1}


@pytest.mark.parametrize(
    ("stored", "searched"),
    [("Cafe\u0301 Noir", "Caf\u00e9"), ("Caf\u00e9 Noir", "Cafe\u0301")],
)
async def test_merchants_are_stored_composed_and_found_either_way(
    api: Api, stored: str, searched: str
) -> None:
    token = await signed_in(api)
    created = await create(
        api, token, (stored, "3.20", "EUR", "Cafe\u0301s", "2026-01-05T08:00:00Z", None, [])
    )
    assert created["merchant"] == "Caf\u00e9 Noir"
    assert created["category"] == "Caf\u00e9s"
    assert await listed(api, token, filter={"search": searched}) == ["Café Noir 3.20"]
    assert await listed(api, token, filter={"merchant": f"{searched} noir"}) == ["Café Noir 3.20"]
    assert await listed(api, token, filter={"category": f"{searched}s"}) == ["Café Noir 3.20"]


@pytest.mark.parametrize("bad", UNSTORABLE)
@pytest.mark.parametrize("name", ["merchant", "category", "note", "description"])
async def test_text_postgresql_cannot_hold_is_refused(api: Api, bad: str, name: str) -> None:
    token = await signed_in(api)
    base = {"merchant": "Shop", "amount": "1.00", "purchasedAt": "2026-01-01T10:00:00Z"}
    if name == "description":
        changes: dict[str, Any] = {"items": [{"description": bad, "amount": "1"}]}
        field = ["input", "items", "0", "description"]
    else:
        changes, field = {name: bad}, ["input", name]
    result = await send(api, "CreatePurchase", {"input": {**base, **changes}}, token)
    payload = result["data"]["createPurchase"]
    assert payload["purchase"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, "INVALID")]
    assert (await api.op("Purchases", {}, token))["data"]["purchases"]["totalCount"] == 0
    if name != "description":
        created = await create(api, token, PURCHASES[0])
        update = await send(api, "UpdatePurchase", {"id": created["id"], "input": changes}, token)
        assert update["data"]["updatePurchase"]["userErrors"][0]["field"] == field
        assert await listed(api, token) == ["Corner Bakery 4.50"]


@pytest.mark.parametrize("bad", UNSTORABLE)
@pytest.mark.parametrize("name", ["search", "merchant", "category"])
async def test_filters_with_text_postgresql_cannot_hold_are_bad_input(
    api: Api, bad: str, name: str
) -> None:
    token = await signed_in(api)
    result = await send(api, "Purchases", {"filter": {name: bad}}, token)
    assert errors_of(result) == ["BAD_USER_INPUT"]


async def test_quantities_keep_the_four_places_stored_whatever_their_exponent(api: Api) -> None:
    token = await signed_in(api)
    item = {"description": "Dust", "amount": "1", "quantity": "1E-999999999", "unitPrice": "2.5E-5"}
    result = await api.op(
        "CreatePurchase",
        {
            "input": {
                "merchant": "Shop",
                "amount": "1",
                "purchasedAt": "2026-01-01T10:00:00Z",
                "items": [item],
            }
        },
        token,
    )
    payload = result["data"]["createPurchase"]
    assert payload["userErrors"] == [], payload
    stored = payload["purchase"]["items"][0]
    assert (stored["quantity"], stored["unitPrice"]) == ("0", "0.00")


@pytest.mark.parametrize("bound", ["1E+999999999", "-Infinity", "NaN", "9" * 400, "1E+12"])
@pytest.mark.parametrize("name", ["minAmount", "maxAmount"])
async def test_amount_filters_no_amount_can_reach_are_bad_input(
    api: Api, bound: str, name: str
) -> None:
    token = await signed_in(api)
    result = await api.op("Purchases", {"filter": {name: bound}}, token)
    assert errors_of(result) == ["BAD_USER_INPUT"]


async def test_amount_filters_finer_than_cents_keep_the_same_purchases(api: Api) -> None:
    token = await signed_in(api)
    await seed(api, token)
    fine = {"minAmount": "15.000000001", "maxAmount": "30.00000000000000000000000000000000001"}
    assert await listed(api, token, filter=fine) == ["Book Nook 19.00", "City Transit 30.00"]
    tiny = {"minAmount": "1E-999999999", "maxAmount": "4.5"}
    assert await listed(api, token, filter=tiny) == ["Corner Bakery 4.50"]


def cursor_of(*values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "after",
    [
        cursor_of("x", str(uuid.UUID(int=0))),
        cursor_of("NaN", str(uuid.UUID(int=0))),
        cursor_of("1E+999999999", str(uuid.UUID(int=0))),
        cursor_of("1E-999999999", str(uuid.UUID(int=0))),
        cursor_of(12, str(uuid.UUID(int=0))),
        cursor_of("12", 0),
    ],
)
async def test_a_cursor_no_list_issued_is_bad_user_input(api: Api, after: str) -> None:
    token = await signed_in(api)
    await seed(api, token)
    by_amount = {"field": "AMOUNT", "direction": "ASC"}
    result = await api.op("Purchases", {"after": after, "orderBy": by_amount}, token)
    assert errors_of(result) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("timezone", ["Pacific/Kiritimati", "Pacific/Pago_Pago"])
async def test_a_summary_from_the_first_to_the_last_day_of_the_calendar_holds_everything(
    api: Api, timezone: str
) -> None:
    """Midnight of 0001-01-01 east of UTC, and of the day after 9999-12-31 anywhere, are
    no datetimes: the range runs to the calendar's ends."""
    token = await signed_in(api, timezone=timezone)
    await seed(api, token)
    result = await api.op("SpendingSummary", {"from": "0001-01-01", "to": "9999-12-31"}, token)
    assert "errors" not in result, result
    summary = result["data"]["spendingSummary"]
    assert (summary["total"], summary["count"]) == ("155.79", 5)
