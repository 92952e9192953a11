"""Webhook endpoints: registering, changing and listing them, for their owner only.

The deliveries themselves are written by :func:`db.events.publish` and sent by the
worker (:mod:`resolvers.webhook_delivery`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from db import users, webhooks
from db.events import ActivityKind
from db.pagination import Page
from db.webhooks import Delivery, Webhook
from resolvers import ids, records, webhook_secrets, webhook_urls
from resolvers.errors import ErrorCode, Problems
from resolvers.pagination import cursor_checked, page_size

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from resolvers.context import Context
    from schema.webhooks import CreateWebhookInput, UpdateWebhookInput

KIND = "webhook"
DELIVERY_KIND = "webhookdelivery"
MAX_DESCRIPTION = 500
NOT_FOUND = "No such webhook."
PATH = ("input",)


@dataclass(frozen=True)
class Created:
    webhook: Webhook
    secret: str
    """Shown once, in the payload of ``createWebhook``."""


async def clean(
    ctx: Context, values: Mapping[str, Any], problems: Problems, *, creating: bool
) -> dict[str, Any]:
    """Checked column values of the fields present (all of them to create); every
    problem is reported, the URL's included."""
    cleaned: dict[str, Any] = {}
    if creating or values.get("url") is not None:
        cleaned["url"] = await _url(ctx, values.get("url"), problems)
    if creating or values.get("kinds") is not None:
        kinds = [ActivityKind(kind).value for kind in values.get("kinds") or []]
        if not kinds:
            problems.add((*PATH, "kinds"), "Choose at least one kind of event.")
        cleaned["kinds"] = list(dict.fromkeys(kinds))
    if "description" in values:
        cleaned["description"] = records.text(
            values, "description", problems, PATH, limit=MAX_DESCRIPTION, nullable=True
        )
    if values.get("active") is not None:
        cleaned["active"] = records.flag(values, "active", problems, PATH)
    return cleaned


async def _url(ctx: Context, url: object, problems: Problems) -> str | None:
    if not isinstance(url, str):
        problems.add((*PATH, "url"), "Give the endpoint's URL.")
        return None
    url = url.strip()
    try:
        await webhook_urls.check(url, production=not ctx.settings.is_development)
    except webhook_urls.UnsafeUrl as error:
        problems.add((*PATH, "url"), str(error))
    return url


async def webhook_list(ctx: Context) -> Sequence[Webhook]:
    principal = await ctx.principal()
    async with ctx.sessionmaker() as session:
        return await webhooks.owned_all(session, principal.user_id)


async def webhook(ctx: Context, global_id: str) -> Webhook | None:
    return await records.read(ctx, global_id, KIND, webhooks.owned)


async def deliveries(
    ctx: Context, webhook_id: uuid.UUID, first: int | None, after: str | None
) -> Page[Delivery]:
    """A page of the endpoint's deliveries, newest first, loaded with those of the other
    endpoints of the list (one loader)."""
    size = page_size(first)
    with cursor_checked():
        return await ctx.loaders.webhook_deliveries.load((webhook_id, size, after))


async def deliveries_of(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, int, str | None]]
) -> dict[tuple[uuid.UUID, int, str | None], Page[Delivery]]:
    """The loader's batch: one query for each distinct (first, after), mostly one."""
    found: dict[tuple[uuid.UUID, int, str | None], Page[Delivery]] = {}
    for first, after in dict.fromkeys((first, after) for _, first, after in keys):
        endpoints = [webhook_id for webhook_id, f, a in keys if (f, a) == (first, after)]
        pages = await webhooks.deliveries_of(session, endpoints, first, after)
        found.update({(webhook_id, first, after): pages[webhook_id] for webhook_id in endpoints})
    return found


async def create(ctx: Context, data: CreateWebhookInput) -> Created:
    principal = await ctx.principal()
    problems = Problems()
    cleaned = await clean(ctx, records.input_values(data), problems, creating=True)
    limit = ctx.settings.webhooks_per_user
    webhook_id = uuid.uuid4()
    secret = webhook_secrets.new_secret()
    async with ctx.sessionmaker.begin() as session:
        await users.get(session, principal.user_id, lock=True)  # counts one at a time
        if await webhooks.count(session, principal.user_id) >= limit:
            problems.add(None, f"An account has at most {limit} webhooks.", ErrorCode.LIMIT_REACHED)
        problems.raise_if_any()
        row = await webhooks.add(
            session,
            Webhook(
                id=webhook_id,
                user_id=principal.user_id,
                secret=webhook_secrets.seal(ctx.settings.secret_key, webhook_id, secret),
                active=True,
                **cleaned,
            ),
        )
    return Created(row, secret)


async def update(ctx: Context, global_id: str, data: UpdateWebhookInput) -> Webhook:
    """Re-enabling an endpoint (``active: true``) clears its failing state and sends what
    waits for it."""
    principal = await ctx.principal()
    problems = Problems()
    cleaned = await clean(ctx, records.input_values(data), problems, creating=False)
    problems.raise_if_any()
    async with ctx.sessionmaker.begin() as session:
        row = await _locked(session, principal.user_id, global_id)
        if cleaned.get("active") and not row.active:
            cleaned["failing_since"] = None
        row = await webhooks.save(session, row, **cleaned)
    if row.active:
        await ctx.services.jobs.deliver_webhooks([row.id])
    return row


async def delete(ctx: Context, global_id: str) -> str:
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        await webhooks.remove(session, await _locked(session, principal.user_id, global_id))
    return global_id


async def _locked(session: AsyncSession, user_id: uuid.UUID, global_id: str) -> Webhook:
    return await records.locked(session, user_id, global_id, KIND, webhooks.owned, NOT_FOUND)


def global_id(row: Webhook) -> str:
    return ids.encode(KIND, row.id)


def delivery_id(row: Delivery) -> str:
    return ids.encode(DELIVERY_KIND, row.id)
