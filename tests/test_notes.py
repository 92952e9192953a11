"""Notes through the GraphQL endpoint: validation, versions, filters and ranked search,
images by both upload paths, asynchronous media cleanup, batching, ownership, and
client-minted IDs."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import IO, Any

import pytest
from conftest import Api, StatementCounter, errors_of, run_jobs
from receipt_images import blank, render
from sqlalchemy import text
from unstorable import UNSTORABLE, send

from db import notes as note_rows
from lifegraph.settings import Settings
from resolvers.context import Services
from storage.objects import ObjectInfo, ObjectStore, PresignedPost

HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
JPEG = render()
PNG = blank()


# Helpers ----------------------------------------------------------------------------------


async def sign_in(api: Api, email: str) -> str:
    token: str = (await api.register(email))["accessToken"]
    return token


def payload_of(result: dict[str, Any]) -> dict[str, Any]:
    """The payload of a mutation's only field."""
    assert "errors" not in result, result
    payload: dict[str, Any] = next(iter(result["data"].values()))
    return payload


def problems(payload: dict[str, Any]) -> list[tuple[list[str], str]]:
    return [(error["field"], error["code"]) for error in payload["userErrors"]]


async def create_note(api: Api, token: str, **fields: Any) -> dict[str, Any]:
    payload = payload_of(
        await api.op("CreateNote", {"input": {"title": "A note", **fields}}, token)
    )
    assert payload["userErrors"] == [], payload
    note: dict[str, Any] = payload["note"]
    return note


async def update_note(
    api: Api, token: str, note_id: str, expected_version: int | None = None, **fields: Any
) -> dict[str, Any]:
    variables: dict[str, Any] = {"id": note_id, "input": fields}
    if expected_version is not None:
        variables["expectedVersion"] = expected_version
    return payload_of(await api.op("UpdateNote", variables, token))


async def fetch_note(api: Api, token: str, note_id: str) -> dict[str, Any] | None:
    result = await api.op("Note", {"id": note_id}, token)
    assert "errors" not in result, result
    note: dict[str, Any] | None = result["data"]["note"]
    return note


async def read_note(api: Api, token: str, note_id: str) -> dict[str, Any]:
    note = await fetch_note(api, token, note_id)
    assert note is not None, note_id
    return note


async def list_notes(api: Api, token: str, first: int = 100, **filters: Any) -> dict[str, Any]:
    result = await api.op("Notes", {"first": first, "filter": filters}, token)
    assert "errors" not in result, result
    connection: dict[str, Any] = result["data"]["notes"]
    return connection


async def titles(api: Api, token: str, **filters: Any) -> list[str]:
    connection = await list_notes(api, token, **filters)
    return [edge["node"]["title"] for edge in connection["edges"]]


async def send_file(
    api: Api,
    token: str,
    operation: str,
    variables: dict[str, Any],
    data: bytes,
    filename: str,
    content_type: str,
    preflight: bool = True,
) -> dict[str, Any]:
    """A GraphQL multipart request whose ``file`` variable is ``data``."""
    operations = {
        "query": api.contract.document_of(operation),
        "operationName": operation,
        "variables": {**variables, "file": None},
    }
    files: dict[str, Any] = {
        "operations": (None, json.dumps(operations)),
        "map": (None, json.dumps({"0": ["variables.file"]})),
        "0": (filename, data, content_type),
    }
    headers = {"Authorization": f"Bearer {token}"}
    if preflight:
        headers["Apollo-Require-Preflight"] = "true"
    response = await api.client.post("/graphql", files=files, headers=headers)
    assert response.status_code == (200 if preflight else 400), response.text
    result: dict[str, Any] = response.json()
    return result


async def add_image(
    api: Api,
    token: str,
    note_id: str,
    data: bytes = JPEG,
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
) -> dict[str, Any]:
    """The payload of ``addNoteImage``."""
    result = await send_file(
        api, token, "AddNoteImage", {"noteId": note_id}, data, filename, content_type
    )
    return payload_of(result)


async def sign_upload(
    api: Api, token: str, note_id: str, content_type: str = "image/jpeg", size: int = 1000
) -> dict[str, Any]:
    """The payload of ``createNoteImageUpload``."""
    variables = {
        "noteId": note_id,
        "input": {"filename": "photo.jpg", "contentType": content_type, "size": size},
    }
    return payload_of(await api.op("CreateNoteImageUpload", variables, token))


