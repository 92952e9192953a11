"""Prometheus metrics at ``/metrics``: what each GraphQL operation did (an observer of
:mod:`schema.observe`), the job queue's depth (read at scrape time), and the metrics the
other layers define where they measure (database pool, DataLoaders, OCR, jobs, events,
websockets, subscriptions).

With ``PROMETHEUS_MULTIPROC_DIR`` set, every process writes its metrics to files in that
folder and a scrape, whichever process answers it, adds them all up (prometheus_client's
multi-process mode); ``lifegraph serve --workers N`` sets it (:func:`share_between_workers`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from lifegraph.http import error_response
from lifegraph.settings import Settings
from resolvers.context import Services
from resolvers.errors import ApiErrorCode
from schema.observe import OperationReport

logger = logging.getLogger("lifegraph.metrics")

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
ANONYMOUS = "anonymous"
OTHER = "other"
MAX_OPERATION_NAMES = 500
SCRAPE_QUERY_SECONDS = 5.0

OPERATION_SECONDS = Histogram(
    "lifegraph_graphql_operation_seconds",
    "Time GraphQL operations took, by operation name and kind (a subscription: how long "
    "it lived); its count is the number of operations.",
    ["operation", "kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
OPERATION_ERRORS = Counter(
    "lifegraph_graphql_errors_total",
    "Errors in GraphQL answers, by operation and extensions.code.",
    ["operation", "code"],
)
QUERY_COST = Histogram(
    "lifegraph_graphql_query_cost_points",
    "The points GraphQL operations were priced at (see LIFEGRAPH_MAX_QUERY_COST), by operation.",
    ["operation"],
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000),
)

_GRAPHQL_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")


class OperationNames:
    """Operation names as label values, whose number clients must not be able to grow
    without end: an anonymous operation is ``anonymous``; the first ``limit`` distinct
    names a process sees are kept, and any further one (or one that is no GraphQL name)
    is ``other``."""

    def __init__(self, limit: int = MAX_OPERATION_NAMES) -> None:
        self.limit = limit
        self.known: set[str] = set()

    def label(self, name: str | None) -> str:
        if name is None:
            return ANONYMOUS
        if name in self.known:
            return name
        if len(self.known) >= self.limit or not _GRAPHQL_NAME.fullmatch(name):
            return OTHER
        self.known.add(name)
        return name


_operation_names = OperationNames()


def record_operation(report: OperationReport) -> None:
    """The observer: one report per GraphQL operation."""
    operation = _operation_names.label(report.name)
    OPERATION_SECONDS.labels(operation, report.kind).observe(report.seconds)
    for code in report.error_codes:
        OPERATION_ERRORS.labels(operation, code or "UNCODED").inc()
    if report.cost is not None:
        QUERY_COST.labels(operation).observe(report.cost)


class QueueDepth(Collector):
    """The job queue's depth as the database had it when the scrape began."""

    def __init__(self, depth: Mapping[tuple[str, str], int]) -> None:
        self.depth = depth

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "lifegraph_job_queue_depth",
            "Jobs waiting (todo) or running (doing), by queue and status.",
            labels=["queue", "status"],
        )
        for (queue, status), jobs in sorted(self.depth.items()):
            family.add_metric([queue, status], jobs)
        yield family


async def metrics_endpoint(request: Request) -> Response:
    """``/metrics`` in Prometheus's text format. Mounted only when
    ``Settings.metrics_served``; with a ``metrics_token`` it asks for it as a bearer token."""
    services: Services = request.app.state.services
    token = services.settings.metrics_token
    if token is not None and not _bearer_matches(request.headers.get("authorization"), token):
        return error_response(
            "The metrics need the metrics bearer token.",
            401,
            ApiErrorCode.UNAUTHENTICATED,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    scrape_time = CollectorRegistry()
    depth = await _queue_depth(services)
    if depth is not None:
        scrape_time.register(QueueDepth(depth))
    body = await asyncio.to_thread(_exposition, scrape_time)
    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def _bearer_matches(authorization: str | None, token: str) -> bool:
    scheme, _, given = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), token.encode()
    )


async def _queue_depth(services: Services) -> Mapping[tuple[str, str], int] | None:
    """None when the database does not answer: the rest of the metrics still matter then."""
    try:
        return await asyncio.wait_for(services.jobs.depth(), SCRAPE_QUERY_SECONDS)
    except Exception as error:
        logger.warning("the job queue's depth could not be read: %r", error)
        return None


def _exposition(scrape_time: CollectorRegistry) -> bytes:
    folder = os.environ.get(MULTIPROC_DIR)
    if not folder:
        return generate_latest(REGISTRY) + generate_latest(scrape_time)
    forget_dead_processes(Path(folder))
    processes = CollectorRegistry()
    MultiProcessCollector(processes, folder)  # type: ignore[no-untyped-call]
    return generate_latest(processes) + generate_latest(scrape_time)


def forget_dead_processes(folder: Path) -> None:
    """Drops the live gauges (connections in use, open websockets...) of processes that
    are gone, such as a worker that crashed and was replaced; counters and histograms
    keep what the dead counted."""
    for path in folder.glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            mark_process_dead(int(pid), str(folder))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def share_between_workers(settings: Settings, workers: int) -> None:
    """Before ``serve`` starts several processes: unless ``PROMETHEUS_MULTIPROC_DIR`` names
    a folder already, they share their metrics in ``DATA_DIR/metrics``, emptied first (what
    a previous run left would count again)."""
    given = os.environ.get(MULTIPROC_DIR)
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        return
    if workers <= 1:
        return
    folder = settings.data_dir.resolve() / "metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ[MULTIPROC_DIR] = str(folder)
