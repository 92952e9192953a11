"""Notification emails: a task's reminder at its ``remindAt``, and the daily digest at the
user's chosen local hour, with a one-click unsubscribe link (RFC 8058) in each.

Both are found by periodic jobs (:mod:`lifegraph.jobs`), which look for what is due by
the clock rather than trusting a job per reminder: a worker that was down, or a restart,
loses none. Each reminder or digest is marked dealt with in the transaction that writes
its message to the outbox, so none goes twice (:mod:`db.reminders` claims rows with
``SKIP LOCKED``, so two workers never share one). A reminder whose task is DONE, or whose
user takes no email (notifications off, or the address unverified), is marked dealt with
and sends nothing; moving ``remindAt`` re-arms it. A digest with nothing to list (no task
due today or overdue, every habit done) is not sent, yet the day counts as done.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from auth.tokens import InvalidToken
from db import habits, reminders, users
from db.tasks import Task, TaskStatus
from db.users import User
from resolvers import ids, outbox
from resolvers.habits import due_undone
from resolvers.messages import MessageKind, moment_in

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from resolvers.context import Services

BATCH = 200
DIGEST_TASKS = 50
"""The most tasks a digest lists; the link to the app shows the rest."""


def takes_email(user: User) -> bool:
    return user.email_verified and user.settings.notifications_email_enabled


def unsubscribe_link(services: Services, user_id: uuid.UUID) -> str:
    token = services.tokens.issue_unsubscribe(user_id)
    return f"{services.settings.public_url.rstrip('/')}/unsubscribe?token={quote(token)}"


def unsubscribe_headers(link: str) -> dict[str, str]:
    """RFC 2369's link and RFC 8058's one-click POST to it."""
    return {
        "List-Unsubscribe": f"<{link}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


async def send_due_reminders(services: Services) -> int:
    """Writes a message for every reminder due by the services' clock and queues them;
    the number written."""
    written = 0
    while True:
        now = services.clock()
        mail_ids: list[uuid.UUID] = []
        async with services.sessionmaker.begin() as session:
            due = await reminders.take_due_reminders(session, now, limit=BATCH)
            for task in due:
                user = await users.get(session, task.user_id)
                if user is not None and task.status is not TaskStatus.DONE and takes_email(user):
                    mail_ids.append(await _write_reminder(services, session, user, task))
            await reminders.mark_reminded(session, [task.id for task in due], now)
        for mail_id in mail_ids:
            await services.jobs.send_mail(mail_id)
        written += len(mail_ids)
        if len(due) < BATCH:
            return written


async def _write_reminder(
    services: Services, session: AsyncSession, user: User, task: Task
) -> uuid.UUID:
    settings = user.settings
    link = unsubscribe_link(services, user.id)
    return await outbox.write(
        services,
        session,
        user,
        MessageKind.REMINDER,
        headers=unsubscribe_headers(link),
        title=task.title,
        description=task.description or "",
        due=moment_in(task.due_at, settings.timezone, settings.locale) if task.due_at else "",
        task_link=f"{services.settings.app_link_base}/tasks/{ids.encode('task', task.id)}",
        unsubscribe_link=link,
    )


async def send_due_digests(services: Services) -> int:
    """Writes the daily digest of every user whose local digest hour has come today and
    queues them; the number written."""
    written = 0
    while True:
        now = services.clock()
        mail_ids: list[uuid.UUID] = []
        async with services.sessionmaker.begin() as session:
            due = await reminders.take_due_digests(session, now, limit=BATCH)
            for item in due:
                user = await users.get(session, item.user_id)
                if user is not None:
                    mail_id = await _write_digest(services, session, user, item.local_date)
                    if mail_id is not None:
                        mail_ids.append(mail_id)
                await reminders.mark_digested(session, item.user_id, item.local_date)
        for mail_id in mail_ids:
            await services.jobs.send_mail(mail_id)
        written += len(mail_ids)
        if len(due) < BATCH:
            return written


async def _write_digest(
    services: Services, session: AsyncSession, user: User, day: date
) -> uuid.UUID | None:
    """The digest for the user's local ``day``; None when it would list nothing."""
    settings = user.settings
    zone = ZoneInfo(settings.timezone)
    start = datetime.combine(day, time(), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    tasks = await reminders.open_tasks_due_before(session, user.id, end, limit=DIGEST_TASKS)
    rows = await habits.owned_all(session, user.id, include_archived=False)
    days = await habits.days_of(session, [row.id for row in rows])
    undone = [row.name for row in rows if due_undone(row, days.get(row.id, []), day)]
    if not tasks and not undone:
        return None

    def listed(task: Task) -> dict[str, Any]:
        assert task.due_at is not None
        due_today = task.due_at >= start
        due = moment_in(task.due_at, zone.key, settings.locale, time_only=due_today)
        return {"title": task.title, "due": due}

    link = unsubscribe_link(services, user.id)
    return await outbox.write(
        services,
        session,
        user,
        MessageKind.DAILY_DIGEST,
        headers=unsubscribe_headers(link),
        day=moment_in(start, zone.key, settings.locale, date_only=True),
        overdue=[listed(task) for task in tasks if task.due_at and task.due_at < start],
        due_today=[listed(task) for task in tasks if task.due_at and task.due_at >= start],
        habits=undone,
        app_link=services.settings.app_link_base,
        unsubscribe_link=link,
    )


async def unsubscribe(services: Services, token: str) -> bool:
    """Turns the email notifications of the token's user off; False for a token that is
    not a valid unsubscribe token, or whose user is gone."""
    try:
        user_id = services.tokens.decode_unsubscribe(token)
    except InvalidToken:
        return False
    async with services.sessionmaker.begin() as session:
        user = await users.get(session, user_id, lock=True)
        if user is None:
            return False
        if user.settings.notifications_email_enabled:
            await users.save_settings(session, user, notifications_email_enabled=False)
    return True
