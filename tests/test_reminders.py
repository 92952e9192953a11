"""Task reminders, daily digests and the one-click unsubscribe, end to end: the API, the
periodic job bodies, the outbox's send_mail jobs, and a real SMTP server on loopback
(aiosmtpd) whose received messages the tests read.

The services' clock is the test's (``now``): the tests move it past a reminder's time, or
across the switch to summer time in Amsterdam, and run the job bodies as a worker would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from conftest import Api, Inbox, html_of, run_jobs, text_of
from sqlalchemy import text
from test_sync import applied, change, mint, push, push_raw

from db.jobs import Task
from lifegraph.services import build_services
from lifegraph.settings import Settings
from resolvers import reminders
from resolvers.context import Services
from storage.ocr import OcrEngine

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
TOKEN = re.compile(r"token=([A-Za-z0-9_-]+)")
TASK = "id title dueAt remindAt status version"
CREATE = (
    "mutation($input: CreateTaskInput!) { createTask(input: $input) { "
    f"task {{ {TASK} }} userErrors {{ field message code }} }} }}"
)
UPDATE = (
    "mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { "
    f"task {{ {TASK} }} userErrors {{ field message code }} }} }}"
)
PROFILE = (
    "mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { "
    "user { id } userErrors { field message code } } }"
)


@pytest.fixture
def settings(mail_settings: Settings) -> Settings:
    return mail_settings


@pytest.fixture
def now() -> list[datetime]:
    """The services' clock: tests move it by setting ``now[0]``."""
    return [T0]


@pytest.fixture
def services(settings: Settings, local_ocr: OcrEngine, now: list[datetime]) -> Services:
    return dataclasses.replace(build_services(settings), ocr=local_ocr, clock=lambda: now[0])


async def member(
    api: Api,
    inbox: Inbox,
    services: Services,
    email: str,
    *,
    verified: bool = True,
    **settings: Any,
) -> str:
    """A new account's access token: its email verified through the mailed link unless
    told otherwise, its settings (camelCase) set, and the inbox emptied."""
    session = await api.register(email, name=email.partition("@")[0].title())
    token: str = session["accessToken"]
    await run_jobs(services)
    (verification,) = inbox.take()
    if verified:
        found = TOKEN.search(text_of(verification))
        assert found is not None
        result = await api.op("VerifyEmail", {"token": found.group(1)})
        assert result["data"]["verifyEmail"]["userErrors"] == []
    if settings:
        result = await api.query(PROFILE, {"input": {"settings": settings}}, token)
        assert result["data"]["updateProfile"]["userErrors"] == [], result
    return token


async def create_task(api: Api, token: str, **values: Any) -> dict[str, Any]:
    result = await api.query(CREATE, {"input": values}, token)
    payload = result["data"]["createTask"]
    assert payload["userErrors"] == [], payload
    task: dict[str, Any] = payload["task"]
    return task


async def update_task(api: Api, token: str, task_id: str, **values: Any) -> dict[str, Any]:
    result = await api.query(UPDATE, {"id": task_id, "input": values}, token)
    payload = result["data"]["updateTask"]
    assert payload["userErrors"] == [], payload
    task: dict[str, Any] = payload["task"]
    return task


async def reminded(services: Services, inbox: Inbox) -> list[EmailMessage]:
    """Runs the reminder job's body and the send_mail jobs it queues; what arrived."""
    await reminders.send_due_reminders(services)
    await run_jobs(services)
    return inbox.take()


async def digested(services: Services, inbox: Inbox) -> list[EmailMessage]:
    await reminders.send_due_digests(services)
    await run_jobs(services)
    return inbox.take()


