"""What the job queue runs: OCR of receipts, deletion of stored objects, email, data
exports, webhook deliveries, the periodic search for due task reminders (every minute)
and daily digests (every five minutes), and the periodic maintenance that picks up whatever a lost
job left behind (a receipt or an export still PENDING, an object still listed for
deletion, a message still unsent, a webhook delivery whose time has come, a job held by a
worker that died) and deletes the exports past their time.

The bodies are handed to :class:`db.jobs.JobQueue` as a blueprint, so the queue never
imports them. Jobs are queued after the transaction that needs them commits. Each job runs in a span
of its own (:func:`traced`), a no-op unless tracing is on.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

import procrastinate
from opentelemetry import trace
from prometheus_client import Histogram

from db import accounts, objects, sessions, uploads
from db.jobs import RETRY, Task
from lifegraph import data_export
from resolvers import accounts as account_rules
from resolvers import exports, outbox, receipts, reminders, webhook_delivery
from resolvers.context import Services

logger = logging.getLogger("lifegraph.jobs")
P = ParamSpec("P")
R = TypeVar("R")

JOB_SECONDS = Histogram(
    "lifegraph_job_seconds",
    "Time each job ran, by task and outcome (succeeded, failed: it raised and is retried "
    "or given up, interrupted: the worker stopped it).",
    ["task", "outcome"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)


def timed(task: Task) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Coroutine[Any, Any, R]]]:
    """Records the run of each job of ``task`` in ``lifegraph_job_seconds``."""

    def decorate(body: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        @functools.wraps(body)
        async def run(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            outcome = "interrupted"
            try:
                result = await body(*args, **kwargs)
            except Exception:
                outcome = "failed"
                raise
            else:
                outcome = "succeeded"
                return result
            finally:
                JOB_SECONDS.labels(task.value, outcome).observe(time.perf_counter() - started)

        return run

    return decorate


JobBody = Callable[Concatenate[procrastinate.JobContext, P], Coroutine[Any, Any, None]]


def traced(body: JobBody[P]) -> JobBody[P]:
    """Runs the job in a span, ``job process_receipt``, its attributes after OpenTelemetry's
    messaging conventions; a failure is recorded on it before procrastinate retries."""

    @functools.wraps(body)
    async def run(context: procrastinate.JobContext, /, *args: P.args, **kwargs: P.kwargs) -> None:
        job = context.job
        attributes: dict[str, str | int] = {
            "messaging.system": "procrastinate",
            "messaging.operation.type": "process",
            "messaging.destination.name": job.queue,
            "messaging.message.id": str(job.id),
            "lifegraph.job.task": job.task_name,
            "lifegraph.job.attempt": job.attempts + 1,
        }
        name = job.task_name.rpartition(":")[2]  # without the blueprint's namespace
        tracer = trace.get_tracer(__name__)
        with tracer.start_as_current_span(
            f"job {name}", kind=trace.SpanKind.CONSUMER, attributes=attributes
        ):
            await body(context, *args, **kwargs)

    return run


def _services(context: procrastinate.JobContext) -> Services:
    services: Services = context.additional_context["services"]
    return services


@timed(Task.PROCESS_RECEIPT)
async def process_receipt(
    context: procrastinate.JobContext, receipt_id: str, force: bool = False
) -> None:
    services = _services(context)
    try:
        await receipts.process(services, uuid.UUID(receipt_id), force=force)
        await webhook_delivery.queue_due(services)  # RECEIPT_PROCESSED, once committed
    except Exception:
        attempts = context.job.attempts + 1
        if attempts < (RETRY.max_attempts or 1):
            await receipts.wait_for_retry(services, uuid.UUID(receipt_id))
            raise
        logger.exception("giving up on receipt %s after %d attempts", receipt_id, attempts)
        await receipts.finish(services, uuid.UUID(receipt_id), failure=receipts.GAVE_UP)


@timed(Task.DELETE_OBJECT)
async def delete_object(context: procrastinate.JobContext, key: str) -> None:
    services = _services(context)
    await services.storage.delete(key)
    async with services.sessionmaker.begin() as session:
        await objects.done(session, key)


@timed(Task.SEND_MAIL)
async def send_mail(context: procrastinate.JobContext, mail_id: str) -> None:
    await outbox.send(_services(context), uuid.UUID(mail_id))


@timed(Task.PASSWORD_RESET)
async def password_reset(context: procrastinate.JobContext, email: str) -> None:
    await account_rules.mail_password_reset(_services(context), email)


@timed(Task.EXPORT_DATA)
async def export_data(context: procrastinate.JobContext, export_id: str) -> None:
    services = _services(context)
    try:
        await data_export.build(services, uuid.UUID(export_id))
    except Exception:
        attempts = context.job.attempts + 1
        if attempts < (RETRY.max_attempts or 1):
            await exports.wait_for_retry(services, uuid.UUID(export_id))
            raise
        logger.exception("giving up on export %s after %d attempts", export_id, attempts)
        await exports.fail(services, uuid.UUID(export_id))


@timed(Task.DELIVER_WEBHOOKS)
async def deliver_webhooks(context: procrastinate.JobContext, webhook_id: str) -> None:
    services = _services(context)
    again = await webhook_delivery.deliver(services, uuid.UUID(webhook_id))
    if again is not None:
        await services.jobs.retry_webhook(uuid.UUID(webhook_id), again)


@timed(Task.SEND_REMINDERS)
async def send_reminders(context: procrastinate.JobContext, timestamp: int) -> None:
    await reminders.send_due_reminders(_services(context))


@timed(Task.SEND_DIGESTS)
async def send_digests(context: procrastinate.JobContext, timestamp: int) -> None:
    await reminders.send_due_digests(_services(context))


@timed(Task.MAINTENANCE)
async def maintenance(context: procrastinate.JobContext, timestamp: int) -> None:
    await recover(_services(context))


async def recover(services: Services) -> None:
    """Re-queues what lost or crashed jobs left behind."""
    queue = services.jobs
    stalled = await queue.retry_stalled(services.settings.job_stalled_after_seconds)
    cutoff = datetime.now(UTC) - timedelta(minutes=2)
    for receipt_id in await receipts.stale_receipts(services, cutoff):
        await queue.process_receipt(receipt_id)
    for export_id in await exports.stale_exports(services, cutoff):
        await queue.export_data(export_id)
    expired_exports = await exports.expire(services)
    async with services.sessionmaker.begin() as session:
        expired = await uploads.expired_keys(session)
        await uploads.remove_many(session, expired)
        await objects.schedule_deletion(session, expired)
    async with services.sessionmaker() as session:
        overdue = await objects.overdue(session, cutoff)
    window = timedelta(seconds=services.settings.sign_in_window_seconds)
    async with services.sessionmaker.begin() as session:
        await sessions.remove_failures(session, before=datetime.now(UTC) - window)
    await queue.delete_objects([*expired, *overdue, *expired_exports])
    await recover_mail(services)
    await webhook_delivery.queue_due(services)
    if stalled:
        logger.info("retried %d stalled jobs", stalled)


async def recover_mail(services: Services) -> None:
    """Re-queues messages whose job was lost, and forgets old throttle notes and tokens."""
    now = services.clock()
    for mail_id in await outbox.unsent(services, written_before=now - timedelta(minutes=2)):
        await services.jobs.send_mail(mail_id)
    window = timedelta(seconds=services.settings.password_reset_window_seconds)
    async with services.sessionmaker.begin() as session:
        await accounts.remove_requests(session, before=now - max(window, timedelta(days=1)))
        await accounts.remove_tokens(session, expired_before=now - timedelta(days=1))


def blueprint() -> procrastinate.Blueprint:
    """A fresh blueprint per queue: procrastinate binds a task to the app it joins."""
    tasks = procrastinate.Blueprint()
    tasks.task(name=Task.PROCESS_RECEIPT.value, queue="ocr", pass_context=True, retry=RETRY)(
        traced(process_receipt)
    )
    tasks.task(name=Task.DELETE_OBJECT.value, queue="storage", pass_context=True, retry=RETRY)(
        traced(delete_object)
    )
    tasks.task(name=Task.SEND_MAIL.value, queue="mail", pass_context=True, retry=RETRY)(
        traced(send_mail)
    )
    tasks.task(name=Task.PASSWORD_RESET.value, queue="mail", pass_context=True, retry=RETRY)(
        traced(password_reset)
    )
    tasks.task(name=Task.EXPORT_DATA.value, queue="exports", pass_context=True, retry=RETRY)(
        traced(export_data)
    )
    tasks.task(name=Task.DELIVER_WEBHOOKS.value, queue="webhooks", pass_context=True, retry=RETRY)(
        traced(deliver_webhooks)
    )
    # Periodic jobs look for what is due by the clock, so a run missed while no worker was
    # up loses nothing: the next one finds it. Their queueing locks keep one waiting at most.
    _periodic(tasks, Task.SEND_REMINDERS, "reminders", "* * * * *", "mail", send_reminders)
    _periodic(tasks, Task.SEND_DIGESTS, "digests", "*/5 * * * *", "mail", send_digests)
    _periodic(tasks, Task.MAINTENANCE, "maintenance", "*/5 * * * *", "maintenance", maintenance)
    return tasks


def _periodic(
    tasks: procrastinate.Blueprint,
    task: Task,
    periodic_id: str,
    cron: str,
    queue: str,
    body: Callable[[procrastinate.JobContext, int], Coroutine[Any, Any, None]],
) -> None:
    """``body`` as ``task``, run by the clock (``cron``), one waiting at most;
    ``periodic_id`` names its schedule (and its queueing lock) in the queue's tables."""
    tasks.periodic(cron=cron, periodic_id=periodic_id)(
        tasks.task(name=task.value, queue=queue, pass_context=True, queueing_lock=periodic_id)(
            traced(body)
        )
    )
