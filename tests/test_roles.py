"""Roles and the admin screens of the client contract."""

from __future__ import annotations

from conftest import ADMIN_PASSWORD, Api, StatementCounter, errors_of
from sqlalchemy import text
from starlette.applications import Starlette


def role_names(user: dict[str, object]) -> list[str]:
    return [role["name"] for role in user["roles"]]  # type: ignore[attr-defined]


async def test_roles_are_seeded_with_their_permissions(api: Api) -> None:
    admin = await api.admin()
    roles = (await api.op("Roles", token=admin["accessToken"]))["data"]["roles"]
    by_name = {role["name"]: role for role in roles}
    assert set(by_name) == {"admin", "member"}
    assert {"users:read", "users:write", "roles:write"} <= set(by_name["admin"]["permissions"])
    assert "users:read" not in by_name["member"]["permissions"]
    assert all(role["id"].startswith("role_") for role in roles)


async def test_members_are_forbidden_from_admin_operations_and_nothing_changes(
    api: Api, app: Starlette
) -> None:
    admin = await api.admin()
    member = await api.register("mia@example.com")
    token = member["accessToken"]
    admin_id = admin["user"]["id"]
    calls = [
        ("AdminUsers", {}),
        ("Roles", {}),
        ("AssignRole", {"userId": member["user"]["id"], "role": "admin"}),
        ("RevokeRole", {"userId": admin_id, "role": "admin"}),
        ("DeleteUser", {"id": admin_id}),
    ]
    for name, variables in calls:
        result = await api.op(name, variables, token)
        assert errors_of(result) == ["FORBIDDEN"], name
        assert result["data"] is None
    me = (await api.op("Me", token=token))["data"]["me"]
    assert role_names(me) == ["member"]
    async with app.state.services.engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM users")) == 2
        admins = await connection.scalar(
            text(
                "SELECT count(*) FROM user_roles JOIN roles ON roles.id = role_id "
                "WHERE roles.name = 'admin'"
            )
        )
        assert admins == 1