async def post_upload(api: Api, upload: dict[str, Any], data: bytes, content_type: str) -> None:
    """Posts the form to the local store, as a browser would."""
    assert upload["url"] == "http://lifegraph.test/storage/upload"
    files = {"file": ("photo", data, content_type)}
    posted = await api.client.post(upload["url"], data=upload["fields"], files=files)
    assert posted.status_code in (200, 201, 204), posted.text


async def complete_upload(api: Api, token: str, note_id: str, key: str) -> dict[str, Any]:
    """The payload of ``completeNoteImageUpload``."""
    variables = {"noteId": note_id, "key": key}
    return payload_of(await api.op("CompleteNoteImageUpload", variables, token))


async def presigned_image(
    api: Api,
    token: str,
    note_id: str,
    data: bytes = PNG,
    content_type: str = "image/png",
) -> tuple[str, dict[str, Any]]:
    """Signs, posts and completes an upload; the key and the completion's payload."""
    signed = await sign_upload(api, token, note_id, content_type, len(data))
    assert signed["userErrors"] == [], signed
    upload = signed["upload"]
    await post_upload(api, upload, data, content_type)
    key: str = upload["key"]
    return key, await complete_upload(api, token, note_id, key)


async def scalar(services: Services, sql: str, **params: Any) -> Any:
    async with services.engine.connect() as connection:
        return await connection.scalar(text(sql), params)


async def column(services: Services, sql: str, **params: Any) -> list[Any]:
    async with services.engine.connect() as connection:
        return list(await connection.scalars(text(sql), params))


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


def raw_id(global_id: str) -> uuid.UUID:
    return uuid.UUID(global_id.partition("_")[2])


async def image_keys(services: Services, note_id: str) -> list[str]:
    return await column(
        services,
        "SELECT object_key FROM note_images WHERE note_id = :id ORDER BY object_key",
        id=raw_id(note_id),
    )


async def pending_deletions(services: Services) -> list[str]:
    return await column(services, "SELECT key FROM object_deletions ORDER BY key")


async def stored(services: Services, keys: list[str]) -> list[str]:
    """Those of ``keys`` that are in object storage."""
    return [key for key in keys if await services.storage.head(key) is not None]


def without_urls(note: dict[str, Any] | None) -> dict[str, Any]:
    """The note as it compares: image links are signed afresh on every read."""
    assert note is not None
    images = [{k: v for k, v in image.items() if k != "url"} for image in note["images"]]
    return {**note, "images": images}


def stored_files(settings: Settings) -> list[str]:
    objects = settings.objects_dir
    return [str(p) for p in objects.rglob("*") if p.is_file()] if objects.exists() else []


# Fields, validation, versions -------------------------------------------------------------


async def test_create_keeps_fields_and_normalises_tags(api: Api) -> None:
    token = await sign_in(api, "notes@example.com")
    markdown = "# Groceries\n\n- *oat* milk\n- [bread](https://example.com)\n\n"
    note = await create_note(
        api,
        token,
        title="Shopping",
        content=markdown,
        tags=[" Home ", "home", "ERRANDS", "  Weekly  Plan "],
        pinned=True,
    )
    assert note["id"].startswith("note_")
    assert (note["title"], note["content"], note["pinned"]) == ("Shopping", markdown, True)
    assert note["tags"] == ["home", "errands", "weekly plan"]
    assert (note["version"], note["images"]) == (1, [])
    assert note["createdAt"]
    assert note["updatedAt"]
    assert await fetch_note(api, token, note["id"]) == note

    bare = await create_note(api, token, title="Just a title")
    assert (bare["content"], bare["tags"], bare["pinned"]) == ("", [], False)


async def test_the_largest_values_are_accepted(api: Api) -> None:
    token = await sign_in(api, "limits@example.com")
    note = await create_note(
        api,
        token,
        title="t" * 200,
        content="c" * 100_000,
        tags=[f"tag{i}" for i in range(20)] + ["TAG0", " tag1 "],
    )
    assert (len(note["title"]), len(note["content"]), len(note["tags"])) == (200, 100_000, 20)


INVALID_FIELDS = [
    ({"title": "x" * 201}, "title"),
    ({"content": "x" * 100_001}, "content"),
    ({"tags": [f"t{i}" for i in range(21)]}, "tags"),
    ({"tags": ["same"] * 201}, "tags"),  # refused unread, however much it repeats
]


@pytest.mark.parametrize(("fields", "field"), INVALID_FIELDS)
async def test_invalid_notes_are_refused_and_nothing_is_stored(
    api: Api, fields: dict[str, Any], field: str
) -> None:
    token = await sign_in(api, "bad-notes@example.com")
    result = await api.op("CreateNote", {"input": {"title": "ok", **fields}}, token)
    payload = payload_of(result)
    assert payload["note"] is None
    assert problems(payload) == [(["input", field], "INVALID")]
    assert (await list_notes(api, token))["totalCount"] == 0


