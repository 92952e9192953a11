"""Sign-up, sign-in, refresh-token rotation and sign-out, and the signed-in devices,
through the GraphQL endpoint."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
from client_contract import Contract
from conftest import MEMBER_PASSWORD, Api, StatementCounter, errors_of
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


# --- signed-in devices -----------------------------------------------------------------


@contextlib.asynccontextmanager
async def device(
    app: Starlette, contract: Contract, address: str, agent: str
) -> AsyncIterator[Api]:
    """A client at this address sending this User-Agent."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://lifegraph.test", headers={"User-Agent": agent}
    ) as client:
        yield Api(client, contract)


async def login(api: Api, email: str) -> dict[str, Any]:
    result = await api.op("Login", {"input": {"email": email, "password": MEMBER_PASSWORD}})
    session: dict[str, Any] = result["data"]["login"]["session"]
    assert session, result
    return session


async def my_sessions(api: Api, token: str) -> list[dict[str, Any]]:
    result = await api.op("MySessions", token=token)
    assert "errors" not in result, result
    listed: list[dict[str, Any]] = result["data"]["mySessions"]
    return listed


async def revoke(api: Api, token: str, session_id: str) -> dict[str, Any]:
    result = await api.op("RevokeSession", {"id": session_id}, token)
    assert "errors" not in result, result
    payload: dict[str, Any] = result["data"]["revokeSession"]
    return payload


async def refreshed(api: Api, refresh_token: str) -> dict[str, Any]:
    result = await api.op("RefreshSession", {"refreshToken": refresh_token})
    payload: dict[str, Any] = result["data"]["refreshSession"]
    return payload


async def test_sessions_list_each_device_newest_first_and_mark_the_current_one(
    app: Starlette, contract: Contract
) -> None:
    async with (
        device(app, contract, "203.0.113.5", "Phone/1.0") as phone,
        device(app, contract, "198.51.100.7", "Laptop/2.0") as laptop,
    ):
        on_phone = await phone.register("ada@example.com")
        on_laptop = await login(laptop, "ada@example.com")

        listed = await my_sessions(laptop, on_laptop["accessToken"])
        assert [(s["userAgent"], s["ipAddress"], s["current"]) for s in listed] == [
            ("Laptop/2.0", "198.51.100.7", True),
            ("Phone/1.0", "203.0.113.5", False),
        ]
        assert all(s["id"].startswith("session_") for s in listed)
        assert listed[0]["createdAt"] > listed[1]["createdAt"]
        seen_from_phone = await my_sessions(phone, on_phone["accessToken"])
        assert [(s["id"], s["current"]) for s in seen_from_phone] == [
            (listed[0]["id"], False),
            (listed[1]["id"], True),
        ]


async def test_last_use_moves_when_a_device_refreshes_and_not_on_its_requests(
    app: Starlette, contract: Contract
) -> None:
    async with device(app, contract, "203.0.113.5", "Phone/1.0") as phone:
        signed_in = await phone.register("bea@example.com")
        (before,) = await my_sessions(phone, signed_in["accessToken"])
        assert before["lastUsedAt"] >= before["createdAt"]
        assert (await phone.op("Me", token=signed_in["accessToken"]))["data"]["me"]
        assert await my_sessions(phone, signed_in["accessToken"]) == [before]

    # The phone moved to another network and updated its app.
    async with device(app, contract, "192.0.2.44", "Phone/1.1") as moved:
        rotated = (await refreshed(moved, signed_in["refreshToken"]))["session"]
        (after,) = await my_sessions(moved, rotated["accessToken"])
    assert after["id"] == before["id"]
    assert after["createdAt"] == before["createdAt"]
    assert after["lastUsedAt"] > before["lastUsedAt"]
    assert (after["userAgent"], after["ipAddress"]) == ("Phone/1.1", "192.0.2.44")