async def test_assign_and_revoke_roles(api: Api) -> None:
    admin = await api.admin()
    member = await api.register("nia@example.com")
    token = admin["accessToken"]
    assigned = await api.op("AssignRole", {"userId": member["user"]["id"], "role": "admin"}, token)
    assert role_names(assigned["data"]["assignRole"]["user"]) == ["admin", "member"]
    again = await api.op("AssignRole", {"userId": member["user"]["id"], "role": "admin"}, token)
    assert again["data"]["assignRole"]["userErrors"] == []

    promoted = await api.op("AdminUsers", {}, member["accessToken"])
    assert promoted["data"]["users"]["totalCount"] == 2

    revoked = await api.op("RevokeRole", {"userId": member["user"]["id"], "role": "admin"}, token)
    assert role_names(revoked["data"]["revokeRole"]["user"]) == ["member"]
    assert errors_of(await api.op("AdminUsers", {}, member["accessToken"])) == ["FORBIDDEN"]

    unknown = await api.op("AssignRole", {"userId": member["user"]["id"], "role": "owner"}, token)
    assert unknown["data"]["assignRole"]["userErrors"][0] == {
        "field": ["role"],
        "message": "No role is named 'owner'.",
        "code": "NOT_FOUND",
    }
    nobody = await api.op(
        "AssignRole",
        {"userId": "user_00000000-0000-0000-0000-000000000000", "role": "admin"},
        token,
    )
    assert nobody["data"]["assignRole"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_the_last_admin_keeps_the_role_and_the_account(api: Api) -> None:
    admin = await api.admin()
    token = admin["accessToken"]
    admin_id = admin["user"]["id"]

    revoke = await api.op("RevokeRole", {"userId": admin_id, "role": "admin"}, token)
    assert revoke["data"]["revokeRole"]["userErrors"][0]["code"] == "CONFLICT"
    delete = await api.op("DeleteUser", {"id": admin_id}, token)
    assert delete["data"]["deleteUser"]["userErrors"][0]["code"] == "CONFLICT"
    delete_own = await api.op("DeleteMyAccount", {"password": ADMIN_PASSWORD}, token)
    assert delete_own["data"]["deleteMyAccount"]["userErrors"][0]["code"] == "CONFLICT"
    assert role_names((await api.op("Me", token=token))["data"]["me"]) == ["admin", "member"]

    second = await api.admin("second-admin@example.com")
    handed_over = await api.op("RevokeRole", {"userId": admin_id, "role": "admin"}, token)
    assert handed_over["data"]["revokeRole"]["userErrors"] == []
    last = await api.op("DeleteUser", {"id": second["user"]["id"]}, second["accessToken"])
    assert last["data"]["deleteUser"]["userErrors"][0]["code"] == "CONFLICT"


async def test_deleting_a_user_removes_its_sessions(api: Api, app: Starlette) -> None:
    admin = await api.admin()
    member = await api.register("olga@example.com")
    deleted = await api.op("DeleteUser", {"id": member["user"]["id"]}, admin["accessToken"])
    assert deleted["data"]["deleteUser"] == {"deletedId": member["user"]["id"], "userErrors": []}
    assert errors_of(await api.op("Me", token=member["accessToken"])) == ["UNAUTHENTICATED"]
    refreshed = await api.op("RefreshSession", {"refreshToken": member["refreshToken"]})
    assert refreshed["data"]["refreshSession"]["userErrors"][0]["code"] == "UNAUTHENTICATED"
    async with app.state.services.engine.connect() as connection:
        sessions = await connection.scalar(
            text("SELECT count(*) FROM auth_sessions WHERE user_id = CAST(:id AS uuid)"),
            {"id": member["user"]["id"].removeprefix("user_")},
        )
        assert sessions == 0
    missing = await api.op("DeleteUser", {"id": member["user"]["id"]}, admin["accessToken"])
    assert missing["data"]["deleteUser"]["userErrors"][0]["code"] == "NOT_FOUND"


async def test_users_connection_pages_searches_and_batches_roles(
    api: Api, statements: StatementCounter
) -> None:
    admin = await api.admin()
    token = admin["accessToken"]
    for number in range(25):
        await api.register(f"user{number:02d}@example.com", name=f"Person {number:02d}")

    seen: list[str] = []
    after = None
    pages = 0
    while True:
        statements.count = 0
        result = await api.op("AdminUsers", {"first": 10, "after": after}, token)
        connection = result["data"]["users"]
        # Principal, page (with its count), one batched roles query, whatever the page size.
        assert statements.count == 3, statements.count
        assert connection["totalCount"] == 26
        seen += [edge["node"]["email"] for edge in connection["edges"]]
        assert all(edge["node"]["roles"] for edge in connection["edges"])
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert pages == 3
    assert len(seen) == len(set(seen)) == 26

    found = await api.op("AdminUsers", {"search": "person 1"}, token)
    assert found["data"]["users"]["totalCount"] == 10
    literal = await api.op("AdminUsers", {"search": "%"}, token)
    assert literal["data"]["users"]["totalCount"] == 0


async def test_cursors_stay_valid_while_rows_come_and_go(api: Api) -> None:
    admin = await api.admin()
    token = admin["accessToken"]
    members = [await api.register(f"c{n}@example.com") for n in range(4)]
    first = (await api.op("AdminUsers", {"first": 2}, token))["data"]["users"]
    cursor = first["pageInfo"]["endCursor"]
    # Delete the row the cursor points at, and add a new one.
    await api.op("DeleteUser", {"id": members[0]["user"]["id"]}, token)
    await api.register("late@example.com")
    rest = (await api.op("AdminUsers", {"first": 10, "after": cursor}, token))["data"]["users"]
    emails = [edge["node"]["email"] for edge in rest["edges"]]
    assert emails == ["c1@example.com", "c2@example.com", "c3@example.com", "late@example.com"]


async def test_bad_page_arguments_are_bad_user_input(api: Api) -> None:
    token = (await api.admin())["accessToken"]
    for variables in ({"first": 101}, {"first": -1}, {"after": "not-a-cursor"}):
        result = await api.op("AdminUsers", variables, token)
        assert errors_of(result) == ["BAD_USER_INPUT"], variables
