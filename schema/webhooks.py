"""Webhooks: endpoints that receive the account's activities, signed, at least once."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Self

import strawberry

from db import webhooks as rows
from db.events import ActivityKind
from db.webhooks import DeliveryStatus
from resolvers import webhooks as resolvers
from resolvers.context import Info
from schema.errors import DeletePayload, Payload, UserError
from schema.node import Node, fetches_node
from schema.pagination import Connection
from schema.permissions import SignedIn, requires

strawberry.enum(DeliveryStatus)


@strawberry.type(description="One event sent (or to be sent) to one endpoint.")
class WebhookDelivery:
    id: strawberry.ID
    event_id: str = strawberry.field(
        description="The event's id, sent as the webhook-id header: the same for every "
        "endpoint and every attempt, for receivers to deduplicate."
    )
    kind: ActivityKind
    status: DeliveryStatus
    attempts: int
    response_status: int | None = strawberry.field(
        description="The HTTP status of the last attempt's answer; null when none came."
    )
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime | None = strawberry.field(
        description="When the next attempt is due, while PENDING."
    )
    delivered_at: datetime | None

    @classmethod
    def from_row(cls, row: rows.Delivery) -> Self:
        pending = row.status is DeliveryStatus.PENDING
        return cls(
            id=strawberry.ID(resolvers.delivery_id(row)),
            event_id=row.event_id,
            kind=ActivityKind(row.kind),
            status=row.status,
            attempts=row.attempts,
            response_status=row.response_status,
            last_error=row.last_error,
            created_at=row.created_at,
            next_attempt_at=row.next_attempt_at if pending else None,
            delivered_at=row.delivered_at,
        )


@strawberry.type
class Webhook(Node):
    id: strawberry.ID
    url: str
    kinds: list[ActivityKind]
    active: bool = strawberry.field(
        description="False once disabled, by its owner or after failing for too long."
    )
    description: str | None
    created_at: datetime
    failing_since: datetime | None = strawberry.field(
        description="Since when every attempt has failed; null while deliveries succeed."
    )
    row_id: strawberry.Private[uuid.UUID]

    @strawberry.field(description="Newest first.")
    async def deliveries(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[WebhookDelivery]:
        page = await resolvers.deliveries(info.context, self.row_id, first, after)
        return Connection.of(page, WebhookDelivery.from_row)

    @classmethod
    def from_row(cls, row: rows.Webhook) -> Self:
        return cls(
            id=strawberry.ID(resolvers.global_id(row)),
            url=row.url,
            kinds=[ActivityKind(kind) for kind in row.kinds],
            active=row.active,
            description=row.description,
            created_at=row.created_at,
            failing_since=row.failing_since,
            row_id=row.id,
        )


@strawberry.input
class CreateWebhookInput:
    url: str = strawberry.field(description="https:// (http:// in development only).")
    kinds: list[ActivityKind]
    description: str | None = strawberry.UNSET


@strawberry.input
class UpdateWebhookInput:
    url: str | None = strawberry.UNSET
    kinds: list[ActivityKind] | None = strawberry.UNSET
    active: bool | None = strawberry.field(
        default=strawberry.UNSET, description="true re-enables a disabled endpoint."
    )
    description: str | None = strawberry.UNSET


@strawberry.type
class CreateWebhookPayload(Payload):
    webhook: Webhook | None = None
    secret: str | None = strawberry.field(
        default=None,
        description="Signs every delivery (Standard Webhooks, whsec_...); shown only here.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: resolvers.Created) -> Self:
        return cls(webhook=Webhook.from_row(result.webhook), secret=result.secret)


@strawberry.type
class WebhookPayload(Payload):
    webhook: Webhook | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: rows.Webhook) -> Self:
        return cls(webhook=Webhook.from_row(result))


@fetches_node("webhook")
async def _webhook_node(info: Info, global_id: str) -> Webhook | None:
    row = await resolvers.webhook(info.context, global_id)
    return Webhook.from_row(row) if row else None


@strawberry.type
class Query:
    @strawberry.field(
        extensions=requires(SignedIn()), description="The signed-in user's endpoints."
    )
    async def webhooks(self, info: Info) -> list[Webhook]:
        return [Webhook.from_row(row) for row in await resolvers.webhook_list(info.context)]


@strawberry.type
class Mutation:
    @strawberry.mutation(extensions=requires(SignedIn()))
    async def create_webhook(self, info: Info, input: CreateWebhookInput) -> CreateWebhookPayload:
        return await CreateWebhookPayload.run(resolvers.create(info.context, input))

    @strawberry.mutation(extensions=requires(SignedIn()))
    async def update_webhook(
        self, info: Info, id: strawberry.ID, input: UpdateWebhookInput
    ) -> WebhookPayload:
        return await WebhookPayload.run(resolvers.update(info.context, id, input))

    @strawberry.mutation(extensions=requires(SignedIn()))
    async def delete_webhook(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await DeletePayload.run(resolvers.delete(info.context, id))
