"""Password recovery and email verification, end to end: the API, the job queue, and a
real SMTP server on loopback (aiosmtpd) whose received messages the tests read.

The services' clock is the test's (``now``): tokens expire and throttles lift by it."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from conftest import MEMBER_PASSWORD, Api, Inbox, html_of, run_jobs, text_of
from sqlalchemy import text
from test_cli import free_port

from lifegraph.jobs import recover_mail
from lifegraph.services import build_services
from lifegraph.settings import Settings
from resolvers import outbox
from resolvers.context import Services
from storage.ocr import OcrEngine

NEW_PASSWORD = "a-brand-new-password-456"
ME_VERIFIED = "{ me { emailVerified } }"
TOKEN = re.compile(r"token=([A-Za-z0-9_-]+)")

RESET = (
    "mutation ResetPassword($input: ResetPasswordInput!) { resetPassword(input: $input) { "
    "session { accessToken refreshToken user { id email emailVerified } } "
    "userErrors { field message code } } }"
)


@pytest.fixture
def settings(mail_settings: Settings) -> Settings:
    return mail_settings


@pytest.fixture
def now() -> list[datetime]:
    """The services' clock: tests move it by setting ``now[0]``."""
    return [datetime.now(UTC)]


@pytest.fixture
def services(settings: Settings, local_ocr: OcrEngine, now: list[datetime]) -> Services:
    return dataclasses.replace(build_services(settings), ocr=local_ocr, clock=lambda: now[0])


def token_in(message: EmailMessage) -> str:
    found = TOKEN.search(text_of(message))
    assert found is not None, text_of(message)
    return found.group(1)


async def signed_up(api: Api, inbox: Inbox, services: Services, email: str) -> dict[str, Any]:
    """A new account, its verification mail delivered and taken out of the inbox."""
    session = await api.register(email)
    await run_jobs(services)
    assert [m["To"] for m in inbox.take()] == [email]
    return session


async def reset_mail(api: Api, inbox: Inbox, services: Services, email: str) -> EmailMessage:
    result = await api.op("RequestPasswordReset", {"email": email})
    assert result["data"]["requestPasswordReset"] == {"ok": True, "userErrors": []}
    await run_jobs(services)
    (message,) = inbox.take()
    return message


async def reset(api: Api, token: str, password: str = NEW_PASSWORD) -> dict[str, Any]:
    result = await api.query(RESET, {"input": {"token": token, "newPassword": password}})
    payload: dict[str, Any] = result["data"]["resetPassword"]
    return payload


async def refreshed(api: Api, refresh_token: str) -> dict[str, Any]:
    result = await api.op("RefreshSession", {"refreshToken": refresh_token})
    payload: dict[str, Any] = result["data"]["refreshSession"]
    return payload


async def login(api: Api, email: str, password: str) -> dict[str, Any]:
    result = await api.op("Login", {"input": {"email": email, "password": password}})
    payload: dict[str, Any] = result["data"]["login"]
    return payload


async def test_a_reset_is_mailed_only_to_an_existing_account(
    api: Api, inbox: Inbox, services: Services
) -> None:
    await signed_up(api, inbox, services, "ann@example.com")
    for email in ("ann@example.com", "nobody@example.com"):
        result = await api.op("RequestPasswordReset", {"email": email})
        assert result["data"]["requestPasswordReset"] == {"ok": True, "userErrors": []}
    await run_jobs(services)
    (message,) = inbox.take()
    assert message["To"] == "ann@example.com"
    assert message["From"] == "lifegraph <no-reply@lifegraph.test>"
    assert message["Subject"] == "Reset your lifegraph password"
    assert re.fullmatch(r"<[0-9a-f-]{36}@lifegraph\.test>", message["Message-ID"])
    token = token_in(message)
    link = f"https://app.lifegraph.test/reset-password?token={token}"
    assert link in text_of(message)
    assert f'href="{link}"' in html_of(message)
    assert token in text_of(message).splitlines()  # alone on a line, to paste
    assert "30 minutes" in text_of(message)


async def test_a_malformed_address_is_refused(api: Api) -> None:
    result = await api.op("RequestPasswordReset", {"email": "not an address"})
    payload = result["data"]["requestPasswordReset"]
    assert payload["ok"] is False
    assert payload["userErrors"][0]["field"] == ["email"]


