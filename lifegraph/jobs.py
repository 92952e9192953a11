"""The durable job queue (procrastinate, on the same PostgreSQL): OCR of receipts and
deletion of stored objects, retried with exponential backoff.

Jobs are queued after the transaction that needs them commits. Whatever a lost job
leaves behind (a receipt still PENDING, an object still listed for deletion, a job held
by a worker that died) is picked up again by the periodic ``maintenance`` task.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.engine import make_url

from db import objects, sessions, uploads

if TYPE_CHECKING:
    from lifegraph.context import Services

logger = logging.getLogger("lifegraph.jobs")

RETRY = procrastinate.RetryStrategy(max_attempts=6, exponential_wait=2)


def _services(context: procrastinate.JobContext) -> Services:
    services: Services = context.additional_context["services"]
    return services


async def process_receipt(
    context: procrastinate.JobContext, receipt_id: str, force: bool = False
) -> None:
    from resolvers import receipts

    services = _services(context)
    try:
        await receipts.process(services, uuid.UUID(receipt_id), force=force)
    except Exception:
        attempts = context.job.attempts + 1
        if attempts < (RETRY.max_attempts or 1):
            await receipts.wait_for_retry(services, uuid.UUID(receipt_id))
            raise
        logger.exception("giving up on receipt %s after %d attempts", receipt_id, attempts)
        reason = "The receipt could not be read; try again later."
        await receipts.finish(services, uuid.UUID(receipt_id), failure=reason)


async def delete_object(context: procrastinate.JobContext, key: str) -> None:
    services = _services(context)
    await services.storage.delete(key)
    async with services.sessionmaker.begin() as session:
        await objects.done(session, key)


async def maintenance(context: procrastinate.JobContext, timestamp: int) -> None:
    await recover(_services(context))


async def recover(services: Services) -> None:
    """Re-queues what lost or crashed jobs left behind."""
    queue = services.jobs
    stalled = await queue.retry_stalled(services.settings.job_stalled_after_seconds)
    cutoff = datetime.now(UTC) - timedelta(minutes=2)
    from resolvers import receipts

    for receipt_id in await receipts.stale_receipts(services, cutoff):
        await queue.process_receipt(receipt_id)
    async with services.sessionmaker.begin() as session:
        expired = await uploads.expired_keys(session)
        await uploads.forget(session, expired)
        await objects.schedule_deletion(session, expired)
    async with services.sessionmaker() as session:
        overdue = await objects.overdue(session, cutoff)
    window = timedelta(seconds=services.settings.sign_in_window_seconds)
    async with services.sessionmaker.begin() as session:
        await sessions.forget_failures(session, before=datetime.now(UTC) - window)
    await queue.delete_objects([*expired, *overdue])
    if stalled:
        logger.info("retried %d stalled jobs", stalled)


def conninfo(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class JobQueue:
    """Queues jobs and runs workers; ``open`` before use, ``close`` at shutdown."""

    def __init__(self, database_url: str) -> None:
        connector = procrastinate.PsycopgConnector(
            conninfo=conninfo(database_url), min_size=1, max_size=4
        )
        self.app = procrastinate.App(connector=connector)
        # Registered per app: procrastinate tasks are bound to the app that declares them.
        self.app.task(name="process_receipt", queue="ocr", pass_context=True, retry=RETRY)(
            process_receipt
        )
        self.app.task(name="delete_object", queue="storage", pass_context=True, retry=RETRY)(
            delete_object
        )
        self.app.periodic(cron="*/5 * * * *", periodic_id="maintenance")(
            self.app.task(
                name="maintenance",
                queue="maintenance",
                pass_context=True,
                queueing_lock="maintenance",
            )(maintenance)
        )

    async def open(self) -> None:
        await self.app.open_async()

    async def close(self) -> None:
        await self.app.close_async()

    async def process_receipt(self, receipt_id: uuid.UUID, *, force: bool = False) -> None:
        await self._defer(
            "process_receipt", f"receipt:{receipt_id}", receipt_id=str(receipt_id), force=force
        )

    async def delete_objects(self, keys: Sequence[str]) -> None:
        for key in keys:
            await self._defer("delete_object", f"object:{key}", key=key)

    async def _defer(self, task: str, lock: str, **arguments: Any) -> None:
        """Queues a job once: while one with the same lock waits, that one will do."""
        try:
            await self.app.configure_task(
                task, queueing_lock=lock, allow_unknown=False
            ).defer_async(**arguments)
        except AlreadyEnqueued:
            logger.debug("%s already queued", lock)

    async def retry_stalled(self, after_seconds: float) -> int:
        """Jobs held by workers whose heartbeat stopped (a crash) go back to the queue."""
        manager = self.app.job_manager
        stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=after_seconds))
        for job in stalled:
            await manager.retry_job(job)
        return len(stalled)

    async def run_worker(self, services: Services, **options: Any) -> None:
        await self.app.run_worker_async(additional_context={"services": services}, **options)