@pytest.mark.parametrize(("fields", "field"), INVALID_FIELDS)
async def test_invalid_updates_are_refused_and_nothing_changes(
    api: Api, fields: dict[str, Any], field: str
) -> None:
    token = await sign_in(api, "bad-updates@example.com")
    note = await create_note(api, token, content="kept", tags=["kept"])
    payload = await update_note(api, token, note["id"], pinned=True, **fields)
    assert payload["note"] is None
    assert problems(payload) == [(["input", field], "INVALID")]
    assert await fetch_note(api, token, note["id"]) == note


@pytest.mark.parametrize("bad", UNSTORABLE)
@pytest.mark.parametrize("field", ["title", "content", "tags"])
async def test_text_postgresql_cannot_hold_is_refused(api: Api, bad: str, field: str) -> None:
    token = await sign_in(api, "unstorable@example.com")
    value: Any = [bad] if field == "tags" else bad
    payload = payload_of(
        await send(api, "CreateNote", {"input": {"title": "ok", field: value}}, token)
    )
    assert payload["note"] is None
    assert problems(payload) == [(["input", field], "INVALID")]
    assert (await list_notes(api, token))["totalCount"] == 0
    note = await create_note(api, token, content="kept")
    variables = {"id": note["id"], "input": {field: value}}
    updated = payload_of(await send(api, "UpdateNote", variables, token))
    assert problems(updated) == [(["input", field], "INVALID")]
    assert await fetch_note(api, token, note["id"]) == note


@pytest.mark.parametrize("bad", UNSTORABLE)
@pytest.mark.parametrize("name", ["search", "tag"])
async def test_filters_with_text_postgresql_cannot_hold_are_bad_input(
    api: Api, bad: str, name: str
) -> None:
    token = await sign_in(api, "unstorable@example.com")
    result = await send(api, "Notes", {"filter": {name: bad}}, token)
    assert errors_of(result) == ["BAD_USER_INPUT"]


async def test_content_keeps_its_whitespace_and_is_composed(api: Api) -> None:
    token = await sign_in(api, "composed@example.com")
    note = await create_note(api, token, title="Cafe\u0301", content="    code\nCafe\u0301\n")
    assert (note["title"], note["content"]) == ("Caf\u00e9", "    code\nCaf\u00e9\n")
    assert await titles(api, token, search="caf\u00e9") == ["Caf\u00e9"]
    assert await titles(api, token, search="cafe\u0301") == ["Caf\u00e9"]


async def test_every_problem_is_reported_at_once(api: Api) -> None:
    token = await sign_in(api, "problems@example.com")
    fields = {
        "title": "x" * 201,
        "content": "x" * 100_001,
        "tags": ["t"] * 5 + list("abcdefghijklmnopqrstu"),
    }
    payload = payload_of(await api.op("CreateNote", {"input": fields}, token))
    assert sorted(problems(payload)) == [
        (["input", "content"], "INVALID"),
        (["input", "tags"], "INVALID"),
        (["input", "title"], "INVALID"),
    ]


async def test_version_grows_with_every_change_and_stale_writes_conflict(api: Api) -> None:
    token = await sign_in(api, "versions@example.com")
    note = await create_note(api, token, title="Draft")
    assert note["version"] == 1

    renamed = await update_note(api, token, note["id"], expected_version=1, title="First")
    assert renamed["userErrors"] == []
    assert (renamed["note"]["title"], renamed["note"]["version"]) == ("First", 2)

    stale = await update_note(api, token, note["id"], expected_version=1, title="Lost")
    assert stale["note"] is None
    assert problems(stale) == [(["expectedVersion"], "CONFLICT")]
    current = await fetch_note(api, token, note["id"])
    assert current == renamed["note"]

    forced = await update_note(api, token, note["id"], content="no version given")
    assert forced["userErrors"] == []
    assert (forced["note"]["title"], forced["note"]["version"]) == ("First", 3)
    assert forced["note"]["content"] == "no version given"

    tagged = await update_note(api, token, note["id"], expected_version=3, tags=["A"], pinned=True)
    assert (tagged["note"]["tags"], tagged["note"]["pinned"]) == (["a"], True)
    assert tagged["note"]["version"] == 4
    assert moment(tagged["note"]["updatedAt"]) > moment(note["updatedAt"])

    added = await add_image(api, token, note["id"])
    image_id = added["note"]["images"][0]["id"]
    assert (await read_note(api, token, note["id"]))["version"] == 5
    removed = payload_of(await api.op("RemoveNoteImage", {"id": image_id}, token))
    assert removed["userErrors"] == []
    assert (await read_note(api, token, note["id"]))["version"] == 6


