"""Object storage: S3 (moto's server, over HTTP) and the local folder with its own routes.

Both stores run the same tests; a presigned POST is sent as a browser sends it (the
fields, then the file), to moto for S3 and to the app's ``/storage/upload`` for the folder.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette

from storage import ObjectNotFound, ObjectStore, PresignedPost, validate_key
from storage.local import LocalObjectStore
from storage.local_routes import local_storage_routes
from storage.s3 import S3ObjectStore, s3_client

BUCKET = "lifegraph-test"
REGION = "us-east-1"
BASE_URL = "http://lifegraph.test"
SECRET = b"test-storage-secret-that-is-long-enough"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4

# moto accepts any POST to a bucket: it checks neither the policy's signature nor its
# conditions. Real S3 refuses these uploads; test_s3_post_policy_pins_key_type_and_size
# checks that the policy we sign asks it to.
MOTO_IGNORES_POST_POLICY = pytest.mark.xfail(
    strict=True, reason="moto does not enforce presigned POST policy conditions"
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def s3_store(moto_endpoint: str) -> S3ObjectStore:
    client = s3_client(REGION, moto_endpoint, "testing-key-id", "testing-secret")
    store = S3ObjectStore(client, BUCKET)
    await store.ensure_bucket()
    await store.ensure_bucket()  # idempotent
    return store


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def local_store(tmp_path: Path, clock: Clock) -> LocalObjectStore:
    return LocalObjectStore(
        tmp_path / "objects", BASE_URL, SECRET, max_upload_size=64 * 1024, clock=clock
    )


@dataclass
class Backend:
    name: str
    store: ObjectStore
    http: httpx.AsyncClient  # reaches the store's presigned URLs

    async def upload(
        self,
        post: PresignedPost,
        data: bytes,
        content_type: str = "image/png",
        fields: dict[str, str] | None = None,
    ) -> httpx.Response:
        form = post.fields if fields is None else fields
        return await self.http.post(
            post.url, data=form, files={"file": ("receipt.png", data, content_type)}
        )


@pytest.fixture(params=["s3", "local"])
async def backend(
    request: pytest.FixtureRequest, s3_store: S3ObjectStore, local_store: LocalObjectStore
) -> AsyncIterator[Backend]:
    if request.param == "s3":
        async with httpx.AsyncClient(trust_env=False) as http:
            yield Backend("s3", s3_store, http)
    else:
        app = Starlette(routes=local_storage_routes(local_store))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            yield Backend("local", local_store, http)


def new_key(folder: str = "receipts") -> str:
    return f"{folder}/{uuid.uuid4()}/{uuid.uuid4()}"


def expect_moto_gap(request: pytest.FixtureRequest, backend: Backend) -> None:
    if backend.name == "s3":
        request.applymarker(MOTO_IGNORES_POST_POLICY)


# The interface, on both stores


async def test_put_get_head_delete(backend: Backend) -> None:
    store, key = backend.store, new_key()
    assert await store.head(key) is None
    await store.put(key, PNG, "image/png")
    assert await store.get(key) == PNG
    info = await store.head(key)
    assert info is not None
    assert (info.size, info.content_type) == (len(PNG), "image/png")

    await store.put(key, b"replaced", "image/jpeg")
    assert await store.get(key) == b"replaced"
    assert (await store.head(key)) == type(info)(size=8, content_type="image/jpeg")

    await store.delete(key)
    assert await store.head(key) is None
    await store.delete(key)  # a missing object is fine


async def test_get_of_a_missing_key_raises(backend: Backend) -> None:
    with pytest.raises(ObjectNotFound):
        await backend.store.get(new_key())
    with pytest.raises(ObjectNotFound):
        await backend.store.get(new_key(), max_bytes=10)


async def test_get_reads_at_most_one_byte_over_max_bytes(backend: Backend) -> None:
    store, key = backend.store, new_key()
    await store.put(key, PNG, "image/png")
    assert await store.get(key, max_bytes=10) == PNG[:11]
    assert await store.get(key, max_bytes=0) == PNG[:1]
    assert await store.get(key, max_bytes=len(PNG)) == PNG
    assert await store.get(key, max_bytes=len(PNG) - 1) == PNG

    empty = new_key()
    await store.put(empty, b"", "text/plain")
    assert await store.get(empty, max_bytes=5) == b""


async def test_keys_in_one_folder_and_nested_keys_coexist(backend: Backend) -> None:
    store, key = backend.store, new_key()
    await store.put(key, b"parent", "text/plain")
    await store.put(f"{key}/child", b"child", "text/plain")
    assert await store.get(key) == b"parent"
    assert await store.get(f"{key}/child") == b"child"


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/receipts/a",
        "receipts/../etc/passwd",
        "..",
        "receipts/./a",
        "receipts//a",
        "receipts/a/",
        "receipts\\a",
        "receipts/a\nb",
        "receipts/a\x00",
        "receipts/a\x7f",
        "receipts/\ud800",
        "r/" + "x" * 1023,
    ],
)
async def test_unsafe_keys_are_refused(backend: Backend, key: str) -> None:
    with pytest.raises(ValueError, match="object key"):
        validate_key(key)
    store = backend.store
    with pytest.raises(ValueError, match="object key"):
        await store.put(key, b"x", "text/plain")
    with pytest.raises(ValueError, match="object key"):
        await store.get(key)
    with pytest.raises(ValueError, match="object key"):
        await store.head(key)
    with pytest.raises(ValueError, match="object key"):
        await store.delete(key)
    with pytest.raises(ValueError, match="object key"):
        await store.presigned_post(key, content_type="image/png", max_size=10, expires_in=60)
    with pytest.raises(ValueError, match="object key"):
        await store.presigned_get(key, expires_in=60)


def test_ordinary_keys_are_accepted() -> None:
    for key in ["receipts/0b5f/1c2d", "notes/a.b/c..d", "x", "ünïcode/ключ", "r/" + "x" * 1022]:
        assert validate_key(key) == key


async def test_bad_arguments_are_refused(backend: Backend) -> None:
    store, key = backend.store, new_key()
    with pytest.raises(ValueError, match="content type"):
        await store.put(key, b"x", "image/png\r\nX-Evil: 1")
    with pytest.raises(ValueError, match="max_bytes"):
        await store.get(key, max_bytes=-1)
    with pytest.raises(ValueError, match="max_size"):
        await store.presigned_post(key, content_type="image/png", max_size=0, expires_in=60)
    with pytest.raises(ValueError, match="expires_in"):
        await store.presigned_post(key, content_type="image/png", max_size=10, expires_in=0)
    with pytest.raises(ValueError, match="content type"):
        await store.presigned_post(key, content_type="not a type", max_size=10, expires_in=60)
    with pytest.raises(ValueError, match="expires_in"):
        await store.presigned_get(key, expires_in=8 * 24 * 3600)


# Presigned POST and GET, on both stores


async def test_presigned_post_uploads_the_file(backend: Backend) -> None:
    key = new_key()
    before = datetime.now(UTC)
    post = await backend.store.presigned_post(
        key, content_type="image/png", max_size=len(PNG), expires_in=300
    )
    assert post.key == key
    assert post.max_size == len(PNG)
    assert post.fields["key"] == key
    assert post.fields["Content-Type"] == "image/png"
    assert post.expires_at.tzinfo is not None
    assert before + timedelta(seconds=298) <= post.expires_at <= before + timedelta(seconds=301)

    response = await backend.upload(post, PNG)
    assert response.status_code == 204, response.text
    assert await backend.store.get(key) == PNG
    info = await backend.store.head(key)
    assert info is not None
    assert info.content_type == "image/png"


async def test_presigned_post_refuses_a_file_over_max_size(
    backend: Backend, request: pytest.FixtureRequest
) -> None:
    expect_moto_gap(request, backend)
    key = new_key()
    post = await backend.store.presigned_post(
        key, content_type="image/png", max_size=len(PNG) - 1, expires_in=300
    )
    response = await backend.upload(post, PNG)
    assert response.status_code == 400
    assert await backend.store.head(key) is None


async def test_presigned_post_refuses_another_content_type(
    backend: Backend, request: pytest.FixtureRequest
) -> None:
    expect_moto_gap(request, backend)
    key = new_key()
    post = await backend.store.presigned_post(
        key, content_type="image/png", max_size=len(PNG), expires_in=300
    )
    fields = {**post.fields, "Content-Type": "text/html"}
    response = await backend.upload(post, PNG, "text/html", fields=fields)
    assert response.status_code == 403
    assert await backend.store.head(key) is None


async def test_presigned_post_refuses_another_key(
    backend: Backend, request: pytest.FixtureRequest
) -> None:
    expect_moto_gap(request, backend)
    post = await backend.store.presigned_post(
        new_key(), content_type="image/png", max_size=len(PNG), expires_in=300
    )
    other = post.key.rpartition("/")[0] + "/other"  # same folder, still not the signed key
    response = await backend.upload(post, PNG, fields={**post.fields, "key": other})
    assert response.status_code == 403
    assert await backend.store.head(other) is None


async def test_presigned_get_downloads_the_bytes(backend: Backend) -> None:
    key = new_key()
    await backend.store.put(key, PNG, "image/png")
    url = await backend.store.presigned_get(key, expires_in=300)
    response = await backend.http.get(url)
    assert response.status_code == 200
    assert response.content == PNG
    assert response.headers["content-type"] == "image/png"


async def test_s3_post_policy_pins_key_type_and_size(s3_store: S3ObjectStore) -> None:
    key = new_key()
    post = await s3_store.presigned_post(
        key, content_type="image/png", max_size=1000, expires_in=120
    )
    assert post.url.endswith(f"/{BUCKET}")  # path-style, as set for custom endpoints
    policy = json.loads(base64.b64decode(post.fields["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", 1, 1000] in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert ["starts-with", "$key", key_folder_of(key)] in conditions
    assert {"key": key} in conditions
    assert {"bucket": BUCKET} in conditions
    expiration = datetime.fromisoformat(policy["expiration"])
    assert post.expires_at <= expiration <= post.expires_at + timedelta(seconds=2)
    assert post.fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"


async def test_ensure_bucket_creates_a_bucket_outside_us_east_1(moto_endpoint: str) -> None:
    client = s3_client("eu-west-1", moto_endpoint, "testing-key-id", "testing-secret")
    store = S3ObjectStore(client, "lifegraph-eu-test")
    await store.ensure_bucket()
    await store.ensure_bucket()
    location = client.get_bucket_location(Bucket="lifegraph-eu-test")
    assert location["LocationConstraint"] == "eu-west-1"
    await store.put("notes/a", b"x", "text/plain")
    assert await store.get("notes/a") == b"x"


def key_folder_of(key: str) -> str:
    return key.rpartition("/")[0] + "/"


# The local store's signatures, expiry and routes


@pytest.fixture
async def local_http(local_store: LocalObjectStore) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(routes=local_storage_routes(local_store))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


@pytest.fixture
async def local(local_store: LocalObjectStore, local_http: httpx.AsyncClient) -> Backend:
    return Backend("local", local_store, local_http)


async def png_post(store: LocalObjectStore, key: str | None = None) -> PresignedPost:
    return await store.presigned_post(
        key or new_key(), content_type="image/png", max_size=len(PNG), expires_in=300
    )


def error_code(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/xml")
    return response.text.split("<Code>")[1].split("</Code>")[0]


async def test_local_upload_with_a_tampered_signature_is_forbidden(
    local: Backend, local_store: LocalObjectStore
) -> None:
    post = await png_post(local_store)
    signature = post.fields["signature"]
    forged = ("A" if signature[0] != "A" else "B") + signature[1:]
    for fields in [
        {**post.fields, "signature": forged},
        {**post.fields, "signature": "é"},
        {k: v for k, v in post.fields.items() if k != "signature"},
        {k: v for k, v in post.fields.items() if k != "policy"},
    ]:
        response = await local.upload(post, PNG, fields=fields)
        assert response.status_code == 403
        assert error_code(response) == "AccessDenied"
    assert await local_store.head(post.key) is None


async def test_local_upload_with_a_tampered_policy_is_forbidden(
    local: Backend, local_store: LocalObjectStore
) -> None:
    post = await png_post(local_store)
    policy = json.loads(base64.urlsafe_b64decode(post.fields["policy"] + "=="))
    policy["max_size"] = 10**9
    raw = json.dumps(policy, sort_keys=True, separators=(",", ":")).encode()
    forged = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    response = await local.upload(post, PNG * 2, fields={**post.fields, "policy": forged})
    assert response.status_code == 403
    assert await local_store.head(post.key) is None


async def test_local_upload_after_expiry_is_forbidden(
    local: Backend, local_store: LocalObjectStore, clock: Clock
) -> None:
    post = await png_post(local_store)
    clock.now += 301
    response = await local.upload(post, PNG)
    assert response.status_code == 403
    assert await local_store.head(post.key) is None


async def test_local_upload_refuses_an_empty_file(
    local: Backend, local_store: LocalObjectStore
) -> None:
    post = await png_post(local_store)
    response = await local.upload(post, b"")
    assert response.status_code == 400
    assert error_code(response) == "EntityTooSmall"
    assert await local_store.head(post.key) is None


async def test_local_upload_oversized_is_entity_too_large(
    local: Backend, local_store: LocalObjectStore
) -> None:
    post = await png_post(local_store)
    response = await local.upload(post, PNG + b"x")
    assert response.status_code == 400
    assert error_code(response) == "EntityTooLarge"
    assert await local_store.head(post.key) is None


async def test_local_upload_body_is_capped_before_parsing(
    local_http: httpx.AsyncClient, local_store: LocalObjectStore
) -> None:
    post = await png_post(local_store)
    huge = b"x" * (local_store.max_upload_size + 128 * 1024)
    response = await local_http.post(
        post.url, data=post.fields, files={"file": ("a.png", huge, "image/png")}
    )
    assert response.status_code == 400
    assert error_code(response) == "EntityTooLarge"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it arrives
        yield b"--b\r\nContent-Disposition: form-data; name=file; filename=a\r\n\r\n"
        for _ in range(20):
            yield b"x" * 8192

    streamed = await local_http.post(
        post.url, content=chunks(), headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    assert streamed.status_code == 400
    assert error_code(streamed) == "EntityTooLarge"
    assert await local_store.head(post.key) is None


async def test_local_upload_refuses_fields_outside_the_policy(
    local: Backend, local_store: LocalObjectStore
) -> None:
    post = await png_post(local_store)
    response = await local.upload(post, PNG, fields={**post.fields, "acl": "public-read"})
    assert response.status_code == 403
    assert "acl" in response.text
    missing_type = {k: v for k, v in post.fields.items() if k != "Content-Type"}
    response = await local.upload(post, PNG, fields=missing_type)
    assert response.status_code == 403
    assert await local_store.head(post.key) is None


async def test_local_upload_field_names_are_case_insensitive(
    local: Backend, local_store: LocalObjectStore
) -> None:
    post = await png_post(local_store)
    fields = {k: v for k, v in post.fields.items() if k != "Content-Type"}
    response = await local.upload(post, PNG, fields={**fields, "content-type": "image/png"})
    assert response.status_code == 204


async def test_local_upload_refuses_malformed_forms(
    local_http: httpx.AsyncClient, local_store: LocalObjectStore
) -> None:
    post = await png_post(local_store)
    no_file = await local_http.post(post.url, data=post.fields)
    assert no_file.status_code == 400
    wrong_name = await local_http.post(
        post.url, data=post.fields, files={"upload": ("a.png", PNG, "image/png")}
    )
    assert wrong_name.status_code == 400
    two_files = await local_http.post(
        post.url,
        data=post.fields,
        files=[("file", ("a.png", PNG, "image/png")), ("file", ("b.png", PNG, "image/png"))],
    )
    assert two_files.status_code == 400
    not_a_form = await local_http.post(post.url, json=post.fields)
    assert not_a_form.status_code == 400
    assert await local_store.head(post.key) is None
    assert (await local_http.get("/storage/upload")).status_code == 405


async def test_local_upload_ignores_fields_after_the_file(
    local_http: httpx.AsyncClient, local_store: LocalObjectStore
) -> None:
    post = await png_post(local_store)
    boundary = "lifegraph-boundary"
    parts: list[tuple[str, str | None, bytes]] = [
        (name, None, value.encode()) for name, value in post.fields.items()
    ]
    parts.append(("file", "a.png", PNG))
    parts.append(("key", None, b"receipts/elsewhere"))
    body = (
        b"".join(
            f"--{boundary}\r\nContent-Disposition: form-data; name={name}".encode()
            + (f"; filename={filename}\r\nContent-Type: image/png" if filename else "").encode()
            + b"\r\n\r\n"
            + value
            + b"\r\n"
            for name, filename, value in parts
        )
        + f"--{boundary}--\r\n".encode()
    )
    response = await local_http.post(
        post.url,
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 204, response.text
    assert await local_store.get(post.key) == PNG


async def test_local_download_is_signed_private_and_inert(
    local_http: httpx.AsyncClient, local_store: LocalObjectStore, clock: Clock
) -> None:
    key = new_key("notes")
    await local_store.put(key, b"<script>alert(1)</script>", "text/html")
    url = await local_store.presigned_get(key, expires_in=60)
    assert url.startswith(f"{BASE_URL}/storage/objects/{key}?expires=")

    response = await local_http.get(url)
    assert response.status_code == 200
    assert response.content == b"<script>alert(1)</script>"
    assert response.headers["cache-control"] == "private"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]

    head = await local_http.head(url)
    assert head.status_code == 200
    assert head.headers["content-length"] == "25"

    clock.now += 61
    assert (await local_http.get(url)).status_code == 403


async def test_local_download_refuses_tampering(
    local_http: httpx.AsyncClient, local_store: LocalObjectStore
) -> None:
    key, other = new_key(), new_key()
    await local_store.put(key, PNG, "image/png")
    await local_store.put(other, b"someone else's", "image/png")
    url = await local_store.presigned_get(key, expires_in=60)
    path, _, query = url.partition("?")
    params = dict(pair.split("=", 1) for pair in query.split("&"))

    signature = params["signature"]
    forged = ("A" if signature[0] != "A" else "B") + signature[1:]
    for tampered in [
        f"{path}?expires={params['expires']}&signature={forged}",
        f"{path}?expires={int(params['expires']) + 3600}&signature={signature}",
        f"{path}?expires={params['expires']}",
        path,
        f"{BASE_URL}/storage/objects/{other}?{query}",
        f"{path}?expires=%C2%B2&signature={signature}",
    ]:
        response = await local_http.get(tampered)
        assert response.status_code == 403, tampered
        assert PNG not in response.content


async def test_local_download_of_a_deleted_object_is_not_found(
    local_http: httpx.AsyncClient, local_store: LocalObjectStore
) -> None:
    key = new_key()
    await local_store.put(key, PNG, "image/png")
    url = await local_store.presigned_get(key, expires_in=60)
    await local_store.delete(key)
    response = await local_http.get(url)
    assert response.status_code == 404
    assert error_code(response) == "NoSuchKey"


async def test_local_keys_with_odd_characters_round_trip(
    local_http: httpx.AsyncClient, local_store: LocalObjectStore
) -> None:
    key = "notes/ünï cøde/a?b#c&d=e%20f"
    post = await local_store.presigned_post(
        key, content_type="image/png", max_size=len(PNG), expires_in=60
    )
    response = await local_http.post(
        post.url, data=post.fields, files={"file": ("x.png", PNG, "image/png")}
    )
    assert response.status_code == 204
    downloaded = await local_http.get(await local_store.presigned_get(key, expires_in=60))
    assert downloaded.status_code == 200
    assert downloaded.content == PNG


async def test_local_store_keeps_files_inside_its_root(
    local_store: LocalObjectStore, tmp_path: Path
) -> None:
    key = new_key()
    await local_store.put(key, PNG, "image/png")
    files = files_under(tmp_path)
    assert len(files) == 2  # the bytes and their metadata, nothing left over
    assert all(local_store.root in path.parents for path in files)
    assert local_store.data_path(key).read_bytes() == PNG
    await local_store.delete(key)
    assert files_under(tmp_path) == []


def files_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


async def test_local_presigned_post_is_bounded_by_the_store(local_store: LocalObjectStore) -> None:
    with pytest.raises(ValueError, match="max_size"):
        await local_store.presigned_post(
            new_key(),
            content_type="image/png",
            max_size=local_store.max_upload_size + 1,
            expires_in=60,
        )
    with pytest.raises(ValueError, match="secret"):
        LocalObjectStore(Path("unused"), BASE_URL, b"")


async def test_local_signatures_depend_on_the_secret(
    tmp_path: Path, local_store: LocalObjectStore, local: Backend
) -> None:
    other_store = LocalObjectStore(tmp_path / "objects", BASE_URL, b"another secret")
    post = await png_post(other_store)
    response = await local.upload(post, PNG)
    assert response.status_code == 403
    url = await other_store.presigned_get(new_key(), expires_in=60)
    assert (await local.http.get(url)).status_code == 403
