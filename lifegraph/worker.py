"""Job workers: ``lifegraph worker`` as separate processes, or one inside ``serve``."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lifegraph.jobs import recover
from resolvers.context import Services

logger = logging.getLogger("lifegraph.worker")


async def run_worker(services: Services, **options: Any) -> None:
    """Recovers what crashed workers left, then works until cancelled or signalled."""
    try:
        await recover(services)
    except Exception:
        logger.exception("recovery at worker start failed; the periodic task will retry")
    options.setdefault("concurrency", 2)
    options.setdefault("install_signal_handlers", False)
    await services.jobs.run_worker(services, **options)


async def run_standalone(services: Services, concurrency: int) -> None:
    await services.jobs.open()
    try:
        await run_worker(services, concurrency=concurrency, install_signal_handlers=True)
    finally:
        await services.jobs.close()
        await services.engine.dispose()


def main(services: Services, concurrency: int) -> None:
    asyncio.run(run_standalone(services, concurrency))
