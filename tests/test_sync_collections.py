"""Offline sync of projects, habit check-ins and purchases, note images in pulls, pushes
in any order, and two offline devices that plan, check in and buy, then converge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import Api, StatementCounter
from test_notes import add_image
from test_sync import (
    Change,
    Device,
    by_id,
    change,
    insert,
    mint,
    mutate,
    pull,
    pull_all,
    push,
    push_raw,
    sign_up,
)

from db.sync import Collection
from resolvers.context import Services

TODAY = datetime.now(UTC).date()
YESTERDAY = TODAY - timedelta(days=1)


def problems(payload: dict[str, Any]) -> list[tuple[list[str], str]]:
    return sorted((error["field"], error["code"]) for error in payload["userErrors"])


async def fields_pulled(api: Api, token: str, record_id: str) -> Change:
    return by_id((await pull_all(api, token))[0])[record_id]


async def habit_days(api: Api, token: str, habit_id: str) -> list[dict[str, Any]]:
    variables = {"id": habit_id, "from": str(TODAY - timedelta(days=30)), "to": str(TODAY)}
    result = await api.op("HabitDetails", variables, token)
    assert "errors" not in result, result
    days: list[dict[str, Any]] = result["data"]["habit"]["checkIns"]
    return days


# --- projects ------------------------------------------------------------------------------


async def test_projects_travel_through_sync_with_their_positions(api: Api) -> None:
    token, _ = await sign_up(api, "projects@example.com")
    home, work = mint("project"), mint("project")
    pushed = await push(
        api,
        token,
        [change(home, {"name": "Home", "color": "#aa0000"}), change(work, {"name": "Work"})],
    )
    assert {item["id"]: item["version"] for item in pushed["applied"]} == {home: 1, work: 1}
    garden = (await mutate(api, token, "CreateProject", {"input": {"name": "Garden"}}))["project"]
    changes, cursor = await pull_all(api, token)
    pulled = by_id(changes)
    assert pulled[home]["fields"] == {
        "name": "Home",
        "color": "#AA0000",
        "archived": False,
        "position": 0,
    }
    assert (pulled[work]["fields"]["position"], pulled[garden["id"]]["fields"]["position"]) == (
        1,
        2,
    )

    # Moving Garden first shifts the others: each is pulled again at its new version.
    moved = await push(
        api, token, [change(garden["id"], {"position": 0}, version=1)], mutation_id=2
    )
    assert moved["applied"][0]["version"] == 2
    later = by_id((await pull_all(api, token, cursor))[0])
    assert {key: (c["version"], c["fields"]["position"]) for key, c in later.items()} == {
        garden["id"]: (2, 0),
        home: (2, 1),
        work: (2, 2),
    }
    projects = (await api.op("Projects", {}, token))["data"]["projects"]
    assert [p["name"] for p in projects] == ["Garden", "Home", "Work"]

    stale = await push(api, token, [change(home, {"name": "Old"}, version=1)], mutation_id=3)
    assert stale["conflicts"][0]["reason"] == "STALE"
    assert stale["conflicts"][0]["serverFields"]["position"] == 1


async def test_deleting_a_project_by_push_leaves_tombstones_for_it_and_its_tasks(
    api: Api,
) -> None:
    token, _ = await sign_up(api, "tombstones@example.com")
    project, task, subtask = mint("project"), mint("task"), mint("task")
    await push(
        api,
        token,
        [
            change(project, {"name": "Move house"}),
            change(task, {"title": "Pack", "projectId": project}),
            change(subtask, {"title": "Books", "parentId": task}),
        ],
    )
    _, cursor = await pull_all(api, token)
    await push(api, token, [change(project, version=1, deleted=True)], mutation_id=2)
    gone = by_id((await pull_all(api, token, cursor))[0])
    assert {key: item["deleted"] for key, item in gone.items()} == {
        project: True,
        task: True,
        subtask: True,
    }
    assert (await api.op("Projects", {}, token))["data"]["projects"] == []


async def test_a_project_push_is_checked_like_the_mutation(api: Api) -> None:
    token, _ = await sign_up(api, "bad-projects@example.com")
    payload = await push_raw(
        api,
        token,
        [
            change(mint("project"), {"name": "", "color": "red", "position": -1}),
            change(mint("project"), {"name": "Fine", "owner": "me"}),
        ],
    )
    assert problems(payload) == [
        (["input", "changes", "0", "fields", "color"], "INVALID"),
        (["input", "changes", "0", "fields", "name"], "INVALID"),
        (["input", "changes", "0", "fields", "position"], "INVALID"),
        (["input", "changes", "1", "fields", "owner"], "INVALID"),
    ]
    assert (await api.op("Projects", {}, token))["data"]["projects"] == []


# --- pushes in any order -------------------------------------------------------------------


async def test_a_subtask_pushed_before_its_parent_and_project_is_accepted(api: Api) -> None:
    token, _ = await sign_up(api, "order@example.com")
    project, parent, child, grandchild = mint("project"), mint("task"), mint("task"), mint("task")
    habit, day = mint("habit"), mint("checkin")
    pushed = await push(
        api,
        token,
        [
            change(grandchild, {"title": "Buy tape", "parentId": child}),
            change(child, {"title": "Pack books", "parentId": parent}),
            change(day, {"habitId": habit, "date": str(TODAY)}),
            change(parent, {"title": "Pack", "projectId": project}),
            change(habit, {"name": "Walk"}),
            change(project, {"name": "Move house"}),
        ],
    )
    # Applied in dependency order, answered in the client's.
    assert [item["id"] for item in pushed["applied"]] == [
        grandchild,
        child,
        day,
        parent,
        habit,
        project,
    ]
    pulled = by_id((await pull_all(api, token))[0])
    assert pulled[grandchild]["fields"]["parentId"] == child
    assert pulled[grandchild]["fields"]["projectId"] == project  # a subtask takes its parent's
    assert pulled[child]["fields"]["parentId"] == parent
    assert pulled[day]["fields"] == {"habitId": habit, "date": str(TODAY), "skipped": False}


async def test_a_cycle_in_one_push_is_refused_whole(api: Api) -> None:
    token, _ = await sign_up(api, "cycle@example.com")
    first, second = mint("task"), mint("task")
    payload = await push_raw(
        api,
        token,
        [
            change(first, {"title": "A", "parentId": second}),
            change(second, {"title": "B", "parentId": first}),
        ],
    )
    assert problems(payload) == [
        (["input", "changes", "0", "fields", "parentId"], "NOT_FOUND"),
        (["input", "changes", "1", "fields", "parentId"], "NOT_FOUND"),
    ]
    assert (await pull(api, token))["changes"] == []


# --- check-ins -----------------------------------------------------------------------------


async def test_check_ins_made_offline_are_the_habits_days(api: Api) -> None:
    token, _ = await sign_up(api, "check-ins@example.com")
    water = mint("habit")
    walk = mint("habit")
    today, yesterday, skipped = mint("checkin"), mint("checkin"), mint("checkin")
    await push(
        api,
        token,
        [
            change(water, {"name": "Water", "target": "8", "unit": "glasses"}),
            change(walk, {"name": "Walk"}),
            change(today, {"habitId": water, "date": str(TODAY), "value": "3"}),
            change(yesterday, {"habitId": walk, "date": str(YESTERDAY)}),
            change(skipped, {"habitId": water, "date": str(YESTERDAY), "skipped": True}),
        ],
    )
    assert await habit_days(api, token, water) == [
        {"date": str(YESTERDAY), "value": None, "skipped": True},
        {"date": str(TODAY), "value": "3.00", "skipped": False},
    ]
    assert await habit_days(api, token, walk) == [
        {"date": str(YESTERDAY), "value": None, "skipped": False}
    ]
    changes, cursor = await pull_all(api, token)
    pulled = by_id(changes)
    assert (pulled[today]["version"], pulled[today]["fields"]) == (
        1,
        {"habitId": water, "date": str(TODAY), "value": "3.00", "skipped": False},
    )
    assert pulled[skipped]["fields"] == {"habitId": water, "date": str(YESTERDAY), "skipped": True}

    # The mutations change the same records: a value adds to the day, undo deletes it.
    await mutate(api, token, "LogHabit", {"id": water, "value": "2"})
    await mutate(api, token, "UndoCheckIn", {"id": walk, "date": str(YESTERDAY)})
    later = by_id((await pull_all(api, token, cursor))[0])
    assert (later[today]["version"], later[today]["fields"]["value"]) == (2, "5.00")
    assert (later[yesterday]["deleted"], later[yesterday]["version"]) == (True, 2)

    # A pushed record holds the day as the device saw it: its value replaces the sum.
    await push(
        api,
        token,
        [
            change(today, {"habitId": water, "date": str(TODAY), "value": "4"}, version=2),
            change(skipped, version=1, deleted=True),
        ],
        mutation_id=2,
    )
    assert await habit_days(api, token, water) == [
        {"date": str(TODAY), "value": "4.00", "skipped": False}
    ]


async def test_a_check_in_push_is_checked_like_the_mutations(api: Api) -> None:
    token, _ = await sign_up(api, "bad-check-ins@example.com")
    other, _ = await sign_up(api, "someone@example.com")
    plain, gym = mint("habit"), mint("habit")
    theirs = mint("habit")
    await push(api, other, [change(theirs, {"name": "Theirs"})])
    monday = TODAY - timedelta(days=TODAY.weekday())
    await push(
        api,
        token,
        [change(plain, {"name": "Read"}), change(gym, {"name": "Gym", "daysOfWeek": [1]})],
    )
    base = "input", "changes"
    payload = await push_raw(
        api,
        token,
        [
            change(mint("checkin"), {"habitId": plain, "date": str(TODAY + timedelta(days=1))}),
            change(mint("checkin"), {"habitId": plain, "date": str(TODAY), "value": "2"}),
            change(mint("checkin"), {"habitId": theirs, "date": str(TODAY)}),
            change(mint("checkin"), {"habitId": plain, "date": "01/12/2026"}),
            change(
                mint("checkin"),
                {"habitId": gym, "date": str(monday + timedelta(days=1)), "skipped": True},
            ),
            change(
                mint("checkin"),
                {"habitId": gym, "date": str(monday), "skipped": True, "value": "1"},
            ),
        ],
        mutation_id=2,
    )
    assert problems(payload) == sorted(
        [
            ([*base, "0", "fields", "date"], "INVALID"),
            ([*base, "1", "fields", "value"], "INVALID"),
            ([*base, "2", "fields", "habitId"], "NOT_FOUND"),
            ([*base, "3", "fields", "date"], "INVALID"),
            ([*base, "4", "fields", "date"], "INVALID"),
            ([*base, "5", "fields", "value"], "INVALID"),
        ]
    )
    day = mint("checkin")
    await push(api, token, [change(day, {"habitId": plain, "date": str(TODAY)})], mutation_id=3)
    moved = await push_raw(
        api,
        token,
        [change(day, {"habitId": plain, "date": str(YESTERDAY)}, version=1)],
        mutation_id=4,
    )
    assert problems(moved) == [([*base, "0", "fields", "date"], "INVALID")]
    assert await habit_days(api, token, plain) == [
        {"date": str(TODAY), "value": None, "skipped": False}
    ]


async def test_two_devices_checking_in_the_same_day_offline_add_up(api: Api) -> None:
    token, _ = await sign_up(api, "same-day@example.com")
    water = mint("habit")
    await push(api, token, [change(water, {"name": "Water", "target": "8", "unit": "glasses"})])
    phone = Device(api, token, "phone")
    laptop = Device(api, token, "laptop")
    await phone.pull_until_quiet()
    await laptop.pull_until_quiet()

    on_phone, on_laptop = mint("checkin"), mint("checkin")
    phone.edit(on_phone, habitId=water, date=str(TODAY), value="3")
    laptop.edit(on_laptop, habitId=water, date=str(TODAY), value="2")
    assert (await phone.push())["conflicts"] == []
    assert (await laptop.push())["conflicts"] == []

    await phone.pull_until_quiet()
    await laptop.pull_until_quiet()
    assert phone.records == laptop.records
    days = {key: fields for key, (_, fields) in phone.records.items() if key.startswith("check")}
    assert days == {
        on_phone: {"habitId": water, "date": str(TODAY), "value": "5.00", "skipped": False}
    }
    assert await habit_days(api, token, water) == [
        {"date": str(TODAY), "value": "5.00", "skipped": False}
    ]


# --- purchases -----------------------------------------------------------------------------


async def test_purchases_bought_offline_carry_their_items(api: Api) -> None:
    token, _ = await sign_up(api, "purchases@example.com")
    lunch, trip = mint("purchase"), mint("purchase")
    await push(
        api,
        token,
        [
            change(
                lunch,
                {
                    "merchant": "Café",
                    "amount": "12.5",
                    "purchasedAt": "2026-11-30T12:00:00+01:00",
                    "category": "Eating out",
                    "items": [
                        {"description": "Soup", "amount": "4.5"},
                        {"description": "Bread", "quantity": "2", "unitPrice": 4, "amount": 8},
                    ],
                },
            ),
            change(
                trip,
                {
                    "merchant": "JR",
                    "amount": 1200,
                    "currency": "jpy",
                    "purchasedAt": "2026-11-29T09:00:00Z",
                },
            ),
        ],
    )
    changes, cursor = await pull_all(api, token)
    pulled = by_id(changes)
    assert pulled[lunch]["fields"] == {
        "merchant": "Café",
        "amount": "12.50",
        "currency": "USD",  # the user's
        "category": "Eating out",
        "purchasedAt": "2026-11-30T11:00:00Z",
        "note": None,
        "receiptId": None,
        "items": [
            {"description": "Soup", "quantity": None, "unitPrice": None, "amount": "4.50"},
            {"description": "Bread", "quantity": "2", "unitPrice": "4.00", "amount": "8.00"},
        ],
    }
    assert (pulled[trip]["fields"]["amount"], pulled[trip]["fields"]["currency"]) == ("1200", "JPY")
    listed = (await api.op("Purchases", {}, token))["data"]["purchases"]
    assert listed["totalCount"] == 2

    # The mutations change the same records, and a pull brings them.
    await mutate(api, token, "UpdatePurchase", {"id": lunch, "input": {"note": "with Ana"}})
    await mutate(api, token, "DeletePurchase", {"id": trip})
    later = by_id((await pull_all(api, token, cursor))[0])
    assert (later[lunch]["version"], later[lunch]["fields"]["note"]) == (2, "with Ana")
    assert (later[trip]["deleted"], later[trip]["version"]) == (True, 2)


async def test_a_pushed_purchase_keeps_items_that_do_not_add_up_unless_it_replaces_them(
    api: Api,
) -> None:
    token, _ = await sign_up(api, "items@example.com")
    created = await mutate(
        api,
        token,
        "CreatePurchase",
        {
            "input": {
                "merchant": "Market",
                "amount": "10.00",
                "purchasedAt": "2026-11-30T12:00:00Z",
                "items": [{"description": "Apples", "amount": "9.00"}],  # a deposit unlisted
            }
        },
    )
    purchase_id = created["purchase"]["id"]
    fields = (await fields_pulled(api, token, purchase_id))["fields"]
    # A device echoes the whole record back with its own edit: accepted as it stands.
    echoed = await push(
        api, token, [change(purchase_id, {**fields, "category": "Groceries"}, version=1)]
    )
    assert echoed["applied"][0]["version"] == 2
    replaced = await push_raw(
        api,
        token,
        [
            change(
                purchase_id,
                {**fields, "items": [{"description": "Pears", "amount": "3"}]},
                version=2,
            )
        ],
        mutation_id=2,
    )
    assert problems(replaced) == [(["input", "changes", "0", "fields", "items"], "INVALID")]
    assert "add up to 3.00, not 10.00" in replaced["userErrors"][0]["message"]


async def test_a_purchase_push_reports_every_problem_at_once(api: Api) -> None:
    token, _ = await sign_up(api, "bad-purchases@example.com")
    base = "input", "changes", "0", "fields"
    payload = await push_raw(
        api,
        token,
        [
            change(
                mint("purchase"),
                {
                    "merchant": "",
                    "amount": "1.5",
                    "currency": "JPY",
                    "purchasedAt": "yesterday",
                    "receiptId": "receipt_nope",
                    "items": [{"description": "x", "amount": "abc", "colour": "red"}],
                },
            )
        ],
    )
    assert problems(payload) == sorted(
        [
            ([*base, "amount"], "INVALID"),
            ([*base, "items", "0", "amount"], "INVALID"),
            ([*base, "items", "0", "colour"], "INVALID"),
            ([*base, "merchant"], "INVALID"),
            ([*base, "purchasedAt"], "INVALID"),
            ([*base, "receiptId"], "NOT_FOUND"),
        ]
    )
    assert (await api.op("Purchases", {}, token))["data"]["purchases"]["totalCount"] == 0


async def test_a_purchase_minted_offline_keeps_its_id_through_the_mutation(api: Api) -> None:
    token, _ = await sign_up(api, "minted@example.com")
    minted = mint("purchase")
    variables = {
        "input": {
            "id": minted,
            "merchant": "Kiosk",
            "amount": "2.00",
            "purchasedAt": "2026-11-30T12:00:00Z",
        }
    }
    assert (await mutate(api, token, "CreatePurchase", variables))["purchase"]["id"] == minted
    again = await api.op("CreatePurchase", variables, token)
    assert [e["code"] for e in again["data"]["createPurchase"]["userErrors"]] == ["CONFLICT"]


# --- notes' images -------------------------------------------------------------------------


async def test_a_pulled_note_lists_its_images(api: Api) -> None:
    token, _ = await sign_up(api, "images@example.com")
    note = (await mutate(api, token, "CreateNote", {"input": {"title": "Trip"}}))["note"]
    _, cursor = await pull_all(api, token)
    added = await add_image(api, token, note["id"])
    assert added["userErrors"] == []
    image = added["note"]["images"][0]
    later = by_id((await pull_all(api, token, cursor))[0])[note["id"]]
    assert later["version"] == 2
    (listed,) = later["fields"]["images"]
    assert listed["id"] == image["id"]
    assert listed["contentType"] == "image/jpeg"
    assert listed["size"] > 0
    # Echoing the images back in a push is harmless: they change only by their mutations.
    edited = await push(
        api, token, [change(note["id"], {**later["fields"], "title": "Trip!"}, version=2)]
    )
    assert edited["applied"][0]["version"] == 3
    final = await fields_pulled(api, token, note["id"])
    assert (final["fields"]["title"], len(final["fields"]["images"])) == ("Trip!", 1)


# --- statements ----------------------------------------------------------------------------


async def test_a_pull_of_every_collection_runs_a_constant_number_of_statements(
    api: Api, services: Services, statements: StatementCounter
) -> None:
    async def pull_statements(count: int) -> int:
        token, user_id = await sign_up(api, f"all-{count}@example.com")
        habits = await insert(
            services, user_id, Collection.HABITS, [{"name": f"Habit {i}"} for i in range(count)]
        )
        await insert(
            services, user_id, Collection.NOTES, [{"title": f"N{i}"} for i in range(count)]
        )
        await insert(
            services, user_id, Collection.TASKS, [{"title": f"T{i}"} for i in range(count)]
        )
        await insert(
            services, user_id, Collection.PROJECTS, [{"name": f"P{i}"} for i in range(count)]
        )
        await insert(
            services,
            user_id,
            Collection.CHECK_INS,
            [{"habitId": habit, "date": str(TODAY)} for habit in habits],
        )
        await insert(
            services,
            user_id,
            Collection.PURCHASES,
            [
                {
                    "merchant": f"M{i}",
                    "amount": "2",
                    "purchasedAt": "2026-11-30T12:00:00Z",
                    "items": [{"description": "a", "amount": "1"}] * 2,
                }
                for i in range(count)
            ],
        )
        statements.count = 0
        page = await pull(api, token)
        assert len(page["changes"]) == 6 * count
        return statements.count

    small, large = await pull_statements(2), await pull_statements(60)
    # The principal, the changes, one per collection, notes' images and purchases' items.
    assert small == large == 10, (small, large)


# --- two devices, offline, then together ---------------------------------------------------


async def test_two_devices_plan_check_in_and_buy_offline_then_converge_losing_no_edit(
    api: Api,
) -> None:
    token, _ = await sign_up(api, "two-devices@example.com")
    water, read, home, tap, market = (
        mint("habit"),
        mint("habit"),
        mint("project"),
        mint("task"),
        mint("purchase"),
    )
    await push(
        api,
        token,
        [
            change(water, {"name": "Water", "target": "8", "unit": "glasses"}),
            change(read, {"name": "Read"}),
            change(home, {"name": "Home"}),
            change(tap, {"title": "Fix tap", "projectId": home}),
            change(
                market,
                {
                    "merchant": "Market",
                    "amount": "20.00",
                    "purchasedAt": "2026-11-30T10:00:00Z",
                    "items": [
                        {"description": "Fruit", "amount": "12.00"},
                        {"description": "Cheese", "amount": "8.00"},
                    ],
                },
            ),
        ],
        client_id="setup",
    )
    phone, laptop = Device(api, token, "phone"), Device(api, token, "laptop")
    await phone.pull_until_quiet()
    await laptop.pull_until_quiet()

    # On a plane: the phone plans a trip (the subtask queued first), checks in and buys.
    trip, train, prices = mint("project"), mint("task"), mint("task")
    phone.edit(prices, title="Compare prices", parentId=train)
    phone.edit(train, title="Book train", projectId=trip)
    phone.edit(trip, name="Trip", color="#3366FF")
    water_on_phone, read_today = mint("checkin"), mint("checkin")
    phone.edit(water_on_phone, habitId=water, date=str(TODAY), value="3")
    phone.edit(read_today, habitId=read, date=str(TODAY))
    bakery = mint("purchase")
    phone.edit(
        bakery,
        merchant="Bakery",
        amount="4.20",
        purchasedAt="2026-12-01T07:30:00Z",
        items=[{"description": "Rye loaf", "amount": "4.20"}],
    )
    phone.edit(tap, priority="HIGH")

    # At home, offline too: the laptop drinks, skips, files, renames and retitles.
    water_on_laptop, read_yesterday = mint("checkin"), mint("checkin")
    laptop.edit(water_on_laptop, habitId=water, date=str(TODAY), value="2")
    laptop.edit(read_yesterday, habitId=read, date=str(YESTERDAY), skipped=True)
    laptop.edit(market, category="Groceries")
    laptop.edit(home, name="House")
    laptop.edit(tap, title="Fix kitchen tap")

    first = await phone.push()
    assert first["conflicts"] == []
    second = await laptop.push()
    assert [(c["id"], c["reason"]) for c in second["conflicts"]] == [(tap, "STALE")]
    laptop.resolve()
    third = await laptop.push()
    assert third["conflicts"] == []
    assert phone.pending == laptop.pending == {}

    await phone.pull_until_quiet()
    await laptop.pull_until_quiet()
    assert phone.records == laptop.records
    records = {key: fields for key, (_, fields) in phone.records.items()}
    assert water_on_laptop not in records  # added to the phone's record of the day
    assert records[water_on_phone]["value"] == "5.00"
    assert records[read_today] == {"habitId": read, "date": str(TODAY), "skipped": False}
    assert records[read_yesterday]["skipped"] is True
    assert (records[tap]["title"], records[tap]["priority"]) == ("Fix kitchen tap", "HIGH")
    assert (records[home]["name"], records[trip]["name"]) == ("House", "Trip")
    assert (records[prices]["parentId"], records[prices]["projectId"]) == (train, trip)
    assert records[market]["category"] == "Groceries"
    assert [item["description"] for item in records[market]["items"]] == ["Fruit", "Cheese"]
    assert records[bakery]["items"] == [
        {"description": "Rye loaf", "quantity": None, "unitPrice": None, "amount": "4.20"}
    ]

    # The server's own answers agree with what both devices hold.
    assert await habit_days(api, token, water) == [
        {"date": str(TODAY), "value": "5.00", "skipped": False}
    ]
    assert await habit_days(api, token, read) == [
        {"date": str(YESTERDAY), "value": None, "skipped": True},
        {"date": str(TODAY), "value": None, "skipped": False},
    ]
    projects = (await api.op("Projects", {}, token))["data"]["projects"]
    assert sorted((p["name"], p["openTasks"]) for p in projects) == [("House", 1), ("Trip", 2)]
    listed = (await api.op("Purchases", {}, token))["data"]["purchases"]
    assert sorted(edge["node"]["merchant"] for edge in listed["edges"]) == ["Bakery", "Market"]
