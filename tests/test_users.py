"""Profiles and accounts through the GraphQL endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import MEMBER_PASSWORD, Api, errors_of
from sqlalchemy import text
from starlette.applications import Starlette
from unstorable import UNSTORABLE, send


async def test_duplicate_email_is_a_conflict_whatever_its_case(api: Api) -> None:
    await api.register("eve@example.com")
    again = await api.op(
        "Register",
        {"input": {"email": " EVE@example.com", "password": MEMBER_PASSWORD, "displayName": "E"}},
    )
    assert again["data"]["register"] == {
        "session": None,
        "userErrors": [
            {
                "field": ["input", "email"],
                "message": "An account with this email exists already.",
                "code": "CONFLICT",
            }
        ],
    }


async def test_registration_input_is_checked_field_by_field(api: Api) -> None:
    result = await api.op(
        "Register", {"input": {"email": "not-an-email", "password": "short", "displayName": " "}}
    )
    errors = result["data"]["register"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [
        (["input", "email"], "INVALID"),
        (["input", "password"], "INVALID"),
        (["input", "displayName"], "INVALID"),
    ]


@pytest.mark.parametrize("bad", UNSTORABLE)
async def test_text_postgresql_cannot_hold_is_refused(api: Api, app: Starlette, bad: str) -> None:
    for field, email, name in (
        ("email", f"{bad}@example.com", "Ivy"),
        ("displayName", "ivy@example.com", f"I{bad}"),
    ):
        details = {"email": email, "password": MEMBER_PASSWORD, "displayName": name}
        payload = (await send(api, "Register", {"input": details}))["data"]["register"]
        assert payload["session"] is None
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
            (["input", field], "INVALID")
        ]
    async with app.state.services.engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM users")) == 0

    login = await send(api, "Login", {"input": {"email": f"{bad}@example.com", "password": "x"}})
    assert login["data"]["login"]["userErrors"][0]["code"] == "UNAUTHENTICATED"

    token = (await api.register("ivy@example.com", name="Ivy"))["accessToken"]
    renamed = await send(api, "UpdateProfile", {"input": {"displayName": f"I{bad}"}}, token)
    assert [(e["field"], e["code"]) for e in renamed["data"]["updateProfile"]["userErrors"]] == [
        (["input", "displayName"], "INVALID")
    ]
    assert (await api.op("Me", token=token))["data"]["me"]["displayName"] == "Ivy"


@pytest.mark.parametrize("bad", UNSTORABLE)
async def test_admin_arguments_postgresql_cannot_hold_are_refused(api: Api, bad: str) -> None:
    admin = await api.admin()
    token = admin["accessToken"]
    assert errors_of(await send(api, "AdminUsers", {"search": bad}, token)) == ["BAD_USER_INPUT"]
    variables = {"userId": admin["user"]["id"], "role": bad}
    for name in ("AssignRole", "RevokeRole"):
        result = await send(api, name, variables, token)
        payload = next(iter(result["data"].values()))
        assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(["role"], "INVALID")]


async def test_display_names_are_composed(api: Api) -> None:
    token = (await api.register("jo@example.com"))["accessToken"]
    result = await api.op("UpdateProfile", {"input": {"displayName": " Jose\u0301 "}}, token)
    assert result["data"]["updateProfile"]["user"]["displayName"] == "Jos\u00e9"


async def test_update_profile_validates_and_stores_settings(api: Api) -> None:
    token = (await api.register("fay@example.com"))["accessToken"]
    updated = await api.op(
        "UpdateProfile",
        {
            "input": {
                "displayName": "  Fay  ",
                "settings": {
                    "weekStart": 0,
                    "locale": "pt_BR",
                    "timezone": "America/Sao_Paulo",
                    "currency": "brl",
                    "notificationsEmailEnabled": False,
                },
            }
        },
        token,
    )
    payload = updated["data"]["updateProfile"]
    assert payload["userErrors"] == []
    assert payload["user"]["displayName"] == "Fay"
    assert payload["user"]["settings"] == {
        "weekStart": 0,
        "locale": "pt-BR",
        "timezone": "America/Sao_Paulo",
        "currency": "BRL",
        "notificationsEmailEnabled": False,
    }
    me = await api.op("Me", token=token)
    assert me["data"]["me"]["settings"]["timezone"] == "America/Sao_Paulo"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"weekStart": 7}, "weekStart"),
        ({"weekStart": -1}, "weekStart"),
        ({"locale": "xx-YY"}, "locale"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": None}, "timezone"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "ZZZ"}, "currency"),
        ({"notificationsEmailEnabled": None}, "notificationsEmailEnabled"),
    ],
)
async def test_invalid_settings_are_refused_with_their_path(
    api: Api, values: dict[str, Any], field: str
) -> None:
    token = (await api.register("gus@example.com"))["accessToken"]
    result = await api.op(
        "UpdateProfile", {"input": {"displayName": "Changed", "settings": values}}, token
    )
    payload = result["data"]["updateProfile"]
    assert payload["user"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", "settings", field], "INVALID")
    ]
    me = (await api.op("Me", token=token))["data"]["me"]
    assert me["displayName"] == "Member"
    assert me["settings"]["weekStart"] == 1


DIGEST_HOUR = """
mutation($input: UpdateProfileInput!) {
  updateProfile(input: $input) {
    user { settings { dailyDigestHour } }
    userErrors { field message code }
  }
}
"""


async def digest_hour(api: Api, token: str) -> int | None:
    me = await api.query("{ me { settings { dailyDigestHour } } }", token=token)
    hour: int | None = me["data"]["me"]["settings"]["dailyDigestHour"]
    return hour


async def test_the_daily_digest_hour_is_none_by_default_and_set_or_cleared(api: Api) -> None:
    token = (await api.register("hana@example.com"))["accessToken"]
    assert await digest_hour(api, token) is None
    for hour in (7, 0, 23, None):
        result = await api.query(
            DIGEST_HOUR, {"input": {"settings": {"dailyDigestHour": hour}}}, token
        )
        payload = result["data"]["updateProfile"]
        assert payload == {"user": {"settings": {"dailyDigestHour": hour}}, "userErrors": []}
        assert await digest_hour(api, token) == hour


@pytest.mark.parametrize("hour", [-1, 24])
async def test_a_daily_digest_hour_outside_the_day_is_refused_with_the_other_problems(
    api: Api, hour: int
) -> None:
    token = (await api.register("ivo@example.com"))["accessToken"]
    await api.query(DIGEST_HOUR, {"input": {"settings": {"dailyDigestHour": 7}}}, token)
    settings = {"dailyDigestHour": hour, "weekStart": 9}
    result = await api.query(DIGEST_HOUR, {"input": {"settings": settings}}, token)
    payload = result["data"]["updateProfile"]
    assert payload["user"] is None
    assert sorted((e["field"][-1], e["code"]) for e in payload["userErrors"]) == [
        ("dailyDigestHour", "INVALID"),
        ("weekStart", "INVALID"),
    ]
    assert await digest_hour(api, token) == 7


async def test_change_password_ends_the_other_sessions(api: Api) -> None:
    first = await api.register("hal@example.com")
    login = await api.op(
        "Login", {"input": {"email": "hal@example.com", "password": MEMBER_PASSWORD}}
    )
    second = login["data"]["login"]["session"]

    wrong = await api.op(
        "ChangePassword",
        {"input": {"currentPassword": "wrong-password", "newPassword": "a-new-password-1"}},
        second["accessToken"],
    )
    assert wrong["data"]["changePassword"]["userErrors"][0]["field"] == ["input", "currentPassword"]
    assert (await api.op("Me", token=first["accessToken"]))["data"]["me"]

    changed = await api.op(
        "ChangePassword",
        {"input": {"currentPassword": MEMBER_PASSWORD, "newPassword": "a-new-password-1"}},
        second["accessToken"],
    )
    assert changed["data"]["changePassword"] == {"ok": True, "userErrors": []}
    assert errors_of(await api.op("Me", token=first["accessToken"])) == ["UNAUTHENTICATED"]
    assert (await api.op("Me", token=second["accessToken"]))["data"]["me"]
    old = await api.op(
        "Login", {"input": {"email": "hal@example.com", "password": MEMBER_PASSWORD}}
    )
    assert old["data"]["login"]["session"] is None
    new = await api.op(
        "Login", {"input": {"email": "hal@example.com", "password": "a-new-password-1"}}
    )
    assert new["data"]["login"]["session"]


async def test_delete_my_account_needs_the_password_and_removes_everything(
    api: Api, app: Starlette
) -> None:
    session = await api.register("ivy@example.com")
    token = session["accessToken"]
    refused = await api.op("DeleteMyAccount", {"password": "wrong-password"}, token)
    assert refused["data"]["deleteMyAccount"]["ok"] is False
    assert refused["data"]["deleteMyAccount"]["userErrors"][0]["code"] == "INVALID"

    deleted = await api.op("DeleteMyAccount", {"password": MEMBER_PASSWORD}, token)
    assert deleted["data"]["deleteMyAccount"] == {"ok": True, "userErrors": []}
    assert errors_of(await api.op("Me", token=token)) == ["UNAUTHENTICATED"]
    async with app.state.services.engine.connect() as connection:
        for table in ("users", "user_settings", "user_roles", "auth_sessions", "refresh_tokens"):
            count = await connection.scalar(text(f"SELECT count(*) FROM {table}"))
            assert count == 0, table
    again = await api.register("ivy@example.com")
    assert again["user"]["email"] == "ivy@example.com"


async def test_a_member_reads_only_itself(api: Api) -> None:
    jay = await api.register("jay@example.com")
    kim = await api.register("kim@example.com")
    own = await api.op("AdminUser", {"id": jay["user"]["id"]}, jay["accessToken"])
    assert own["data"]["user"]["email"] == "jay@example.com"
    other = await api.op("AdminUser", {"id": kim["user"]["id"]}, jay["accessToken"])
    assert other["data"]["user"] is None
    node = await api.op("Node", {"id": kim["user"]["id"]}, jay["accessToken"])
    assert node["data"]["node"] is None
    mine = await api.op("Node", {"id": jay["user"]["id"]}, jay["accessToken"])
    assert mine["data"]["node"] == {"id": jay["user"]["id"], "__typename": "User"}
