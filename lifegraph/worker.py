"""Job workers: ``lifegraph worker`` as separate processes, or one inside ``serve``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from lifegraph.jobs import recover
from lifegraph.tracing import start_tracing
from resolvers.context import Services

logger = logging.getLogger("lifegraph.worker")


async def run_worker(services: Services, **options: Any) -> None:
    """Recovers what crashed workers left, then works until cancelled or signalled, and
    meanwhile re-queues the jobs of workers that died: a job is retried within two
    ``job_stalled_after_seconds`` of its worker's last heartbeat."""
    try:
        await recover(services)
    except Exception:
        logger.exception("recovery at worker start failed; the periodic task will retry")
    stalled_after = services.settings.job_stalled_after_seconds
    options.setdefault("concurrency", 2)
    options.setdefault("install_signal_handlers", False)
    options.setdefault("update_heartbeat_interval", min(10.0, stalled_after / 4))
    options.setdefault("stalled_worker_timeout", stalled_after)
    # Stopping lets running jobs finish for as long as a server drains its requests.
    options.setdefault("shutdown_graceful_timeout", services.settings.shutdown_grace_seconds)
    watchdog = asyncio.create_task(_retry_stalled(services, stalled_after), name="stalled jobs")
    try:
        await services.jobs.run_worker(services, **options)
    finally:
        watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watchdog


async def _retry_stalled(services: Services, stalled_after: float) -> None:
    while True:
        await asyncio.sleep(stalled_after / 2)
        try:
            if retried := await services.jobs.retry_stalled(stalled_after):
                logger.warning("retried %d jobs of workers that stopped", retried)
        except Exception:
            logger.exception("could not look for stalled jobs; trying again")


async def run_standalone(services: Services, concurrency: int) -> None:
    tracing = start_tracing(services.settings, services.engine)
    await services.jobs.open()
    try:
        await run_worker(services, concurrency=concurrency, install_signal_handlers=True)
    finally:
        await services.jobs.close()
        await services.engine.dispose()
        if tracing is not None:
            tracing.shutdown()


def main(services: Services, concurrency: int) -> None:
    asyncio.run(run_standalone(services, concurrency))