# Filters and search -----------------------------------------------------------------------


async def test_notes_filter_by_tag_and_pinned(api: Api) -> None:
    token = await sign_in(api, "filters@example.com")
    await create_note(api, token, title="Plan", tags=["Work"], pinned=True)
    await create_note(api, token, title="Ideas", tags=["work", "home"])
    await create_note(api, token, title="Recipes", tags=["home"], pinned=True)
    assert await titles(api, token) == ["Recipes", "Ideas", "Plan"]
    assert await titles(api, token, tag="work") == ["Ideas", "Plan"]
    assert await titles(api, token, tag=" HOME ") == ["Recipes", "Ideas"]
    assert await titles(api, token, pinned=True) == ["Recipes", "Plan"]
    assert await titles(api, token, pinned=False) == ["Ideas"]
    assert await titles(api, token, tag="work", pinned=True) == ["Plan"]
    assert await titles(api, token, tag="nothing") == []
    assert (await list_notes(api, token, tag="home"))["totalCount"] == 2


async def test_search_finds_words_of_the_title_and_content_best_first(api: Api) -> None:
    token = await sign_in(api, "search@example.com")
    await create_note(api, token, title="Coffee beans", content="Roast them on Monday.")
    await create_note(api, token, title="Tea", content="Green tea, steeped for 3 minutes.")
    # The newest, but with the word only in its content: it still ranks below the title.
    await create_note(
        api, token, title="Shopping", content="Buy coffee filters and milk.", tags=["errands"]
    )
    assert await titles(api, token, search="coffee") == ["Coffee beans", "Shopping"]
    assert await titles(api, token, search="COFFEE") == ["Coffee beans", "Shopping"]
    assert await titles(api, token, search="roast") == ["Coffee beans"]
    assert await titles(api, token, search="steeped") == ["Tea"]
    assert await titles(api, token, search="milk") == ["Shopping"]
    assert await titles(api, token, search="cheese") == []
    # Every word must match; the last may be a prefix typed so far.
    assert await titles(api, token, search="coffee fil") == ["Shopping"]
    assert await titles(api, token, search="coffee, tea!") == []
    assert await titles(api, token, search="coffee", tag="errands") == ["Shopping"]
    assert (await list_notes(api, token, search="coffee"))["totalCount"] == 2


@pytest.mark.parametrize("typed", ["c", "co", "cof", "coff", "coffe", "coffee"])
async def test_search_as_you_type_matches_prefixes(api: Api, typed: str) -> None:
    token = await sign_in(api, "typing@example.com")
    await create_note(api, token, title="Coffee beans")
    await create_note(api, token, title="Lunch", content="A cup of coffee after.")
    await create_note(api, token, title="Tea")
    assert await titles(api, token, search=typed) == ["Coffee beans", "Lunch"]


