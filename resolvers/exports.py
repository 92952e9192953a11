"""Data exports: asking for one, following it, and the steps of the job that builds it
(``lifegraph.exports`` writes the zip file, reading through the schema as the user).

One export at a time per user: asking again while one is waiting or being built
answers with that one, so a retried request or a second tap is safe and starts nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from auth.permissions import Permission
from db import exports, notes, objects, receipts, users
from db.exports import DataExport, ExportStatus
from db.notes import ImageFile
from db.receipts import StoredFile
from db.users import Principal
from resolvers import ids
from resolvers.errors import ErrorCode, UserErrors

if TYPE_CHECKING:
    from resolvers.context import Context, Services

logger = logging.getLogger("lifegraph.exports")
KIND = "dataexport"
CONTENT_TYPE = "application/zip"
GAVE_UP = "The export could not be built; please start a new one."
READS = frozenset(
    {
        Permission.PROFILE_READ,
        Permission.RECEIPTS,
        Permission.PURCHASES,
        Permission.HABITS,
        Permission.TASKS,
        Permission.NOTES,
    }
)
"""What the export reads as the user, whatever their roles let them do in the apps: what
an account holds is its owner's to take."""


def object_key(user_id: uuid.UUID, export_id: uuid.UUID) -> str:
    return f"exports/{user_id}/{export_id}.zip"


async def start(ctx: Context) -> DataExport:
    """A new PENDING export, queued; or the one still waiting or being built."""
    principal = await ctx.principal()
    async with ctx.sessionmaker.begin() as session:
        # The user's row, locked, orders two requests of the same user.
        user = await users.get(session, principal.user_id, lock=True)
        if user is None:
            raise UserErrors.one(None, "Your account no longer exists.", ErrorCode.NOT_FOUND)
        current = await exports.active(session, user.id)
        if current is not None:
            return current
        export_id = uuid.uuid4()
        row = await exports.add(
            session,
            DataExport(
                id=export_id,
                user_id=user.id,
                status=ExportStatus.PENDING,
                object_key=object_key(user.id, export_id),
            ),
        )
    await ctx.services.jobs.export_data(row.id)
    return row


async def data_export(ctx: Context, global_id: str) -> DataExport | None:
    """The user's own export; None for anyone else's."""
    principal = await ctx.principal()
    export_id = ids.decode_as(KIND, global_id)
    if export_id is None:
        return None
    async with ctx.sessionmaker() as session:
        return await exports.owned(session, principal.user_id, export_id)


async def download_url(ctx: Context, row: DataExport) -> str | None:
    """A signed link while the file is READY and not expired (``resolvers.links``: reused
    while valid long enough). A link may outlive the export by its own lifetime at most;
    the file is gone by then, once maintenance has passed."""
    if row.status is not ExportStatus.READY or row.expires_at is None:
        return None
    if row.expires_at <= ctx.services.clock():
        return None
    (url,) = await ctx.services.links.urls(
        ctx.services.storage, [row.object_key], ctx.settings.export_url_ttl_seconds
    )
    return url


# The job's steps


@dataclass(frozen=True)
class Claimed:
    """An export being built: where it goes, and whom it reads as."""

    id: uuid.UUID
    object_key: str
    principal: Principal


@dataclass(frozen=True)
class AccountFiles:
    receipts: Sequence[StoredFile]
    note_images: Sequence[ImageFile]


async def claim(services: Services, export_id: uuid.UUID) -> Claimed | None:
    """Marks the export RUNNING, unless it is gone or finished already (a job run twice)."""
    async with services.sessionmaker.begin() as session:
        row = await exports.get(session, export_id, lock=True)
        if row is None or row.status not in exports.ACTIVE:
            return None
        principal = await users.principal(session, row.user_id, None)
        if principal is None:
            return None
        started = row.started_at if row.status is ExportStatus.RUNNING else None
        await exports.save(
            session, row, status=ExportStatus.RUNNING, started_at=started or services.clock()
        )
        reader = dataclasses.replace(principal, permissions=principal.permissions | READS)
        return Claimed(row.id, row.object_key, reader)


async def files_of(services: Services, user_id: uuid.UUID) -> AccountFiles:
    async with services.sessionmaker() as session:
        return AccountFiles(
            receipts=await receipts.files_of(session, user_id),
            note_images=await notes.image_files_of(session, user_id),
        )


async def finish(services: Services, claimed: Claimed, size: int) -> None:
    """READY until the export's lifetime is over. A file whose export failed or went
    meanwhile (the account was deleted while it was built) is deleted again."""
    now = services.clock()
    async with services.sessionmaker.begin() as session:
        row = await exports.get(session, claimed.id, lock=True)
        if row is not None and row.status is ExportStatus.RUNNING:
            await exports.save(
                session,
                row,
                status=ExportStatus.READY,
                size=size,
                finished_at=now,
                expires_at=now + timedelta(seconds=services.settings.export_ttl_seconds),
                failure_reason=None,
            )
            logger.info("export %s ready: %d bytes", claimed.id, size)
            return
        if row is not None and row.status is ExportStatus.READY:
            return  # another run of the job finished first, with the same file
        await objects.schedule_deletion(session, [claimed.object_key])
    await services.jobs.delete_objects([claimed.object_key])


async def wait_for_retry(services: Services, export_id: uuid.UUID) -> None:
    """Back to PENDING while the queue waits to try again."""
    async with services.sessionmaker.begin() as session:
        row = await exports.get(session, export_id, lock=True)
        if row is not None and row.status is ExportStatus.RUNNING:
            await exports.save(session, row, status=ExportStatus.PENDING)


async def fail(services: Services, export_id: uuid.UUID, reason: str = GAVE_UP) -> None:
    """FAILED with a reason the user can read; whatever was stored of it is deleted, and
    the user may start a new one."""
    async with services.sessionmaker.begin() as session:
        row = await exports.get(session, export_id, lock=True)
        if row is None or row.status not in exports.ACTIVE:
            return
        await exports.save(
            session,
            row,
            status=ExportStatus.FAILED,
            failure_reason=reason[:500],
            finished_at=services.clock(),
        )
        await objects.schedule_deletion(session, [row.object_key])
    await services.jobs.delete_objects([row.object_key])


# Maintenance


async def stale_exports(services: Services, older_than: datetime) -> list[uuid.UUID]:
    """Exports still PENDING, asked for before ``older_than`` (their job was lost)."""
    async with services.sessionmaker() as session:
        return await exports.stale_pending(session, older_than)


async def expire(services: Services) -> list[str]:
    """Marks the exports past their time EXPIRED and lists their files for deletion, in
    one transaction; returns the keys, for the deletion jobs."""
    async with services.sessionmaker.begin() as session:
        rows = await exports.expired(session, services.clock())
        for row in rows:
            await exports.save(session, row, status=ExportStatus.EXPIRED)
        keys = [row.object_key for row in rows]
        await objects.schedule_deletion(session, keys)
    if keys:
        logger.info("%d exports expired", len(keys))
    return keys
