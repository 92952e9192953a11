"""Data exports: everything an account holds, in one zip file to download."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry

from db import exports as rows
from db.exports import ExportStatus
from resolvers import exports as resolvers
from resolvers import ids
from resolvers.context import Info
from schema.errors import Payload, UserError
from schema.node import Node, fetches_node
from schema.permissions import SignedIn, requires

strawberry.enum(ExportStatus)


@strawberry.type(
    description="A zip file of every record of the account (JSON, and CSV for "
    "spreadsheets) and its stored images, built in the background."
)
class DataExport(Node):
    id: strawberry.ID
    status: ExportStatus
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    expires_at: datetime | None = strawberry.field(
        description="When the file is deleted (READY exports)."
    )
    size: int | None = strawberry.field(description="Of the zip file, in bytes.")
    failure_reason: str | None
    row: strawberry.Private[rows.DataExport]

    @strawberry.field(
        description="A short-lived link to the zip file, while it is READY; null otherwise."
    )
    async def download_url(self, info: Info) -> str | None:
        return await resolvers.download_url(info.context, self.row)

    @classmethod
    def from_row(cls, row: rows.DataExport) -> Self:
        return cls(
            id=strawberry.ID(ids.encode(resolvers.KIND, row.id)),
            status=row.status,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            expires_at=row.expires_at,
            size=row.size,
            failure_reason=row.failure_reason,
            row=row,
        )


@strawberry.type
class DataExportPayload(Payload):
    export: DataExport | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: rows.DataExport) -> Self:
        return cls(export=DataExport.from_row(result))


@fetches_node(resolvers.KIND)
async def _export_node(info: Info, global_id: str) -> DataExport | None:
    row = await resolvers.data_export(info.context, global_id)
    return DataExport.from_row(row) if row else None


@strawberry.type
class Query:
    @strawberry.field(extensions=requires(SignedIn()), description="Yours only; null otherwise.")
    async def data_export(self, info: Info, id: strawberry.ID) -> DataExport | None:
        return await _export_node(info, id)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        extensions=requires(SignedIn()),
        description="Starts building an export of everything the account holds. One at a "
        "time: while one is PENDING or RUNNING, asking again returns that one (a retried "
        "request starts nothing new). A READY export can be downloaded until `expiresAt`.",
    )
    async def export_my_data(self, info: Info) -> DataExportPayload:
        return await DataExportPayload.run(resolvers.start(info.context))