async def test_search_results_are_paginated(api: Api) -> None:
    token = await sign_in(api, "pages@example.com")
    for index in range(7):
        await create_note(api, token, title=f"Plant care {index}", content="Water them.")
        await create_note(api, token, title=f"Other {index}", content=f"Plants, entry {index}.")
    await create_note(api, token, title="Unrelated")
    everything = await titles(api, token, search="plant")
    assert len(everything) == 14
    assert everything[:7] == [f"Plant care {i}" for i in reversed(range(7))]
    assert all(title.startswith("Other") for title in everything[7:])

    seen: list[str] = []
    after: str | None = None
    while True:
        variables = {"first": 3, "after": after, "filter": {"search": "plant"}}
        result = await api.op("Notes", variables, token)
        assert "errors" not in result, result
        page = result["data"]["notes"]
        assert page["totalCount"] == 14
        seen += [edge["node"]["title"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == everything


async def test_listing_without_search_is_paginated_newest_first(api: Api) -> None:
    token = await sign_in(api, "plain-pages@example.com")
    for index in range(5):
        await create_note(api, token, title=f"Note {index}")
    first = await api.op("Notes", {"first": 2}, token)
    page = first["data"]["notes"]
    assert [e["node"]["title"] for e in page["edges"]] == ["Note 4", "Note 3"]
    assert (page["totalCount"], page["pageInfo"]["hasNextPage"]) == (5, True)
    rest = await api.op("Notes", {"first": 10, "after": page["pageInfo"]["endCursor"]}, token)
    page = rest["data"]["notes"]
    assert [e["node"]["title"] for e in page["edges"]] == ["Note 2", "Note 1", "Note 0"]
    assert page["pageInfo"]["hasNextPage"] is False


# Images -----------------------------------------------------------------------------------


async def test_images_by_multipart_and_presigned_upload_download_their_bytes(
    api: Api, services: Services
) -> None:
    token = await sign_in(api, "images@example.com")
    note = await create_note(api, token)
    added = await add_image(api, token, note["id"], JPEG)
    assert added["userErrors"] == [], added
    assert len(added["note"]["images"]) == 1
    key, completed = await presigned_image(api, token, note["id"], PNG, "image/png")
    assert completed["userErrors"] == [], completed
    assert len(completed["note"]["images"]) == 2
    assert key.startswith("notes/")
    keys = await image_keys(services, note["id"])
    assert len(keys) == 2
    assert key in keys
    assert await stored(services, keys) == keys

    read = await read_note(api, token, note["id"])
    images = read["images"]
    assert [(i["contentType"], i["size"]) for i in images] == [
        ("image/jpeg", len(JPEG)),
        ("image/png", len(PNG)),
    ]
    for image, data in zip(images, (JPEG, PNG), strict=True):
        assert image["id"].startswith("noteimage_")
        download = await api.client.get(image["url"])
        assert download.status_code == 200
        assert download.content == data
        node = await api.op("Node", {"id": image["id"]}, token)
        assert node["data"]["node"] == {"id": image["id"], "__typename": "NoteImage"}

    twice = await complete_upload(api, token, note["id"], key)
    assert problems(twice) == [(["key"], "NOT_FOUND")]


async def test_multipart_images_need_the_preflight_header(
    api: Api, services: Services, settings: Settings
) -> None:
    token = await sign_in(api, "preflight@example.com")
    note = await create_note(api, token)
    variables = {"noteId": note["id"]}
    result = await send_file(
        api, token, "AddNoteImage", variables, JPEG, "a.jpg", "image/jpeg", preflight=False
    )
    assert errors_of(result) == ["BAD_USER_INPUT"]
    assert await image_keys(services, note["id"]) == []
    assert stored_files(settings) == []


async def test_an_image_that_is_no_file_is_bad_user_input(
    api: Api, services: Services, settings: Settings
) -> None:
    token = await sign_in(api, "no-file@example.com")
    note = await create_note(api, token)
    for value in ["not a file", 7, ["photo.jpg"]]:
        result = await api.op("AddNoteImage", {"noteId": note["id"], "file": value}, token)
        assert errors_of(result) == ["BAD_USER_INPUT"]
    assert await image_keys(services, note["id"]) == []
    assert stored_files(settings) == []


async def test_at_most_five_images_by_either_path(api: Api, services: Services) -> None:
    token = await sign_in(api, "five@example.com")
    note = await create_note(api, token)
    for _ in range(3):
        assert (await add_image(api, token, note["id"]))["userErrors"] == []
    key, completed = await presigned_image(api, token, note["id"])
    assert completed["userErrors"] == []
    # Signed while there was room, completed when there is none.
    late = await sign_upload(api, token, note["id"], "image/png", len(PNG))
    assert late["userErrors"] == []
    await post_upload(api, late["upload"], PNG, "image/png")
    assert (await add_image(api, token, note["id"]))["userErrors"] == []

    sixth = await add_image(api, token, note["id"])
    assert sixth["note"] is None
    assert problems(sixth) == [(["noteId"], "LIMIT_REACHED")]
    signed = await sign_upload(api, token, note["id"])
    assert signed["upload"] is None
    assert problems(signed) == [(["noteId"], "LIMIT_REACHED")]
    refused = await complete_upload(api, token, note["id"], late["upload"]["key"])
    assert refused["note"] is None
    assert problems(refused) == [(["noteId"], "LIMIT_REACHED")]

    assert len((await read_note(api, token, note["id"]))["images"]) == 5
    assert len(await image_keys(services, note["id"])) == 5
    assert key in await image_keys(services, note["id"])


@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        (HTML, "photo.png", "image/png"),
        (render(image_format="PDF"), "scan.pdf", "application/pdf"),
        (render(image_format="PDF"), "scan.jpg", "image/jpeg"),
        (b"", "empty.png", "image/png"),
    ],
)
async def test_multipart_files_that_are_not_images_are_refused_and_nothing_is_left(
    api: Api, settings: Settings, data: bytes, filename: str, content_type: str
) -> None:
    token = await sign_in(api, "not-images@example.com")
    note = await create_note(api, token)
    payload = await add_image(api, token, note["id"], data, filename, content_type)
    assert payload["note"] is None
    assert problems(payload) == [(["file"], "UNSUPPORTED_MEDIA_TYPE")]
    assert await fetch_note(api, token, note["id"]) == note
    assert stored_files(settings) == []


