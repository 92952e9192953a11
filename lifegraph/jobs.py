"""What the job queue runs: OCR of receipts, deletion of stored objects, and the periodic
maintenance that picks up whatever a lost job left behind (a receipt still PENDING, an
object still listed for deletion, a job held by a worker that died).

The bodies are handed to :class:`db.jobs.JobQueue` as a blueprint, so the queue never
imports them. Jobs are queued after the transaction that needs them commits.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import procrastinate

from db import objects, sessions, uploads
from db.jobs import RETRY, Task
from resolvers import receipts
from resolvers.context import Services

logger = logging.getLogger("lifegraph.jobs")


def _services(context: procrastinate.JobContext) -> Services:
    services: Services = context.additional_context["services"]
    return services


async def process_receipt(
    context: procrastinate.JobContext, receipt_id: str, force: bool = False
) -> None:
    services = _services(context)
    try:
        await receipts.process(services, uuid.UUID(receipt_id), force=force)
    except Exception:
        attempts = context.job.attempts + 1
        if attempts < (RETRY.max_attempts or 1):
            await receipts.wait_for_retry(services, uuid.UUID(receipt_id))
            raise
        logger.exception("giving up on receipt %s after %d attempts", receipt_id, attempts)
        await receipts.finish(services, uuid.UUID(receipt_id), failure=receipts.GAVE_UP)


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
    for receipt_id in await receipts.stale_receipts(services, cutoff):
        await queue.process_receipt(receipt_id)
    async with services.sessionmaker.begin() as session:
        expired = await uploads.expired_keys(session)
        await uploads.remove_many(session, expired)
        await objects.schedule_deletion(session, expired)
    async with services.sessionmaker() as session:
        overdue = await objects.overdue(session, cutoff)
    window = timedelta(seconds=services.settings.sign_in_window_seconds)
    async with services.sessionmaker.begin() as session:
        await sessions.remove_failures(session, before=datetime.now(UTC) - window)
    await queue.delete_objects([*expired, *overdue])
    if stalled:
        logger.info("retried %d stalled jobs", stalled)


def blueprint() -> procrastinate.Blueprint:
    """A fresh blueprint per queue: procrastinate binds a task to the app it joins."""
    tasks = procrastinate.Blueprint()
    tasks.task(name=Task.PROCESS_RECEIPT.value, queue="ocr", pass_context=True, retry=RETRY)(
        process_receipt
    )
    tasks.task(name=Task.DELETE_OBJECT.value, queue="storage", pass_context=True, retry=RETRY)(
        delete_object
    )
    tasks.periodic(cron="*/5 * * * *", periodic_id="maintenance")(
        tasks.task(
            name=Task.MAINTENANCE.value,
            queue="maintenance",
            pass_context=True,
            queueing_lock="maintenance",
        )(maintenance)
    )
    return tasks
