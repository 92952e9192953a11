"""Object storage in an S3 bucket, through boto3.

boto3 is synchronous, so every call runs in a worker thread (:func:`asyncio.to_thread`);
one client is shared by all threads, which boto3 supports (sessions are not shared).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import IO, TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from storage.objects import (
    ObjectInfo,
    ObjectNotFound,
    PresignedPost,
    key_folder,
    validate_content_type,
    validate_expires_in,
    validate_key,
    validate_max_size,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

__all__ = ["S3ObjectStore", "s3_client"]

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404"})


def s3_client(
    region: str | None,
    endpoint_url: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
) -> S3Client:
    """An S3 client with SigV4, bounded timeouts and standard retries.

    Without keys, boto3's default chain applies (environment, instance or task role).
    With an ``endpoint_url`` (MinIO, moto, LocalStack) addressing is path-style, since
    such servers rarely have a DNS name per bucket.
    """
    config = Config(
        signature_version="s3v4",
        connect_timeout=5,
        read_timeout=30,
        retries={"max_attempts": 4, "mode": "standard"},
        max_pool_connections=32,
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    session = boto3.session.Session()
    return session.client(
        "s3",
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=config,
    )


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3ObjectStore:
    def __init__(self, client: S3Client, bucket: str) -> None:
        if not bucket:
            raise ValueError("bucket must not be empty")
        self.client = client
        self.bucket = bucket

    async def ensure_bucket(self) -> None:
        """Creates the bucket if it does not exist (embedded, development and test setups)."""
        await asyncio.to_thread(self._ensure_bucket)

    def _ensure_bucket(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except ClientError as error:
            if _error_code(error) not in {"404", "NoSuchBucket", "NotFound"}:
                raise
        # The stubs type LocationConstraint as a Literal of known regions; ours is any string.
        region = self.client.meta.region_name
        try:
            if region and region != "us-east-1":
                self.client.create_bucket(
                    Bucket=self.bucket,
                    CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
                )
            else:
                self.client.create_bucket(Bucket=self.bucket)
        except ClientError as error:
            if _error_code(error) != "BucketAlreadyOwnedByYou":
                raise

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        validate_key(key)
        validate_content_type(content_type)
        await asyncio.to_thread(
            self.client.put_object,
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
        )

    async def put_file(self, key: str, source: IO[bytes], content_type: str) -> None:
        """A multipart upload for large files, part by part (boto3's transfer manager)."""
        validate_key(key)
        validate_content_type(content_type)
        await asyncio.to_thread(
            self.client.upload_fileobj,
            source,
            self.bucket,
            key,
            ExtraArgs={"ContentType": content_type},
        )

    async def get(self, key: str, *, max_bytes: int | None = None) -> bytes:
        validate_key(key)
        if max_bytes is not None and max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        return await asyncio.to_thread(self._get, key, max_bytes)

    def _get(self, key: str, max_bytes: int | None) -> bytes:
        try:
            if max_bytes is None:
                response = self.client.get_object(Bucket=self.bucket, Key=key)
            else:
                response = self.client.get_object(
                    Bucket=self.bucket, Key=key, Range=f"bytes=0-{max_bytes}"
                )
        except ClientError as error:
            code = _error_code(error)
            if code in _NOT_FOUND_CODES:
                raise ObjectNotFound(key) from error
            if code == "InvalidRange":  # a range of an empty object
                return b""
            raise
        body = response["Body"]
        try:
            # A server that ignores Range still cannot make us read more than the limit.
            return body.read() if max_bytes is None else body.read(max_bytes + 1)
        finally:
            body.close()

    async def head(self, key: str) -> ObjectInfo | None:
        validate_key(key)
        try:
            response = await asyncio.to_thread(self.client.head_object, Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _error_code(error) in _NOT_FOUND_CODES:
                return None
            raise
        return ObjectInfo(size=response["ContentLength"], content_type=response.get("ContentType"))

    async def delete(self, key: str) -> None:
        validate_key(key)
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=key)

    async def presigned_post(
        self, key: str, *, content_type: str, max_size: int, expires_in: int
    ) -> PresignedPost:
        """A POST policy pinning the key, the content type and a size of 1 to ``max_size``.

        ``generate_presigned_post`` adds the exact ``{"key": key}`` condition itself; the
        ``starts-with`` condition on the key's folder is a second fence around it.
        """
        validate_key(key)
        validate_content_type(content_type)
        validate_max_size(max_size)
        validate_expires_in(expires_in)
        conditions: list[Any] = [
            ["content-length-range", 1, max_size],
            {"Content-Type": content_type},
        ]
        if folder := key_folder(key):
            conditions.append(["starts-with", "$key", folder])
        # Taken before signing, so it is never later than the policy's own expiration.
        expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=expires_in)
        post = await asyncio.to_thread(
            self.client.generate_presigned_post,
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=conditions,
            ExpiresIn=expires_in,
        )
        return PresignedPost(
            url=post["url"],
            fields={name: str(value) for name, value in post["fields"].items()},
            key=key,
            expires_at=expires_at,
            max_size=max_size,
        )

    async def presigned_get(self, key: str, *, expires_in: int) -> str:
        return (await self.presigned_get_many([key], expires_in=expires_in))[0]

    async def presigned_get_many(self, keys: Sequence[str], *, expires_in: int) -> list[str]:
        """Signed in one thread hop: signing is local work, but fetching credentials
        (an instance role's, say) is not."""
        for key in keys:
            validate_key(key)
        validate_expires_in(expires_in)
        return await asyncio.to_thread(self._presigned_gets, keys, expires_in)

    def _presigned_gets(self, keys: Sequence[str], expires_in: int) -> list[str]:
        return [
            self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
            )
            for key in keys
        ]