@pytest.mark.parametrize(
    ("data", "declared"),
    [(HTML, "image/png"), (render(image_format="PDF"), "image/jpeg")],
)
async def test_presigned_files_that_are_not_images_are_refused_and_removed(
    api: Api, services: Services, settings: Settings, data: bytes, declared: str
) -> None:
    token = await sign_in(api, "presigned-bad@example.com")
    note = await create_note(api, token)
    signed = await sign_upload(api, token, note["id"], declared, len(data))
    await post_upload(api, signed["upload"], data, declared)
    key = signed["upload"]["key"]
    assert await services.storage.head(key) is not None
    payload = await complete_upload(api, token, note["id"], key)
    assert payload["note"] is None
    assert problems(payload) == [(["key"], "UNSUPPORTED_MEDIA_TYPE")]
    assert await services.storage.head(key) is None
    assert stored_files(settings) == []
    assert await fetch_note(api, token, note["id"]) == note


async def test_a_pdf_upload_is_not_signed_for_notes(api: Api) -> None:
    token = await sign_in(api, "pdf@example.com")
    note = await create_note(api, token)
    payload = await sign_upload(api, token, note["id"], "application/pdf")
    assert payload["upload"] is None
    assert problems(payload) == [(["input", "contentType"], "UNSUPPORTED_MEDIA_TYPE")]


# Asynchronous media cleanup ---------------------------------------------------------------


async def note_with_images(api: Api, token: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A note with one image of each upload path."""
    note = await create_note(api, token, title="With images")
    assert (await add_image(api, token, note["id"]))["userErrors"] == []
    _, completed = await presigned_image(api, token, note["id"])
    assert completed["userErrors"] == []
    read = await read_note(api, token, note["id"])
    return read, read["images"]


async def test_removing_an_image_detaches_it_now_and_a_job_deletes_it(
    api: Api, services: Services
) -> None:
    token = await sign_in(api, "remove@example.com")
    note, images = await note_with_images(api, token)
    keys = await image_keys(services, note["id"])
    removed_id, kept_id = images[0]["id"], images[1]["id"]
    payload = payload_of(await api.op("RemoveNoteImage", {"id": removed_id}, token))
    assert payload["userErrors"] == [], payload
    assert payload["note"]["images"] == [{"id": kept_id}]
    (removed_key,) = set(keys) - set(await image_keys(services, note["id"]))

    assert [i["id"] for i in (await read_note(api, token, note["id"]))["images"]] == [kept_id]
    assert (await api.op("Node", {"id": removed_id}, token))["data"]["node"] is None
    assert await stored(services, [removed_key]) == [removed_key]
    assert await pending_deletions(services) == [removed_key]

    await run_jobs(services)
    assert await stored(services, keys) == [k for k in keys if k != removed_key]
    assert await pending_deletions(services) == []

    again = payload_of(await api.op("RemoveNoteImage", {"id": removed_id}, token))
    assert problems(again) == [(["id"], "NOT_FOUND")]


async def test_deleting_a_note_returns_now_and_a_job_deletes_its_images(
    api: Api, services: Services, settings: Settings
) -> None:
    token = await sign_in(api, "delete@example.com")
    note, _ = await note_with_images(api, token)
    keys = await image_keys(services, note["id"])
    assert len(keys) == 2

    deleted = payload_of(await api.op("DeleteNote", {"id": note["id"]}, token))
    assert deleted == {"deletedId": note["id"], "userErrors": []}
    assert await fetch_note(api, token, note["id"]) is None
    assert await image_keys(services, note["id"]) == []
    assert await stored(services, keys) == keys
    assert await pending_deletions(services) == keys

    await run_jobs(services)
    assert await stored(services, keys) == []
    assert await pending_deletions(services) == []
    assert stored_files(settings) == []


class DeleteFailsOnce:
    """Object storage whose first delete fails (a dropped connection), then recovers."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.failures = 0

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self.store.put(key, data, content_type)

    async def put_file(self, key: str, source: IO[bytes], content_type: str) -> None:
        await self.store.put_file(key, source, content_type)

    async def get(self, key: str, *, max_bytes: int | None = None) -> bytes:
        return await self.store.get(key, max_bytes=max_bytes)

    async def head(self, key: str) -> ObjectInfo | None:
        return await self.store.head(key)

    async def delete(self, key: str) -> None:
        if self.failures == 0:
            self.failures += 1
            raise ConnectionError("connection reset by peer")
        await self.store.delete(key)

    async def presigned_post(
        self, key: str, *, content_type: str, max_size: int, expires_in: int
    ) -> PresignedPost:
        return await self.store.presigned_post(
            key, content_type=content_type, max_size=max_size, expires_in=expires_in
        )

    async def presigned_get(self, key: str, *, expires_in: int) -> str:
        return await self.store.presigned_get(key, expires_in=expires_in)

    async def presigned_get_many(self, keys: Sequence[str], *, expires_in: int) -> list[str]:
        return await self.store.presigned_get_many(keys, expires_in=expires_in)


async def delete_jobs(services: Services) -> list[tuple[str, int, bool]]:
    async with services.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT status::text, attempts, coalesce(scheduled_at > now(), false) "
                "FROM procrastinate_jobs "
                "WHERE task_name = 'lifegraph:delete_object' ORDER BY status, attempts"
            )
        )
        return [(status, attempts, later) for status, attempts, later in rows]