async def test_a_reset_works_once_and_ends_every_session(
    api: Api, inbox: Inbox, services: Services
) -> None:
    first = await signed_up(api, inbox, services, "ann@example.com")
    second = (await login(api, "ann@example.com", MEMBER_PASSWORD))["session"]
    used = token_in(await reset_mail(api, inbox, services, "ann@example.com"))
    outstanding = token_in(await reset_mail(api, inbox, services, "ann@example.com"))

    payload = await reset(api, used)
    assert payload["userErrors"] == []
    assert payload["session"]["user"]["email"] == "ann@example.com"
    assert payload["session"]["user"]["emailVerified"] is True  # the mailbox is proven

    for old in (first, second):
        assert (await refreshed(api, old["refreshToken"]))["userErrors"][0]["code"] == (
            "UNAUTHENTICATED"
        )
        me = await api.op("Me", token=old["accessToken"])
        assert me["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "errors" not in await api.op("Me", token=payload["session"]["accessToken"])

    for token in (used, outstanding):
        again = await reset(api, token, "yet-another-password-789")
        assert again["session"] is None
        assert again["userErrors"] == [
            {
                "field": ["input", "token"],
                "message": "This link is not valid; ask for a new one.",
                "code": "INVALID",
            }
        ]
    assert (await login(api, "ann@example.com", NEW_PASSWORD))["userErrors"] == []
    assert (await login(api, "ann@example.com", MEMBER_PASSWORD))["session"] is None


async def test_an_expired_token_is_refused(
    api: Api, inbox: Inbox, services: Services, now: list[datetime]
) -> None:
    await signed_up(api, inbox, services, "ann@example.com")
    token = token_in(await reset_mail(api, inbox, services, "ann@example.com"))
    now[0] += timedelta(minutes=30, seconds=1)
    payload = await reset(api, token)
    assert payload["userErrors"] == [
        {
            "field": ["input", "token"],
            "message": "This link has expired; ask for a new one.",
            "code": "INVALID",
        }
    ]
    assert (await login(api, "ann@example.com", MEMBER_PASSWORD))["userErrors"] == []


@pytest.mark.parametrize("token", ["", "x", "not a token at all \u00e9", "A" * 43])
async def test_an_unknown_or_malformed_token_is_refused(api: Api, token: str) -> None:
    payload = await reset(api, token)
    assert payload["session"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", "token"], "INVALID")
    ]


async def test_a_weak_password_changes_nothing(api: Api, inbox: Inbox, services: Services) -> None:
    first = await signed_up(api, inbox, services, "ann@example.com")
    token = token_in(await reset_mail(api, inbox, services, "ann@example.com"))
    payload = await reset(api, token, "short")
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", "newPassword"], "INVALID")
    ]
    assert "errors" not in await api.op("Me", token=first["accessToken"])
    assert (await login(api, "ann@example.com", MEMBER_PASSWORD))["userErrors"] == []
    assert (await reset(api, token))["userErrors"] == []  # the token was not spent


async def test_reset_requests_are_throttled_without_saying_so(
    api: Api, inbox: Inbox, services: Services, now: list[datetime]
) -> None:
    await signed_up(api, inbox, services, "ann@example.com")
    limit = services.settings.password_reset_max_requests
    for _ in range(limit + 2):
        result = await api.op("RequestPasswordReset", {"email": "ann@example.com"})
        assert result["data"]["requestPasswordReset"] == {"ok": True, "userErrors": []}
        await run_jobs(services)
    assert len(inbox.take()) == limit
    now[0] += timedelta(seconds=services.settings.password_reset_window_seconds + 1)
    await reset_mail(api, inbox, services, "ann@example.com")


async def test_an_account_without_a_password_is_told_where_to_recover_it(
    api: Api, inbox: Inbox, services: Services
) -> None:
    await signed_up(api, inbox, services, "sso@example.com")
    async with services.engine.begin() as connection:
        await connection.execute(
            text("UPDATE users SET password_hash = NULL WHERE email = 'sso@example.com'")
        )
    message = await reset_mail(api, inbox, services, "sso@example.com")
    assert message["Subject"] == "Signing in to lifegraph"
    assert "organisation's sign-in" in text_of(message)
    assert TOKEN.search(text_of(message)) is None
    async with services.engine.begin() as connection:
        tokens = await connection.scalar(text("SELECT count(*) FROM account_tokens"))
    assert tokens == 1  # the sign-up's verification only


