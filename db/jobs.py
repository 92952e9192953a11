"""The durable job queue (procrastinate, in the same PostgreSQL): the other PostgreSQL
channel beside :mod:`db.events`.

The queue knows its tasks by name only. Their bodies live in the composition root
(``lifegraph.jobs``), which hands them over as a blueprint: the queue never imports what
it runs. Jobs retry with exponential backoff, and a job with the same lock as one still
waiting is not queued twice.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.engine import make_url

logger = logging.getLogger("lifegraph.jobs")

NAMESPACE = "lifegraph"
RETRY = procrastinate.RetryStrategy(max_attempts=6, exponential_wait=2)
DEPTH_STATUSES = ("todo", "doing")


class Task(enum.StrEnum):
    """The tasks a blueprint must provide, by their names within it."""

    PROCESS_RECEIPT = "process_receipt"
    DELETE_OBJECT = "delete_object"
    EXPORT_DATA = "export_data"
    MAINTENANCE = "maintenance"
    SEND_MAIL = "send_mail"
    PASSWORD_RESET = "password_reset"
    DELIVER_WEBHOOKS = "deliver_webhooks"
    SEND_REMINDERS = "send_reminders"
    SEND_DIGESTS = "send_digests"

    @property
    def qualified_name(self) -> str:
        return f"{NAMESPACE}:{self.value}"


def conninfo(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class JobQueue:
    """Queues jobs and runs workers; ``open`` before use, ``close`` at shutdown."""

    def __init__(self, database_url: str) -> None:
        connector = procrastinate.PsycopgConnector(
            conninfo=conninfo(database_url), min_size=1, max_size=4
        )
        self.app = procrastinate.App(connector=connector)

    def register(self, blueprint: procrastinate.Blueprint) -> None:
        """Adds the task bodies; the blueprint names every member of :class:`Task`."""
        missing = {task.value for task in Task} - set(blueprint.tasks)
        if missing:
            raise ValueError(f"the blueprint lacks the tasks {sorted(missing)}")
        self.app.add_tasks_from(blueprint, namespace=NAMESPACE)

    async def open(self) -> None:
        await self.app.open_async()

    async def close(self) -> None:
        await self.app.close_async()

    async def process_receipt(self, receipt_id: uuid.UUID, *, force: bool = False) -> None:
        await self._defer(
            Task.PROCESS_RECEIPT,
            f"receipt:{receipt_id}",
            receipt_id=str(receipt_id),
            force=force,
        )

    async def delete_objects(self, keys: Sequence[str]) -> None:
        for key in keys:
            await self._defer(Task.DELETE_OBJECT, f"object:{key}", key=key)

    async def send_mail(self, mail_id: uuid.UUID) -> None:
        await self._defer(Task.SEND_MAIL, f"mail:{mail_id}", mail_id=str(mail_id))

    async def password_reset(self, email: str) -> None:
        """Queued for every reset request, whether or not the email has an account; the
        request itself stores nothing to send it from, so a failure to queue it is the
        request's."""
        await self._defer(Task.PASSWORD_RESET, f"password-reset:{email}", swept=False, email=email)

    async def export_data(self, export_id: uuid.UUID) -> None:
        await self._defer(Task.EXPORT_DATA, f"export:{export_id}", export_id=str(export_id))

    async def deliver_webhooks(self, webhook_ids: Iterable[uuid.UUID]) -> None:
        """A job per endpoint, sending its due deliveries in order."""
        for webhook_id in webhook_ids:
            await self._defer(
                Task.DELIVER_WEBHOOKS, f"webhook:{webhook_id}", webhook_id=str(webhook_id)
            )

    async def retry_webhook(self, webhook_id: uuid.UUID, at: datetime) -> None:
        """The endpoint's job again at ``at`` (its next delivery's retry): under a lock of
        its own, so that it never keeps a job for a new event from being queued now."""
        await self._defer(
            Task.DELIVER_WEBHOOKS,
            f"webhook-retry:{webhook_id}",
            schedule_at=at,
            webhook_id=str(webhook_id),
        )

    async def _defer(
        self,
        task: Task,
        lock: str,
        *,
        schedule_at: datetime | None = None,
        swept: bool = True,
        **arguments: Any,
    ) -> None:
        """Queues a job once: while one with the same lock waits, that one will do.

        Jobs are queued after the change that needs them has committed, which recorded
        what they are to do (a PENDING receipt or export, an unsent message, an object
        listed for deletion, a due delivery); the periodic maintenance queues again what
        such a record still waits for. So a queue that cannot be reached at that moment
        is logged, not raised (``swept``): the change stands, and its job comes later."""
        try:
            await self.app.configure_task(
                task.qualified_name,
                queueing_lock=lock,
                allow_unknown=False,
                schedule_at=schedule_at,
            ).defer_async(**arguments)
        except AlreadyEnqueued:
            logger.debug("%s already queued", lock)
        except Exception as error:
            if not swept:
                raise
            logger.warning("%s not queued now (%r); the maintenance will queue it", lock, error)

    async def retry_stalled(self, after_seconds: float) -> int:
        """Jobs held by workers whose heartbeat stopped (a crash) go back to the queue."""
        manager = self.app.job_manager
        stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=after_seconds))
        for job in stalled:
            await manager.retry_job(job)
        return len(stalled)

    async def depth(self) -> dict[tuple[str, str], int]:
        """Jobs waiting (``todo``) and running (``doing``), by queue and status; every
        queue a registered task uses is there, at zero when it is empty."""
        counts = {
            (task.queue, status): 0 for task in self.app.tasks.values() for status in DEPTH_STATUSES
        }
        rows = await self.app.connector.execute_query_all_async(
            "SELECT queue_name, status::text AS status, count(*) AS jobs "
            "FROM procrastinate_jobs "
            "WHERE status = ANY(%(statuses)s::procrastinate_job_status[]) "
            "GROUP BY queue_name, status",
            statuses=list(DEPTH_STATUSES),
        )
        counts.update({(row["queue_name"], row["status"]): int(row["jobs"]) for row in rows})
        return counts

    async def run_worker(self, services: object, **options: Any) -> None:
        """Works the queue; each task finds ``services`` in its job context."""
        await self.app.run_worker_async(additional_context={"services": services}, **options)
