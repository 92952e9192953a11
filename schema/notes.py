"""Notes: Markdown content, tags, pins, images, ranked search."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry
from strawberry.file_uploads import Upload

from auth.permissions import Permission
from db import notes as rows
from resolvers import ids
from resolvers import notes as resolvers
from resolvers.context import Info
from schema.errors import DeletePayload, Payload, UserError
from schema.node import Node, fetches_node
from schema.pagination import Connection
from schema.permissions import Allowed, requires
from schema.uploads import CreateUploadInput, UploadPayload


@strawberry.type
class NoteImage(Node):
    id: strawberry.ID
    content_type: str
    size: int
    created_at: datetime
    row: strawberry.Private[rows.NoteImage]

    @strawberry.field(description="A short-lived link to the image.")
    async def url(self, info: Info) -> str:
        return await resolvers.image_url(info.context, self.row)

    @classmethod
    def from_row(cls, row: rows.NoteImage) -> Self:
        return cls(
            id=strawberry.ID(ids.encode("noteimage", row.id)),
            content_type=row.content_type,
            size=row.size,
            created_at=row.created_at,
            row=row,
        )


@strawberry.type
class Note(Node):
    id: strawberry.ID
    title: str
    content: str = strawberry.field(description="Markdown.")
    tags: list[str]
    pinned: bool
    created_at: datetime
    updated_at: datetime
    version: int = strawberry.field(description="Grows by one with every change.")
    row: strawberry.Private[rows.Note]

    @strawberry.field
    async def images(self, info: Info) -> list[NoteImage]:
        found = await info.context.loaders.note_images.load(self.row.id)
        return [NoteImage.from_row(image) for image in found]

    @classmethod
    def from_row(cls, row: rows.Note) -> Self:
        return cls(
            id=strawberry.ID(ids.encode("note", row.id)),
            title=row.title,
            content=row.content,
            tags=list(row.tags),
            pinned=row.pinned,
            created_at=row.created_at,
            updated_at=row.updated_at,
            version=row.version,
            row=row,
        )


@strawberry.input
class CreateNoteInput:
    title: str
    content: str | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    pinned: bool | None = strawberry.UNSET
    id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="An ID minted offline: note_<uuid>."
    )


@strawberry.input
class UpdateNoteInput:
    title: str | None = strawberry.UNSET
    content: str | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    pinned: bool | None = strawberry.UNSET


@strawberry.input(name="NoteFilter")
class NoteFilterInput:
    tag: str | None = None
    search: str | None = strawberry.field(
        default=None,
        description="Words of the title or content; the last may be a prefix. Best first.",
    )
    pinned: bool | None = None


@strawberry.type
class NotePayload(Payload):
    note: Note | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: rows.Note) -> Self:
        return cls(note=Note.from_row(result))


@fetches_node("noteimage")
async def _note_image_node(info: Info, global_id: str) -> NoteImage | None:
    row = await resolvers.note_image(info.context, global_id)
    return NoteImage.from_row(row) if row else None


@fetches_node("note")
async def _note_node(info: Info, global_id: str) -> Note | None:
    row = await resolvers.note(info.context, global_id)
    return Note.from_row(row) if row else None


@strawberry.type
class Query:
    @strawberry.field(extensions=requires(Allowed(Permission.NOTES)))
    async def note(self, info: Info, id: strawberry.ID) -> Note | None:
        return await _note_node(info, id)

    @strawberry.field(
        extensions=requires(Allowed(Permission.NOTES)), description="Most recently updated first."
    )
    async def notes(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: NoteFilterInput | None = None,
    ) -> Connection[Note]:
        page = await resolvers.note_page(info.context, first, after, filter)
        return Connection.of(page, Note.from_row)


@strawberry.type
class Mutation:
    @strawberry.mutation(extensions=requires(Allowed(Permission.NOTES)))
    async def create_note(self, info: Info, input: CreateNoteInput) -> NotePayload:
        return await NotePayload.run(resolvers.create(info.context, input))

    @strawberry.mutation(
        extensions=requires(Allowed(Permission.NOTES)),
        description="With expectedVersion, a note changed since is refused with CONFLICT.",
    )
    async def update_note(
        self,
        info: Info,
        id: strawberry.ID,
        input: UpdateNoteInput,
        expected_version: int | None = None,
    ) -> NotePayload:
        return await NotePayload.run(resolvers.update(info.context, id, input, expected_version))

    @strawberry.mutation(extensions=requires(Allowed(Permission.NOTES)))
    async def delete_note(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await DeletePayload.run(resolvers.delete(info.context, id))

    @strawberry.mutation(
        extensions=requires(Allowed(Permission.NOTES)), description="At most 5 images per note."
    )
    async def add_note_image(self, info: Info, note_id: strawberry.ID, file: Upload) -> NotePayload:
        return await NotePayload.run(resolvers.add_image(info.context, note_id, file))  # type: ignore[arg-type]

    @strawberry.mutation(extensions=requires(Allowed(Permission.NOTES)))
    async def create_note_image_upload(
        self, info: Info, note_id: strawberry.ID, input: CreateUploadInput
    ) -> UploadPayload:
        return await UploadPayload.run(
            resolvers.create_image_upload(
                info.context, note_id, input.filename, input.content_type, input.size
            )
        )

    @strawberry.mutation(extensions=requires(Allowed(Permission.NOTES)))
    async def complete_note_image_upload(
        self, info: Info, note_id: strawberry.ID, key: str
    ) -> NotePayload:
        return await NotePayload.run(resolvers.complete_image_upload(info.context, note_id, key))

    @strawberry.mutation(extensions=requires(Allowed(Permission.NOTES)))
    async def remove_note_image(self, info: Info, id: strawberry.ID) -> NotePayload:
        return await NotePayload.run(resolvers.remove_image(info.context, id))
