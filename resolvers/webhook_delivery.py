"""Sending an endpoint's deliveries: in order, signed, at least once, with backoff.

One worker at a time sends an endpoint's deliveries (it holds an advisory lock on the
endpoint), oldest first, each in a transaction of its own that is open while the request is: a
worker that dies mid-request never commits the mark, so the delivery stays PENDING and is
sent again (receivers deduplicate by ``webhook-id``). A failure (no 2xx answer in time)
puts the delivery off with exponential backoff, and the later ones wait behind it; an
endpoint failing for ``webhook_disable_after_seconds`` is disabled and what waits for it
FAILED.

Deliveries are signed by the Standard Webhooks scheme (the ``standardwebhooks`` package):
``webhook-id`` is the event's id (the same for every endpoint and every attempt),
``webhook-timestamp`` the time of the attempt in Unix seconds, and ``webhook-signature``
``v1,`` and the base64 HMAC-SHA256, with the endpoint's secret, of ``id.timestamp.body``.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
from cryptography.exceptions import InvalidTag
from prometheus_client import Counter
from standardwebhooks import Webhook as Signer

from db import webhooks
from db.webhooks import Delivery, DeliveryStatus, Webhook
from resolvers import webhook_secrets, webhook_urls

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from resolvers.context import Services

logger = logging.getLogger("lifegraph.webhooks")

FIRST_RETRY_SECONDS = 5.0
LONGEST_RETRY_SECONDS = 3600.0
BUSY_RETRY_SECONDS = 5.0
BATCH = 100
"""Deliveries one job sends before it makes way for other endpoints' jobs."""

ATTEMPTS = Counter(
    "lifegraph_webhook_attempts_total",
    "Webhook delivery attempts, by outcome (delivered, failed).",
    ["outcome"],
)
DISABLED = Counter(
    "lifegraph_webhooks_disabled_total", "Endpoints disabled after failing for too long."
)


@dataclass(frozen=True)
class Attempt:
    ok: bool
    status: int | None
    error: str | None


def backoff(attempts: int) -> timedelta:
    """5 s after the first failure, doubling, at most an hour."""
    seconds = FIRST_RETRY_SECONDS * 2 ** min(attempts - 1, 20)
    return timedelta(seconds=min(seconds, LONGEST_RETRY_SECONDS))


def body_of(delivery: Delivery) -> str:
    return json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False)


def signed_headers(secret: str, event_id: str, at: datetime, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "lifegraph-webhooks",
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Signer(secret).sign(event_id, at, body),
    }


async def deliver(services: Services, webhook_id: uuid.UUID) -> datetime | None:
    """Sends the endpoint's due deliveries in order; returns when its job should run
    again (a retry, the endpoint busy with another worker, or more than a batch), None
    when nothing is left to do."""
    settings = services.settings
    async with webhook_urls.client(
        production=not settings.is_development, timeout=settings.webhook_timeout_seconds
    ) as client:
        for _ in range(BATCH):
            again, sent = await _deliver_next(services, client, webhook_id)
            if not sent:
                return again
    return datetime.now(UTC)


async def _deliver_next(
    services: Services, client: httpx.AsyncClient, webhook_id: uuid.UUID
) -> tuple[datetime | None, bool]:
    """Sends the oldest pending delivery if its time has come: (when to come back, and
    whether one was delivered)."""
    async with services.sessionmaker.begin() as session:
        endpoint = await webhooks.take(session, webhook_id)
        if endpoint is None:
            if await webhooks.get(session, webhook_id) is None:  # deleted
                return None, False
            return datetime.now(UTC) + timedelta(seconds=BUSY_RETRY_SECONDS), False
        if not endpoint.active:
            return None, False
        delivery = await webhooks.next_pending(session, webhook_id)
        if delivery is None:
            return None, False
        now = services.clock()
        if delivery.next_attempt_at > now:
            return delivery.next_attempt_at, False
        attempt = await _send(services, client, endpoint, delivery)
        ATTEMPTS.labels("delivered" if attempt.ok else "failed").inc()
        if attempt.ok:
            await webhooks.save_delivery(
                session,
                delivery,
                status=DeliveryStatus.DELIVERED,
                attempts=delivery.attempts + 1,
                response_status=attempt.status,
                last_error=None,
                delivered_at=now,
            )
            if endpoint.failing_since is not None:
                await webhooks.save(session, endpoint, failing_since=None)
            return None, True
        return await _failed(services, session, endpoint, delivery, attempt, now), False


async def _send(
    services: Services, client: httpx.AsyncClient, endpoint: Webhook, delivery: Delivery
) -> Attempt:
    try:
        secret = webhook_secrets.unseal(services.settings.secret_key, endpoint.id, endpoint.secret)
    except InvalidTag:
        return Attempt(False, None, "The endpoint's secret cannot be read with this server's key.")
    production = not services.settings.is_development
    try:
        webhook_urls.check_form(endpoint.url, production=production)
    except webhook_urls.UnsafeUrl as error:
        return Attempt(False, None, str(error))
    body = body_of(delivery)
    headers = signed_headers(secret, delivery.event_id, datetime.now(UTC), body)
    try:
        response = await client.post(endpoint.url, content=body.encode(), headers=headers)
    except httpx.HTTPError as error:
        return Attempt(False, None, (str(error) or type(error).__name__)[:500])
    if response.is_success:
        return Attempt(True, response.status_code, None)
    return Attempt(False, response.status_code, f"HTTP {response.status_code}")


async def _failed(
    services: Services,
    session: AsyncSession,
    endpoint: Webhook,
    delivery: Delivery,
    attempt: Attempt,
    now: datetime,
) -> datetime | None:
    attempts = delivery.attempts + 1
    retry_at = now + backoff(attempts)
    await webhooks.save_delivery(
        session,
        delivery,
        attempts=attempts,
        response_status=attempt.status,
        last_error=attempt.error,
        next_attempt_at=retry_at,
    )
    failing_since = endpoint.failing_since or now
    limit = timedelta(seconds=services.settings.webhook_disable_after_seconds)
    if now - failing_since < limit:
        await webhooks.save(session, endpoint, failing_since=failing_since)
        return retry_at
    await webhooks.save(session, endpoint, active=False)
    await webhooks.fail_pending(session, endpoint.id, "The endpoint was disabled after failing.")
    DISABLED.inc()
    logger.warning("webhook %s disabled after failing since %s", endpoint.id, failing_since)
    return None


async def queue_due(services: Services) -> int:
    """Queues the job of every active endpoint with a delivery whose time has come (the
    periodic maintenance: for a job that was lost); returns how many."""
    async with services.sessionmaker() as session:
        due = await webhooks.due(session, services.clock())
    await services.jobs.deliver_webhooks(due)
    return len(due)