async def test_no_image_is_left_behind_when_the_first_delete_fails(
    api: Api, services: Services, settings: Settings
) -> None:
    token = await sign_in(api, "flaky-delete@example.com")
    note, _ = await note_with_images(api, token)
    keys = await image_keys(services, note["id"])
    deleted = payload_of(await api.op("DeleteNote", {"id": note["id"]}, token))
    assert deleted["userErrors"] == []

    flaky = DeleteFailsOnce(services.storage)
    await run_jobs(dataclasses.replace(services, storage=flaky))
    assert flaky.failures == 1
    # One job failed and waits for its retry; the other deleted its object.
    assert await delete_jobs(services) == [("succeeded", 1, False), ("todo", 1, True)]
    left = await stored(services, keys)
    assert len(left) == 1
    assert await pending_deletions(services) == left

    # The backoff has run its course.
    async with services.engine.begin() as connection:
        await connection.execute(
            text("UPDATE procrastinate_jobs SET scheduled_at = now() WHERE status = 'todo'")
        )
    await run_jobs(services)
    assert await delete_jobs(services) == [("succeeded", 1, False), ("succeeded", 2, False)]
    assert await stored(services, keys) == []
    assert await pending_deletions(services) == []
    assert stored_files(settings) == []


# Batching ---------------------------------------------------------------------------------


async def test_listing_notes_with_images_runs_a_constant_number_of_statements(
    api: Api, services: Services, statements: StatementCounter
) -> None:
    token = await sign_in(api, "batch@example.com")
    notes = [await create_note(api, token, title=f"Note {i}") for i in range(20)]
    # Two images by the API; the rest straight into the database.
    assert (await add_image(api, token, notes[0]["id"]))["userErrors"] == []
    assert (await presigned_image(api, token, notes[0]["id"]))[1]["userErrors"] == []
    async with services.sessionmaker.begin() as session:
        for note in notes[1:]:
            for index in range(2):
                data = f"{note['id']} {index}".encode()
                await note_rows.add_image(
                    session,
                    note_rows.NoteImage(
                        note_id=raw_id(note["id"]),
                        object_key=f"notes/test/{uuid.uuid4()}",
                        content_type="image/jpeg",
                        size=len(data),
                        sha256=hashlib.sha256(data).hexdigest(),
                    ),
                )

    async def statements_for(first: int) -> int:
        statements.count = 0
        connection = await list_notes(api, token, first=first)
        assert len(connection["edges"]) == first
        assert all(len(edge["node"]["images"]) == 2 for edge in connection["edges"])
        assert all(image["url"] for e in connection["edges"] for image in e["node"]["images"])
        return statements.count

    small, large = await statements_for(2), await statements_for(20)
    assert small == large, (small, large)
    # Principal, page (with its count), and one batched query of the images.
    assert large == 3, large


# Ownership --------------------------------------------------------------------------------


