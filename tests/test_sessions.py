"""Sign-up, sign-in, refresh-token rotation and sign-out, through the GraphQL endpoint."""

from __future__ import annotations

from conftest import MEMBER_PASSWORD, Api, errors_of
from sqlalchemy import text
from starlette.applications import Starlette


async def test_register_login_me_refresh_and_reuse_revokes_family(api: Api) -> None:
    registered = await api.register("  Ada@Example.COM ", name="Ada")
    assert registered["user"]["email"] == "ada@example.com"
    assert [r["name"] for r in registered["user"]["roles"]] == ["member"]
    assert registered["accessToken"] != registered["refreshToken"]

    login = await api.op(
        "Login", {"input": {"email": "ADA@example.com", "password": MEMBER_PASSWORD}}
    )
    session = login["data"]["login"]["session"]
    me = await api.op("Me", token=session["accessToken"])
    assert me["data"]["me"]["email"] == "ada@example.com"
    assert me["data"]["me"]["settings"]["timezone"] == "UTC"
    member = me["data"]["me"]["roles"][0]
    assert member["name"] == "member"
    assert {"profile:read", "profile:write"} <= set(member["permissions"])
    assert "users:read" not in member["permissions"]

    first = session["refreshToken"]
    refreshed = await api.op("RefreshSession", {"refreshToken": first})
    rotated = refreshed["data"]["refreshSession"]["session"]
    assert rotated["refreshToken"] != first
    assert (await api.op("Me", token=rotated["accessToken"]))["data"]["me"]

    reused = await api.op("RefreshSession", {"refreshToken": first})
    assert reused["data"]["refreshSession"]["session"] is None
    assert reused["data"]["refreshSession"]["userErrors"][0]["code"] == "UNAUTHENTICATED"

    # The whole family is gone: the rotated refresh token and its access token too.
    after = await api.op("RefreshSession", {"refreshToken": rotated["refreshToken"]})
    assert after["data"]["refreshSession"]["userErrors"][0]["code"] == "UNAUTHENTICATED"
    assert errors_of(await api.op("Me", token=rotated["accessToken"])) == ["UNAUTHENTICATED"]

    # The registration session is another family and still works.
    assert (await api.op("Me", token=registered["accessToken"]))["data"]["me"]


async def test_wrong_password_and_unknown_email_fail_alike(api: Api) -> None:
    await api.register("bob@example.com")
    wrong = await api.op("Login", {"input": {"email": "bob@example.com", "password": "nope" * 3}})
    unknown = await api.op(
        "Login", {"input": {"email": "nobody@example.com", "password": MEMBER_PASSWORD}}
    )
    assert wrong["data"]["login"] == unknown["data"]["login"]
    assert wrong["data"]["login"]["userErrors"] == [
        {"field": None, "message": "The email or password is wrong.", "code": "UNAUTHENTICATED"}
    ]


async def test_refresh_and_access_tokens_are_not_interchangeable(api: Api) -> None:
    session = await api.register("carol@example.com")
    assert errors_of(await api.op("Me", token=session["refreshToken"])) == ["UNAUTHENTICATED"]
    as_refresh = await api.op("RefreshSession", {"refreshToken": session["accessToken"]})
    assert as_refresh["data"]["refreshSession"]["userErrors"][0]["code"] == "UNAUTHENTICATED"


async def test_logout_ends_one_session_and_logout_everywhere_ends_all(api: Api) -> None:
    first = await api.register("dan@example.com")
    login = await api.op(
        "Login", {"input": {"email": "dan@example.com", "password": MEMBER_PASSWORD}}
    )
    second = login["data"]["login"]["session"]

    out = await api.op("Logout", {"refreshToken": first["refreshToken"]})
    assert out["data"]["logout"]["ok"] is True
    assert errors_of(await api.op("Me", token=first["accessToken"])) == ["UNAUTHENTICATED"]
    assert (await api.op("Me", token=second["accessToken"]))["data"]["me"]

    everywhere = await api.op("LogoutEverywhere", token=second["accessToken"])
    assert everywhere["data"]["logoutEverywhere"]["ok"] is True
    assert errors_of(await api.op("Me", token=second["accessToken"])) == ["UNAUTHENTICATED"]
    refreshed = await api.op("RefreshSession", {"refreshToken": second["refreshToken"]})
    assert refreshed["data"]["refreshSession"]["userErrors"][0]["code"] == "UNAUTHENTICATED"


async def test_only_sign_in_operations_work_without_a_token(api: Api) -> None:
    for name in ("Me", "LogoutEverywhere", "Roles"):
        assert errors_of(await api.op(name)) == ["UNAUTHENTICATED"], name


async def test_repeated_failures_throttle_sign_in_for_that_email(api: Api) -> None:
    await api.register("guessed@example.com")
    await api.register("neighbour@example.com")
    wrong = {"email": "guessed@example.com", "password": "not-the-password"}
    for _ in range(10):
        result = await api.op("Login", {"input": wrong})
        assert result["data"]["login"]["userErrors"][0]["code"] == "UNAUTHENTICATED"
    right = {"email": "GUESSED@example.com", "password": MEMBER_PASSWORD}
    throttled = await api.op("Login", {"input": right})
    assert throttled["data"]["login"]["session"] is None
    assert throttled["data"]["login"]["userErrors"][0]["code"] == "RATE_LIMITED"
    other = {"email": "neighbour@example.com", "password": MEMBER_PASSWORD}
    assert (await api.op("Login", {"input": other}))["data"]["login"]["session"]


async def test_an_email_too_long_for_any_account_is_invalid_and_noted_nowhere(
    api: Api, app: Starlette
) -> None:
    email = "a" * 400 + "@example.com"
    result = await api.op("Login", {"input": {"email": email, "password": MEMBER_PASSWORD}})
    payload = result["data"]["login"]
    assert payload["session"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", "email"], "INVALID")
    ]
    async with app.state.services.engine.connect() as connection:
        assert await connection.scalar(text("SELECT count(*) FROM sign_in_failures")) == 0


async def test_a_successful_sign_in_clears_earlier_failures(api: Api) -> None:
    await api.register("forgetful@example.com")
    wrong = {"email": "forgetful@example.com", "password": "not-the-password"}
    right = {"email": "forgetful@example.com", "password": MEMBER_PASSWORD}
    for _ in range(9):
        await api.op("Login", {"input": wrong})
    assert (await api.op("Login", {"input": right}))["data"]["login"]["session"]
    for _ in range(9):
        await api.op("Login", {"input": wrong})
    assert (await api.op("Login", {"input": right}))["data"]["login"]["session"]