async def test_sign_up_mails_a_verification_link(
    api: Api, inbox: Inbox, services: Services
) -> None:
    session = await api.register("ann@example.com")
    me = await api.query(ME_VERIFIED, token=session["accessToken"])
    assert me["data"]["me"]["emailVerified"] is False
    await run_jobs(services)
    (message,) = inbox.take()
    assert message["Subject"] == "Confirm your email address for lifegraph"
    token = token_in(message)
    assert f"https://app.lifegraph.test/verify-email?token={token}" in text_of(message)
    assert "2 days" in text_of(message)

    bad = await api.op("VerifyEmail", {"token": "nope"})
    assert bad["data"]["verifyEmail"]["user"] is None
    assert [(e["field"], e["code"]) for e in bad["data"]["verifyEmail"]["userErrors"]] == [
        (["token"], "INVALID")
    ]
    good = await api.op("VerifyEmail", {"token": token})  # no sign-in needed
    assert good["data"]["verifyEmail"] == {
        "user": {"id": session["user"]["id"], "email": "ann@example.com", "emailVerified": True},
        "userErrors": [],
    }
    me = await api.query(ME_VERIFIED, token=session["accessToken"])
    assert me["data"]["me"]["emailVerified"] is True
    again = await api.op("VerifyEmail", {"token": token})
    assert again["data"]["verifyEmail"]["userErrors"][0]["code"] == "INVALID"
    verified = await api.op("RequestEmailVerification", token=session["accessToken"])
    assert verified["data"]["requestEmailVerification"]["userErrors"][0]["code"] == "CONFLICT"


async def test_an_expired_verification_is_refused(
    api: Api, inbox: Inbox, services: Services, now: list[datetime]
) -> None:
    await api.register("ann@example.com")
    await run_jobs(services)
    token = token_in(inbox.take()[0])
    now[0] += timedelta(seconds=services.settings.email_verification_ttl_seconds + 1)
    result = await api.op("VerifyEmail", {"token": token})
    assert result["data"]["verifyEmail"]["userErrors"][0]["message"] == (
        "This link has expired; ask for a new one."
    )


async def test_another_verification_is_throttled(
    api: Api, inbox: Inbox, services: Services, now: list[datetime]
) -> None:
    session = await signed_up(api, inbox, services, "ann@example.com")
    access = session["accessToken"]

    async def request() -> list[dict[str, Any]]:
        result = await api.op("RequestEmailVerification", token=access)
        errors: list[dict[str, Any]] = result["data"]["requestEmailVerification"]["userErrors"]
        return errors

    assert await request() == []
    assert [e["code"] for e in await request()] == ["RATE_LIMITED"]  # within the minute
    for _ in range(services.settings.email_verification_max_per_day - 1):
        now[0] += timedelta(seconds=61)
        assert await request() == []
    now[0] += timedelta(seconds=61)
    assert [e["code"] for e in await request()] == ["RATE_LIMITED"]  # five today
    await run_jobs(services)
    sent = inbox.take()
    assert len(sent) == services.settings.email_verification_max_per_day
    now[0] += timedelta(days=1)
    assert await request() == []
    result = await api.op("VerifyEmail", {"token": token_in(sent[-1])})
    assert result["data"]["verifyEmail"]["user"]["emailVerified"] is True


async def test_messages_speak_the_users_language(
    api: Api, inbox: Inbox, services: Services
) -> None:
    session = await signed_up(api, inbox, services, "anna@example.de")
    result = await api.op(
        "UpdateProfile",
        {"input": {"settings": {"locale": "de-AT"}}},
        token=session["accessToken"],
    )
    assert result["data"]["updateProfile"]["userErrors"] == []
    message = await reset_mail(api, inbox, services, "anna@example.de")
    assert message["Subject"] == "Ihr lifegraph-Passwort zurücksetzen"
    assert "30 Minuten" in text_of(message)
    assert '<html lang="de">' in html_of(message)


async def test_a_display_name_cannot_inject_markup(
    api: Api, inbox: Inbox, services: Services
) -> None:
    await api.register("eve@example.com", name="<img src=x onerror=alert(1)>")
    await run_jobs(services)
    (message,) = inbox.take()
    assert "<img" not in html_of(message)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html_of(message)
    assert "Hello <img src=x onerror=alert(1)>," in text_of(message)