async def test_another_users_note_is_not_found_by_any_path(api: Api, services: Services) -> None:
    owner = await sign_in(api, "owner@example.com")
    other = await sign_in(api, "other@example.com")
    note, images = await note_with_images(api, owner)
    await update_note(api, owner, note["id"], tags=["secret"], content="The secret recipe.")
    note = await read_note(api, owner, note["id"])
    nid, image_id = note["id"], images[0]["id"]
    own_note = await create_note(api, other, title="Mine")

    assert await fetch_note(api, other, nid) is None
    assert (await api.op("Node", {"id": nid}, other))["data"]["node"] is None
    assert (await api.op("Node", {"id": image_id}, other))["data"]["node"] is None
    assert (await api.op("Node", {"id": nid}, owner))["data"]["node"]["__typename"] == "Note"
    assert await titles(api, other) == ["Mine"]
    assert await titles(api, other, search="secret") == []
    assert await titles(api, other, tag="secret") == []

    # The other user's own signed upload, completed against the owner's note.
    signed = await sign_upload(api, other, own_note["id"], "image/png", len(PNG))
    await post_upload(api, signed["upload"], PNG, "image/png")
    # And the owner's signed upload, which only the owner may complete.
    owners_upload = await sign_upload(api, owner, nid, "image/png", len(PNG))
    await post_upload(api, owners_upload["upload"], PNG, "image/png")

    attempts: list[tuple[str, dict[str, Any]]] = [
        ("UpdateNote", {"id": nid, "input": {"title": "Mine now"}}),
        ("UpdateNote", {"id": nid, "input": {"title": "Mine now"}, "expectedVersion": 2}),
        ("DeleteNote", {"id": nid}),
        ("RemoveNoteImage", {"id": image_id}),
        (
            "CreateNoteImageUpload",
            {"noteId": nid, "input": {"filename": "x.png", "contentType": "image/png", "size": 9}},
        ),
        ("CompleteNoteImageUpload", {"noteId": nid, "key": signed["upload"]["key"]}),
        ("CompleteNoteImageUpload", {"noteId": nid, "key": owners_upload["upload"]["key"]}),
        (
            "CompleteNoteImageUpload",
            {"noteId": own_note["id"], "key": owners_upload["upload"]["key"]},
        ),
    ]
    for name, variables in attempts:
        payload = payload_of(await api.op(name, variables, other))
        assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"], (name, payload)
    added = await add_image(api, other, nid)
    assert problems(added) == [(["noteId"], "NOT_FOUND")]

    assert without_urls(await fetch_note(api, owner, nid)) == without_urls(note)
    assert len(await image_keys(services, nid)) == 2
    assert await pending_deletions(services) == []
    assert errors_of(await api.op("Notes", {})) == ["UNAUTHENTICATED"]
    assert errors_of(await api.op("Note", {"id": nid})) == ["UNAUTHENTICATED"]


# Client-minted IDs ------------------------------------------------------------------------

CREATE_WITH_ID = """
mutation CreateNoteWithId($input: CreateNoteInput!) {
  createNote(input: $input) { note { id title version } userErrors { field message code } }
}
"""


async def create_with_id(api: Api, token: str, note_id: str) -> dict[str, Any]:
    variables = {"input": {"id": note_id, "title": "Written offline"}}
    return payload_of(await api.query(CREATE_WITH_ID, variables, token))


async def test_a_client_minted_id_is_kept(api: Api) -> None:
    token = await sign_in(api, "offline@example.com")
    minted = f"note_{uuid.uuid4()}"
    created = await create_with_id(api, token, minted)
    assert created["userErrors"] == []
    assert created["note"] == {"id": minted, "title": "Written offline", "version": 1}
    assert (await read_note(api, token, minted))["title"] == "Written offline"

    again = await create_with_id(api, token, minted)
    assert (again["note"], problems(again)) == (None, [(["input", "id"], "CONFLICT")])
    someone = await sign_in(api, "someone@example.com")
    taken = await create_with_id(api, someone, minted)
    assert problems(taken) == [(["input", "id"], "CONFLICT")]
    assert await fetch_note(api, someone, minted) is None


@pytest.mark.parametrize("bad_id", [f"task_{uuid.uuid4()}", "note_not-a-uuid", "note"])
async def test_a_malformed_client_id_is_refused(api: Api, bad_id: str) -> None:
    token = await sign_in(api, "bad-id@example.com")
    payload = await create_with_id(api, token, bad_id)
    assert (payload["note"], problems(payload)) == (None, [(["input", "id"], "INVALID")])
    assert (await list_notes(api, token))["totalCount"] == 0


async def test_search_matches_whatever_unicode_form_was_typed(api: Api) -> None:
    token = (await api.register("unicode@example.com"))["accessToken"]
    composed = "caf\u00e9 au lait"
    created = await api.op("CreateNote", {"input": {"title": "Drinks", "content": composed}}, token)
    assert created["data"]["createNote"]["userErrors"] == []
    for typed in ("caf\u00e9", "cafe\u0301"):
        result = await api.op("Notes", {"filter": {"search": typed}}, token)
        assert result["data"]["notes"]["totalCount"] == 1, typed
