"""Notes: Markdown content, tags, pins, images, ranked search."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
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
from schema.selection import Selection, selection_of
from schema.uploads import CreateUploadInput, UploadPayload


@strawberry.type
class NoteImage(Node):
    id: strawberry.ID
    content_type: str
    size: int
    created_at: datetime
    url: str = strawberry.field(description="A short-lived link to the image.")
    row: strawberry.Private[rows.NoteImage]

    @classmethod
    def from_row(cls, row: rows.NoteImage, url: str) -> Self:
        return cls(
            id=strawberry.ID(ids.encode("noteimage", row.id)),
            content_type=row.content_type,
            size=row.size,
            created_at=row.created_at,
            url=url,
            row=row,
        )


async def images_of(
    info: Info, found: Sequence[rows.NoteImage], selection: Selection
) -> list[NoteImage]:
    """The images, with their links signed at once when the query selects them."""
    urls = [""] * len(found)
    if "url" in selection and found:
        urls = await resolvers.image_urls(info.context, found)
    return [NoteImage.from_row(row, url) for row, url in zip(found, urls, strict=True)]


@strawberry.type
class Note(Node):
    id: strawberry.ID
    title: str
    content: str = strawberry.field(description="Markdown.")
    tags: list[str]
    pinned: bool
    archived: bool = strawberry.field(description="Left out of the default list and search.")
    created_at: datetime
    updated_at: datetime
    version: int = strawberry.field(description="Grows by one with every change.")
    images: list[NoteImage]
    row: strawberry.Private[rows.Note]

    @classmethod
    def from_row(cls, row: rows.Note, images: list[NoteImage]) -> Self:
        return cls(
            id=strawberry.ID(ids.encode("note", row.id)),
            title=row.title,
            content=row.content,
            tags=list(row.tags),
            pinned=row.pinned,
            archived=row.archived,
            created_at=row.created_at,
            updated_at=row.updated_at,
            version=row.version,
            images=images,
            row=row,
        )


async def notes_of(info: Info, found: Sequence[rows.Note], selection: Selection) -> list[Note]:
    """The notes with their images, when the query selects them, loaded for all at once."""
    images: list[list[NoteImage]] = [[] for _ in found]
    if "images" in selection:
        loaded = await info.context.loaders.note_images.load_many([row.id for row in found])
        built = await images_of(
            info, [image for group in loaded for image in group], selection["images"]
        )
        position = 0
        for index, group in enumerate(loaded):
            images[index] = built[position : position + len(group)]
            position += len(group)
    return [Note.from_row(row, note_images) for row, note_images in zip(found, images, strict=True)]


async def note_of(info: Info, row: rows.Note | None, selection: Selection) -> Note | None:
    return (await notes_of(info, [row], selection))[0] if row else None


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
    archived: bool | None = strawberry.UNSET


@strawberry.input(name="NoteFilter")
class NoteFilterInput:
    tag: str | None = None
    search: str | None = strawberry.field(
        default=None,
        description="Words of the title or content; the last may be a prefix. Best first.",
    )
    pinned: bool | None = None
    archived: bool | None = strawberry.field(
        default=None, description="True: only archived notes; otherwise only the others."
    )


@strawberry.type
class NotePayload(Payload):
    note: Note | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def building(cls, info: Info) -> Callable[[rows.Note], Awaitable[Self]]:
        async def build(row: rows.Note) -> Self:
            return cls(note=await note_of(info, row, selection_of(info)["note"]))

        return build


@fetches_node("noteimage")
async def _note_image_node(info: Info, global_id: str) -> NoteImage | None:
    row = await resolvers.note_image(info.context, global_id)
    return (await images_of(info, [row], selection_of(info)))[0] if row else None


@fetches_node("note")
async def _note_node(info: Info, global_id: str) -> Note | None:
    row = await resolvers.note(info.context, global_id)
    return await note_of(info, row, selection_of(info))


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
        nodes = await notes_of(info, page.rows, selection_of(info)["edges.node"])
        return Connection.of_nodes(page, nodes)


@strawberry.type
class Mutation:
    @strawberry.mutation(extensions=requires(Allowed(Permission.NOTES)))
    async def create_note(self, info: Info, input: CreateNoteInput) -> NotePayload:
        return await NotePayload.run(
            resolvers.create(info.context, input),
            NotePayload.building(info),
        )

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
        return await NotePayload.run(
            resolvers.update(info.context, id, input, expected_version),
            NotePayload.building(info),
        )

    @strawberry.mutation(extensions=requires(Allowed(Permission.NOTES)))
    async def delete_note(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await DeletePayload.run(resolvers.delete(info.context, id))

    @strawberry.mutation(
        extensions=requires(Allowed(Permission.NOTES)), description="At most 5 images per note."
    )
    async def add_note_image(self, info: Info, note_id: strawberry.ID, file: Upload) -> NotePayload:
        return await NotePayload.run(
            resolvers.add_image(info.context, note_id, file),  # type: ignore[arg-type]
            NotePayload.building(info),
        )

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
        return await NotePayload.run(
            resolvers.complete_image_upload(info.context, note_id, key),
            NotePayload.building(info),
        )

    @strawberry.mutation(extensions=requires(Allowed(Permission.NOTES)))
    async def remove_note_image(self, info: Info, id: strawberry.ID) -> NotePayload:
        return await NotePayload.run(
            resolvers.remove_image(info.context, id),
            NotePayload.building(info),
        )