async def test_revoking_another_device_ends_its_refresh_and_access_tokens(
    app: Starlette, contract: Contract
) -> None:
    async with (
        device(app, contract, "203.0.113.5", "Phone/1.0") as phone,
        device(app, contract, "198.51.100.7", "Laptop/2.0") as laptop,
    ):
        on_phone = await phone.register("cy@example.com")
        on_laptop = await login(laptop, "cy@example.com")
        assert (await phone.op("Me", token=on_phone["accessToken"]))["data"]["me"]
        phone_session = next(
            s for s in await my_sessions(laptop, on_laptop["accessToken"]) if not s["current"]
        )

        assert await revoke(laptop, on_laptop["accessToken"], phone_session["id"]) == {
            "ok": True,
            "userErrors": [],
        }
        ended = await refreshed(phone, on_phone["refreshToken"])
        assert ended["session"] is None
        assert ended["userErrors"][0]["code"] == "UNAUTHENTICATED"
        assert errors_of(await phone.op("Me", token=on_phone["accessToken"])) == ["UNAUTHENTICATED"]

        assert (await laptop.op("Me", token=on_laptop["accessToken"]))["data"]["me"]
        assert [s["current"] for s in await my_sessions(laptop, on_laptop["accessToken"])] == [True]
        again = await revoke(laptop, on_laptop["accessToken"], phone_session["id"])
        assert [(e["field"], e["code"]) for e in again["userErrors"]] == [(["id"], "NOT_FOUND")]
        assert (await refreshed(laptop, on_laptop["refreshToken"]))["session"]


async def test_revoking_the_current_session_signs_out(api: Api) -> None:
    signed_in = await api.register("dee@example.com")
    (current,) = await my_sessions(api, signed_in["accessToken"])
    assert (await revoke(api, signed_in["accessToken"], current["id"]))["ok"] is True
    assert errors_of(await api.op("Me", token=signed_in["accessToken"])) == ["UNAUTHENTICATED"]
    assert (await refreshed(api, signed_in["refreshToken"]))["session"] is None


async def test_someone_elses_session_or_an_unknown_id_is_not_found_and_nothing_changes(
    api: Api,
) -> None:
    victim = await api.register("eve@example.com")
    (victims,) = await my_sessions(api, victim["accessToken"])
    intruder = await api.register("mallory@example.com")
    for session_id in (
        victims["id"],
        f"session_{uuid.uuid4()}",
        victims["id"].replace("session_", "task_"),
        "nonsense",
    ):
        payload = await revoke(api, intruder["accessToken"], session_id)
        assert payload["ok"] is False
        assert payload["userErrors"] == [
            {"field": ["id"], "message": "No such session.", "code": "NOT_FOUND"}
        ]
    assert (await api.op("Me", token=victim["accessToken"]))["data"]["me"]
    assert await my_sessions(api, victim["accessToken"]) == [victims]
    assert (await refreshed(api, victim["refreshToken"]))["session"]


async def test_a_session_is_a_node_of_its_owner_only(api: Api) -> None:
    owner = await api.register("fay@example.com")
    other = await api.register("gil@example.com")
    (session,) = await my_sessions(api, owner["accessToken"])
    document = "query($id: ID!) { node(id: $id) { id ... on Session { current userAgent } } }"
    mine = await api.query(document, {"id": session["id"]}, owner["accessToken"])
    assert mine["data"]["node"] == {
        "id": session["id"],
        "current": True,
        "userAgent": session["userAgent"],
    }
    theirs = await api.query(document, {"id": session["id"]}, other["accessToken"])
    assert theirs["data"]["node"] is None


async def test_ended_and_expired_sessions_are_not_listed(api: Api, app: Starlette) -> None:
    first = await api.register("hal@example.com")
    second = await login(api, "hal@example.com")
    third = await login(api, "hal@example.com")
    await api.op("Logout", {"refreshToken": first["refreshToken"]})
    current, expiring = await my_sessions(api, third["accessToken"])
    assert (current["current"], expiring["current"]) == (True, False)
    async with app.state.services.engine.begin() as connection:
        await connection.execute(
            text(
                "UPDATE auth_sessions SET expires_at = now() - interval '1 second' WHERE id = :id"
            ),
            {"id": expiring["id"].removeprefix("session_")},
        )
    assert await my_sessions(api, third["accessToken"]) == [current]
    assert (await refreshed(api, second["refreshToken"]))["session"] is None


async def test_listing_sessions_runs_one_statement_however_many_there_are(
    api: Api, statements: StatementCounter
) -> None:
    counts = []
    signed_in = await api.register("ian@example.com")
    for more in (0, 5):
        for _ in range(more):
            signed_in = await login(api, "ian@example.com")
        statements.count = 0
        listed = await my_sessions(api, signed_in["accessToken"])
        counts.append((statements.count, len(listed)))
    # The principal, then the sessions.
    assert counts == [(2, 1), (2, 6)]
