"""The HTTP side of :class:`storage.local.LocalObjectStore`: what S3 itself would serve.

``POST /storage/upload`` takes the same browser form as an S3 presigned POST (the policy
fields, then the file as ``file``) and answers as S3 does: 204 when stored, 403 for a bad
signature, an expired policy or a field the policy does not allow, 400 for a file of the
wrong size or a malformed form, with S3's XML error document. Nothing is stored unless
every check passes.

``GET /storage/objects/{key}`` serves an object to whoever holds a signed URL.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message

from storage.local import LocalObjectStore

__all__ = ["local_storage_routes"]

# Room for the form fields and multipart boundaries around the largest allowed file.
_FORM_OVERHEAD = 64 * 1024
_MAX_FIELDS = 8
_MAX_FIELD_SIZE = 8 * 1024
_POLICY_FIELDS = frozenset({"key", "content-type", "policy", "signature"})
# User files are served from the API's own origin: never let a browser run them.
_DOWNLOAD_HEADERS = {
    "Cache-Control": "private",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


class _BodyTooLarge(Exception):
    pass


def _error(status_code: int, code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
    )
    return Response(body, status_code=status_code, media_type="application/xml")


def local_storage_routes(store: LocalObjectStore) -> list[BaseRoute]:
    async def upload(request: Request) -> Response:
        form = await _read_form(request, store.max_upload_size + _FORM_OVERHEAD)
        if isinstance(form, Response):
            return form
        try:
            return await _store_upload(store, form)
        finally:
            await form.close()

    async def download(request: Request) -> Response:
        key: str = request.path_params["key"]
        expires = request.query_params.get("expires", "")
        signature = request.query_params.get("signature", "")
        if not store.verify_download(key, expires, signature):
            return _error(403, "AccessDenied", "Request has expired or the signature is invalid.")
        info = await store.head(key)
        if info is None:
            return _error(404, "NoSuchKey", "The specified key does not exist.")
        return FileResponse(
            store.data_path(key),
            media_type=info.content_type or "application/octet-stream",
            headers=_DOWNLOAD_HEADERS,
        )

    return [
        Route("/storage/upload", upload, methods=["POST"]),
        Route("/storage/objects/{key:path}", download, methods=["GET"]),
    ]


async def _read_form(request: Request, max_body: int) -> FormData | Response:
    """Parses the form, reading at most ``max_body`` bytes of it whatever it declares."""
    too_large = _error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum size.")
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_body:
        return too_large
    received = 0

    async def limited_receive() -> Message:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > max_body:
            raise _BodyTooLarge
        return message

    limited = Request(request.scope, limited_receive)
    try:
        return await limited.form(
            max_files=1, max_fields=_MAX_FIELDS, max_part_size=_MAX_FIELD_SIZE
        )
    except _BodyTooLarge:
        return too_large
    except HTTPException as error:
        return _error(400, "MalformedPOSTRequest", str(error.detail))


async def _store_upload(store: LocalObjectStore, form: FormData) -> Response:
    fields: dict[str, str] = {}
    upload: UploadFile | None = None
    # As in S3, the file is the last part that counts: anything after it is ignored.
    for name, value in form.multi_items():
        if name == "file":
            if not isinstance(value, UploadFile):
                return _error(400, "MalformedPOSTRequest", "The file must be sent as a file.")
            upload = value
            break
        if not isinstance(value, str):
            return _error(400, "MalformedPOSTRequest", "Only the field 'file' may be a file.")
        if name.lower() in fields:
            return _error(400, "InvalidArgument", f"Field {name!r} is given more than once.")
        fields[name.lower()] = value
    if upload is None:
        return _error(400, "MalformedPOSTRequest", "The form must end with a 'file' part.")

    policy = store.verify_upload(fields.get("policy", ""), fields.get("signature", ""))
    if policy is None:
        return _error(403, "AccessDenied", "Policy expired or the signature is invalid.")
    if extra := sorted(fields.keys() - _POLICY_FIELDS):
        return _error(403, "AccessDenied", f"Extra input fields: {', '.join(extra)}")
    if fields.get("key") != policy.key:
        return _error(
            403, "AccessDenied", f'Policy Condition failed: ["eq", "$key", "{policy.key}"]'
        )
    if fields.get("content-type") != policy.content_type:
        condition = f'["eq", "$Content-Type", "{policy.content_type}"]'
        return _error(403, "AccessDenied", f"Policy Condition failed: {condition}")

    size = upload.size if upload.size is not None else _measure(upload)
    if size < 1:
        return _error(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum.")
    if size > policy.max_size:
        return _error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum size.")
    await store.put_file(policy.key, upload.file, policy.content_type)
    return Response(status_code=204)


def _measure(upload: UploadFile) -> int:
    size = upload.file.seek(0, 2)
    upload.file.seek(0)
    return size
