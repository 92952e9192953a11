"""What the notification emails read and mark: task reminders whose time has come, users
whose daily digest is due in their time zone, and what a digest lists.

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` and marked in the transaction that
writes their message to the outbox, so two workers never take the same one and a crash
before the commit leaves it for the next run.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Date, cast, extract, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from db.tasks import Task, TaskStatus
from db.users import User, UserSettings


async def take_due_reminders(session: AsyncSession, now: datetime, *, limit: int) -> list[Task]:
    """Tasks whose reminder time has come and whose reminder is not dealt with yet, locked
    (rows another transaction holds are skipped), soonest first."""
    statement = (
        select(Task)
        .where(Task.remind_at.is_not(None), Task.reminded_at.is_(None), Task.remind_at <= now)
        .order_by(Task.remind_at, Task.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(await session.scalars(statement))


async def mark_reminded(session: AsyncSession, task_ids: Sequence[uuid.UUID], at: datetime) -> None:
    """The reminders are dealt with; neither the task's version nor ``updated_at`` moves,
    as the user changed nothing."""
    if task_ids:
        await session.execute(
            update(Task)
            .where(Task.id.in_(task_ids))
            .values(reminded_at=at, updated_at=Task.updated_at)
            .execution_options(synchronize_session=False)
        )


@dataclass(frozen=True)
class DigestDue:
    user_id: uuid.UUID
    local_date: date
    """The user's date when the digest is due: the one it is for."""


async def take_due_digests(session: AsyncSession, now: datetime, *, limit: int) -> list[DigestDue]:
    """Users who want a daily digest and take email (on, and verified) whose local time has
    reached the digest's hour today and who had none for today's local date; their settings
    rows are locked (rows another transaction holds are skipped)."""
    local = func.timezone(UserSettings.timezone, now)
    local_date = cast(local, Date)
    statement = (
        select(UserSettings.user_id, local_date)
        .join(User, User.id == UserSettings.user_id)
        .where(
            UserSettings.daily_digest_hour.is_not(None),
            UserSettings.notifications_email_enabled.is_(True),
            User.email_verified.is_(True),
            extract("hour", local) >= UserSettings.daily_digest_hour,
            (UserSettings.last_digest_on.is_(None)) | (UserSettings.last_digest_on < local_date),
        )
        .order_by(UserSettings.user_id)
        .limit(limit)
        .with_for_update(of=UserSettings, skip_locked=True)
    )
    rows = await session.execute(statement)
    return [DigestDue(user_id, day) for user_id, day in rows]


async def mark_digested(session: AsyncSession, user_id: uuid.UUID, local_date: date) -> None:
    await session.execute(
        update(UserSettings)
        .where(UserSettings.user_id == user_id)
        .values(last_digest_on=local_date)
        .execution_options(synchronize_session=False)
    )


async def open_tasks_due_before(
    session: AsyncSession, user_id: uuid.UUID, before: datetime, *, limit: int
) -> list[Task]:
    """The user's tasks not DONE that are due before ``before`` (the end of their day):
    overdue ones and those due today, soonest first."""
    statement = (
        select(Task)
        .where(
            Task.user_id == user_id,
            Task.status != TaskStatus.DONE,
            Task.due_at.is_not(None),
            Task.due_at < before,
        )
        .order_by(Task.due_at, Task.id)
        .limit(limit)
    )
    return list(await session.scalars(statement))
