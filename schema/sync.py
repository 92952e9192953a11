"""Offline sync of notes, tasks, habits, projects, check-ins and purchases: syncPull and
syncPush."""

from __future__ import annotations

from datetime import datetime
from typing import Self, cast

import strawberry
from strawberry.scalars import JSON

from db.sync import Collection
from resolvers import sync as resolvers
from resolvers.context import Info
from schema.errors import Payload, UserError
from schema.permissions import SignedIn, requires

strawberry.enum(Collection, name="SyncCollection")


@strawberry.type
class SyncChange:
    collection: Collection
    id: strawberry.ID
    version: int
    deleted: bool
    updated_at: datetime
    fields: JSON | None = strawberry.field(
        description=(
            "The record as its create input has it (a note with its `images`, a purchase"
            " with its `items`); null for a deleted record."
        )
    )


@strawberry.type
class SyncPullResult:
    cursor: str = strawberry.field(description="Store it; pull from it next time.")
    has_more: bool = strawberry.field(description="Pull again at once: more changes wait.")
    changes: list[SyncChange]

    @classmethod
    def of(cls, pulled: resolvers.Pulled) -> Self:
        return cls(
            cursor=pulled.cursor,
            has_more=pulled.has_more,
            changes=[
                SyncChange(
                    collection=change.collection,
                    id=strawberry.ID(change.id),
                    version=change.version,
                    deleted=change.deleted,
                    updated_at=change.updated_at,
                    fields=cast("JSON | None", change.fields),
                )
                for change in pulled.changes
            ],
        )


@strawberry.type(
    description=(
        "A change applied, and the record's version now. A new check-in for a habit and"
        " day that already has one (another device's) is added to that one instead: its"
        " own ID is then deleted, and the next pull brings both changes."
    )
)
class SyncApplied:
    collection: Collection
    id: strawberry.ID
    version: int


@strawberry.type
class SyncConflict:
    collection: Collection
    id: strawberry.ID
    server_version: int | None
    server_fields: JSON | None
    reason: str = strawberry.field(
        description="STALE: the server has a newer version; DELETED: it was deleted."
    )


@strawberry.input
class SyncChangeInput:
    collection: Collection
    id: strawberry.ID
    version: int | None = None
    deleted: bool | None = None
    fields: JSON | None = None


@strawberry.input
class SyncPushInput:
    client_id: str
    mutation_id: int
    last_pulled_at: str | None = None
    changes: list[SyncChangeInput]


@strawberry.type
class SyncPushPayload(Payload):
    cursor: str | None = None
    applied: list[SyncApplied] = strawberry.field(default_factory=list)
    conflicts: list[SyncConflict] = strawberry.field(default_factory=list)
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: resolvers.PushResult) -> Self:
        return cls(
            cursor=result.cursor,
            applied=[
                SyncApplied(
                    collection=item.collection, id=strawberry.ID(item.id), version=item.version
                )
                for item in result.applied
            ],
            conflicts=[
                SyncConflict(
                    collection=item.collection,
                    id=strawberry.ID(item.id),
                    server_version=item.server_version,
                    server_fields=cast("JSON | None", item.server_fields),
                    reason=item.reason.value,
                )
                for item in result.conflicts
            ],
        )


@strawberry.type
class Query:
    @strawberry.field(
        extensions=requires(SignedIn()),
        description="Every change after `since` (tombstones too), oldest first, 500 at most.",
    )
    async def sync_pull(
        self,
        info: Info,
        since: str | None = None,
        collections: list[Collection] | None = None,
    ) -> SyncPullResult:
        names = [c.value for c in collections] if collections else None
        return SyncPullResult.of(await resolvers.pull(info.context, since, names))


@strawberry.type
class Mutation:
    @strawberry.mutation(
        extensions=requires(SignedIn()),
        description=(
            "Applies the changes atomically, once per (clientId, mutationId); a record is"
            " created before the changes that refer to it, in whatever order they come."
        ),
    )
    async def sync_push(self, info: Info, input: SyncPushInput) -> SyncPushPayload:
        return await SyncPushPayload.run(resolvers.push(info.context, input))