def at(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def unsubscribe_url(message: EmailMessage) -> str:
    header = str(message["List-Unsubscribe"])
    assert re.fullmatch(r"<[^<>]+>", header), header
    return header[1:-1]


async def notifications_on(api: Api, token: str) -> bool:
    result = await api.op("NotificationSettings", {}, token)
    on: bool = result["data"]["me"]["settings"]["notificationsEmailEnabled"]
    return on


# --- reminders -----------------------------------------------------------------------------


async def test_a_reminder_goes_at_its_time_and_not_before(
    api: Api, inbox: Inbox, services: Services, now: list[datetime]
) -> None:
    token = await member(
        api, inbox, services, "ann@example.com", timezone="Europe/Amsterdam", locale="de-DE"
    )
    task = await create_task(
        api,
        token,
        title="Miete zahlen",
        dueAt=at(T0 + timedelta(hours=3)),
        remindAt=at(T0 + timedelta(hours=1)),
    )
    assert task["remindAt"] == at(T0 + timedelta(hours=1))

    now[0] = T0 + timedelta(minutes=59)
    assert await reminded(services, inbox) == []

    now[0] = T0 + timedelta(hours=1)
    (message,) = await reminded(services, inbox)
    assert message["To"] == "ann@example.com"
    assert message["Subject"] == "Erinnerung: Miete zahlen"
    text = text_of(message)
    assert "Fällig: 01.12.2026, 12:00" in text  # 11:00 UTC is noon in Amsterdam
    link = f"https://app.lifegraph.test/tasks/{task['id']}"
    assert link in text
    assert f'href="{link}"' in html_of(message)
    url = unsubscribe_url(message)
    assert url.startswith("http://lifegraph.test/unsubscribe?token=")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in text
    assert f'href="{url}"' in html_of(message)

    now[0] = T0 + timedelta(hours=2)
    assert await reminded(services, inbox) == []


async def test_a_moved_reminder_goes_again_at_its_new_time_once(
    api: Api, inbox: Inbox, services: Services, now: list[datetime]
) -> None:
    token = await member(api, inbox, services, "ann@example.com")
    task = await create_task(api, token, title="Call Bea", remindAt=at(T0 + timedelta(hours=1)))
    now[0] = T0 + timedelta(hours=1)
    (first,) = await reminded(services, inbox)
    assert first["Subject"] == "Reminder: Call Bea"
    assert "Due:" not in text_of(first)

    await update_task(api, token, task["id"], title="Call Bea back")  # not moved
    assert await reminded(services, inbox) == []

    moved = await update_task(api, token, task["id"], remindAt=at(T0 + timedelta(hours=3)))
    assert moved["remindAt"] == at(T0 + timedelta(hours=3))
    now[0] = T0 + timedelta(hours=2, minutes=59)
    assert await reminded(services, inbox) == []
    now[0] = T0 + timedelta(hours=3)
    (second,) = await reminded(services, inbox)
    assert second["Subject"] == "Reminder: Call Bea back"
    assert second["Message-ID"] != first["Message-ID"]
    assert await reminded(services, inbox) == []

    cleared = await update_task(api, token, task["id"], remindAt=None)
    assert cleared["remindAt"] is None
    now[0] = T0 + timedelta(days=1)
    assert await reminded(services, inbox) == []


async def test_a_done_task_sends_no_reminder_even_when_reopened(
    api: Api, inbox: Inbox, services: Services, now: list[datetime]
) -> None:
    token = await member(api, inbox, services, "ann@example.com")
    task = await create_task(api, token, title="Done early", remindAt=at(T0 + timedelta(hours=1)))
    await update_task(api, token, task["id"], status="DONE")
    now[0] = T0 + timedelta(hours=1)
    assert await reminded(services, inbox) == []
    await update_task(api, token, task["id"], status="TODO")
    assert await reminded(services, inbox) == []  # its time passed while it was done


async def test_no_reminder_without_notifications_or_a_verified_email(
    api: Api, inbox: Inbox, services: Services, now: list[datetime]
) -> None:
    unverified = await member(api, inbox, services, "ann@example.com", verified=False)
    switched_off = await member(
        api, inbox, services, "bea@example.com", notificationsEmailEnabled=False
    )
    for token in (unverified, switched_off):
        await create_task(api, token, title="Quiet", remindAt=at(T0 + timedelta(minutes=5)))
    now[0] = T0 + timedelta(minutes=5)
    assert await reminded(services, inbox) == []
    async with services.engine.connect() as connection:
        written = await connection.scalar(
            text("SELECT count(*) FROM outgoing_mail WHERE subject LIKE 'Reminder%'")
        )
    assert written == 0


async def test_two_workers_at_once_send_each_reminder_once(
    api: Api, inbox: Inbox, services: Services, now: list[datetime]
) -> None:
    token = await member(api, inbox, services, "ann@example.com")
    titles = {f"Task {n}" for n in range(5)}
    for title in titles:
        await create_task(api, token, title=title, remindAt=at(T0 + timedelta(minutes=1)))
    now[0] = T0 + timedelta(minutes=1)
    counts = await asyncio.gather(
        reminders.send_due_reminders(services), reminders.send_due_reminders(services)
    )
    assert sum(counts) == 5
    await run_jobs(services)
    assert sorted(m["Subject"] for m in inbox.take()) == sorted(f"Reminder: {t}" for t in titles)
    assert await reminded(services, inbox) == []


async def test_the_periodic_job_sends_reminders_through_the_queue(
    api: Api, inbox: Inbox, services: Services, now: list[datetime]
) -> None:
    token = await member(api, inbox, services, "ann@example.com")
    await create_task(api, token, title="Queued", remindAt=at(T0 + timedelta(minutes=1)))
    now[0] = T0 + timedelta(minutes=2)
    job = services.jobs.app.configure_task(Task.SEND_REMINDERS.qualified_name)
    await job.defer_async(timestamp=1)
    await run_jobs(services)  # the reminder job, then the send_mail job it queued
    (message,) = inbox.take()
    assert message["Subject"] == "Reminder: Queued"
    await job.defer_async(timestamp=2)
    await run_jobs(services)
    assert inbox.take() == []


async def test_a_reminder_set_by_a_sync_push_goes_too(
    api: Api, inbox: Inbox, services: Services, now: list[datetime]
) -> None:
    token = await member(api, inbox, services, "ann@example.com")
    task = mint("task")
    reminder = at(T0 + timedelta(minutes=30))
    payload = await push(api, token, [change(task, {"title": "Offline", "remindAt": reminder})])
    assert applied(payload) == {task: 1}
    pulled = await api.op("SyncPull", {"since": None, "collections": ["TASKS"]}, token)
    (record,) = pulled["data"]["syncPull"]["changes"]
    assert record["fields"]["remindAt"] == reminder
    now[0] = T0 + timedelta(minutes=30)
    (message,) = await reminded(services, inbox)
    assert message["Subject"] == "Reminder: Offline"


async def test_bad_reminder_times_are_refused_with_the_other_problems(
    api: Api, inbox: Inbox, services: Services
) -> None:
    token = await member(api, inbox, services, "ann@example.com")
    naive = await api.query(
        CREATE, {"input": {"title": "t", "remindAt": "2026-12-01T10:00"}}, token
    )
    assert naive["data"] is None  # the DateTime scalar wants an offset
    payload = await push_raw(api, token, [change(mint("task"), {"title": "", "remindAt": "soon"})])
    fields = sorted(error["field"][-1] for error in payload["userErrors"])
    assert fields == ["remindAt", "title"]
    assert payload["applied"] == []


# --- daily digest --------------------------------------------------------------------------


async def test_the_digest_comes_at_the_local_hour_across_a_dst_change(
    api: Api, inbox: Inbox, services: Services, now: list[datetime]
) -> None:
    """Amsterdam moves to summer time on 2026-03-29: 08:00 there is 07:00 UTC on the 28th
    and 06:00 UTC on the 29th. Each local day gets one digest."""
    now[0] = datetime(2026, 3, 28, 6, 0, tzinfo=UTC)
    token = await member(
        api, inbox, services, "ann@example.com", timezone="Europe/Amsterdam", dailyDigestHour=8
    )
    await member(api, inbox, services, "bea@example.com", dailyDigestHour=8)  # nothing to list
    await create_task(api, token, title="Old", dueAt="2026-03-26T10:00:00Z")
    await create_task(api, token, title="Saturday", dueAt="2026-03-28T22:30:00Z")  # 23:30
    await create_task(api, token, title="Sunday", dueAt="2026-03-28T23:30:00Z")  # 00:30
    await create_task(api, token, title="Done", dueAt="2026-03-28T10:00:00Z", status="DONE")
    await create_task(api, token, title="Undated")
    created = await api.op("CreateHabit", {"input": {"name": "Stretch"}}, token)
    habit_id = created["data"]["createHabit"]["habit"]["id"]
    weekly = {"name": "Swim", "frequency": "WEEKLY", "targetPerWeek": 1}
    swim = (await api.op("CreateHabit", {"input": weekly}, token))["data"]["createHabit"]
    checked = await api.op("CheckInHabit", {"id": swim["habit"]["id"]}, token)
    assert "errors" not in checked, checked

    now[0] = datetime(2026, 3, 28, 6, 59, tzinfo=UTC)  # 07:59 CET
    assert await digested(services, inbox) == []

    now[0] = datetime(2026, 3, 28, 7, 0, tzinfo=UTC)  # 08:00 CET
    (saturday,) = await digested(services, inbox)
    assert saturday["To"] == "ann@example.com"
    assert saturday["Subject"] == "Your day in lifegraph: Saturday, March 28, 2026"
    assert saturday["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = text_of(saturday)
    overdue, _, rest = body.partition("Due today:")
    assert "- Old (due Mar 26, 2026, 11:00 AM)" in overdue
    today, _, habits = rest.partition("Habits not yet done today:")
    assert "- Saturday (11:30 PM)" in today
    assert "- Stretch" in habits
    for absent in ("Sunday", "Done", "Undated", "Swim"):  # Swim is checked in today
        assert f"- {absent}" not in body
    assert unsubscribe_url(saturday) in body

    now[0] = datetime(2026, 3, 28, 7, 30, tzinfo=UTC)
    checked = await api.op("CheckInHabit", {"id": habit_id}, token)
    assert "errors" not in checked, checked
    assert await digested(services, inbox) == []

    now[0] = datetime(2026, 3, 29, 5, 59, tzinfo=UTC)  # 07:59 CEST
    assert await digested(services, inbox) == []

    now[0] = datetime(2026, 3, 29, 6, 0, tzinfo=UTC)  # 08:00 CEST
    (sunday,) = await digested(services, inbox)
    assert sunday["Subject"] == "Your day in lifegraph: Sunday, March 29, 2026"
    overdue, _, rest = text_of(sunday).partition("Due today:")
    assert "- Old" in overdue
    assert "- Saturday" in overdue
    today, _, habits = rest.partition("Habits not yet done today:")
    assert "- Sunday (12:30 AM)" in today
    assert "- Stretch" in habits  # done yesterday, not yet today
    assert "- Swim" in habits

    now[0] = datetime(2026, 3, 29, 9, 0, tzinfo=UTC)
    assert await digested(services, inbox) == []


async def test_no_digest_without_an_hour_or_notifications(
    api: Api, inbox: Inbox, services: Services, now: list[datetime]
) -> None:
    tokens = [
        await member(api, inbox, services, "ann@example.com"),  # no digest hour: the default
        await member(
            api,
            inbox,
            services,
            "bea@example.com",
            dailyDigestHour=8,
            notificationsEmailEnabled=False,
        ),
        await member(api, inbox, services, "cai@example.com", verified=False, dailyDigestHour=8),
    ]
    for token in tokens:
        await create_task(api, token, title="Due", dueAt=at(T0))
    now[0] = T0 + timedelta(hours=1)
    assert await digested(services, inbox) == []


# --- unsubscribe ---------------------------------------------------------------------------


async def first_reminder(
    api: Api, inbox: Inbox, services: Services, now: list[datetime], token: str
) -> EmailMessage:
    await create_task(api, token, title="Ping", remindAt=at(now[0]))
    (message,) = await reminded(services, inbox)
    return message


async def test_one_click_unsubscribe_turns_notifications_off(
    api: Api, inbox: Inbox, services: Services, now: list[datetime]
) -> None:
    token = await member(api, inbox, services, "ann@example.com")
    url = unsubscribe_url(await first_reminder(api, inbox, services, now, token))

    page = await api.client.get(url)
    assert page.status_code == 200
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert await notifications_on(api, token)  # opening the link changes nothing

    refused = await api.client.post(url, data={"List-Unsubscribe": "Other"})
    assert refused.status_code == 400
    assert await notifications_on(api, token)

    done = await api.client.post(url, content=b"List-Unsubscribe=One-Click", headers=FORM)
    assert done.status_code == 200
    assert not await notifications_on(api, token)
    await create_task(api, token, title="Silent", remindAt=at(now[0]))
    assert await reminded(services, inbox) == []

    again = await api.client.post(url, content=b"List-Unsubscribe=One-Click", headers=FORM)
    assert again.status_code == 200


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def test_forged_or_other_tokens_are_refused(
    api: Api, inbox: Inbox, services: Services, now: list[datetime]
) -> None:
    token = await member(api, inbox, services, "ann@example.com")
    url = unsubscribe_url(await first_reminder(api, inbox, services, now, token))
    good = parse_qs(urlsplit(url).query)["token"][0]
    claims = jwt.decode(good, options={"verify_signature": False})
    user_id = uuid.UUID(claims["sub"])
    settings = services.settings
    forged = jwt.encode(claims, "another-secret-key-that-is-long-enough-for-hs256", "HS256")
    other_purpose = services.tokens.issue_access(user_id, uuid.uuid4()).token
    wrong_kind = jwt.encode(
        {**claims, "typ": "access"}, settings.secret_key, "HS256"
    )  # signed rightly, for another purpose
    for bad in (forged, other_purpose, wrong_kind, good[:-2], ""):
        response = await api.client.post(
            "/unsubscribe",
            params={"token": bad},
            content=b"List-Unsubscribe=One-Click",
            headers=FORM,
        )
        assert response.status_code == 400, bad
    assert await notifications_on(api, token)

    gone = jwt.encode({**claims, "sub": str(uuid.uuid4())}, settings.secret_key, "HS256")
    response = await api.client.post(
        "/unsubscribe", params={"token": gone}, content=b"List-Unsubscribe=One-Click", headers=FORM
    )
    assert response.status_code == 400