async def outbox_rows(services: Services) -> list[dict[str, Any]]:
    async with services.engine.begin() as connection:
        rows = await connection.execute(
            text("SELECT id, sent_at, attempts, last_error FROM outgoing_mail ORDER BY created_at")
        )
        return [dict(row._mapping) for row in rows]


async def retry_now(services: Services) -> None:
    """Moves the queue's backed-off retries to now, instead of waiting for them."""
    async with services.engine.begin() as connection:
        await connection.execute(
            text("UPDATE procrastinate_jobs SET scheduled_at = now() WHERE status = 'todo'")
        )


async def test_a_refusing_server_leaves_the_message_to_retry(
    api: Api, inbox: Inbox, services: Services
) -> None:
    inbox.refuse = True
    await api.register("ann@example.com")
    await run_jobs(services)
    (row,) = await outbox_rows(services)
    assert row["sent_at"] is None
    assert row["attempts"] == 1
    assert "451" in row["last_error"]
    async with services.engine.begin() as connection:
        status = await connection.scalar(
            text("SELECT status::text FROM procrastinate_jobs WHERE task_name LIKE '%send_mail'")
        )
    assert status == "todo"  # retried, with the queue's backoff

    inbox.refuse = False
    await retry_now(services)
    await run_jobs(services)
    (row,) = await outbox_rows(services)
    assert row["sent_at"] is not None
    assert row["attempts"] == 2
    assert [m["To"] for m in inbox.take()] == ["ann@example.com"]

    await recover_mail(services)
    await retry_now(services)
    await run_jobs(services)
    assert inbox.take() == []


async def test_a_server_that_is_down_leaves_the_message_to_retry(
    api: Api, smtp: tuple[Inbox, int], settings: Settings, services: Services
) -> None:
    down = dataclasses.replace(
        services,
        mail=build_services(
            settings.model_copy(update={"smtp_url": f"smtp://127.0.0.1:{free_port()}"})
        ).mail,
    )
    await api.register("ann@example.com")
    (row,) = await outbox_rows(services)
    with pytest.raises(outbox.MailNotSent):
        await outbox.send(down, row["id"])
    (row,) = await outbox_rows(services)
    assert (row["sent_at"], row["attempts"]) == (None, 1)
    assert row["last_error"]
    await run_jobs(services)  # the server is up for these services
    assert [m["To"] for m in smtp[0].take()] == ["ann@example.com"]


async def test_a_lost_job_is_queued_again(
    api: Api, inbox: Inbox, services: Services, now: list[datetime]
) -> None:
    await api.register("ann@example.com")
    async with services.engine.begin() as connection:
        await connection.execute(text("DELETE FROM procrastinate_jobs"))
    await recover_mail(services)
    await run_jobs(services)
    assert inbox.take() == []  # too recent to be taken for lost
    now[0] += timedelta(minutes=3)
    await recover_mail(services)
    await run_jobs(services)
    assert [m["To"] for m in inbox.take()] == ["ann@example.com"]


async def test_two_workers_send_a_message_once(api: Api, inbox: Inbox, services: Services) -> None:
    await api.register("ann@example.com")
    (row,) = await outbox_rows(services)
    inbox.delay = 0.3  # the first holds the message while the second arrives
    await asyncio.gather(*(outbox.send(services, row["id"]) for _ in range(2)))
    await outbox.send(services, row["id"])
    await run_jobs(services)
    (message,) = inbox.take()
    assert message["Message-ID"].startswith(f"<{row['id']}@")
    (row,) = await outbox_rows(services)
    assert row["attempts"] == 1


async def test_deleting_the_account_drops_its_unsent_mail(
    api: Api, services: Services, inbox: Inbox
) -> None:
    session = await api.register("ann@example.com")
    (row,) = await outbox_rows(services)
    result = await api.query(
        "mutation($p: String!) { deleteMyAccount(password: $p) { ok } }",
        {"p": MEMBER_PASSWORD},
        token=session["accessToken"],
    )
    assert result["data"]["deleteMyAccount"]["ok"] is True
    await outbox.send(services, uuid.UUID(str(row["id"])))
    await run_jobs(services)
    assert inbox.take() == []
