"""Builds the per-process services from the settings: database, auth, storage, OCR, jobs."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta

from auth.authenticate import Authenticator
from auth.oidc import ExternalIssuer
from auth.passwords import PasswordHasher
from auth.tokens import TokenService
from db.engine import create_engine, create_sessionmaker
from db.events import EventHub
from db.jobs import JobQueue
from lifegraph import jobs
from lifegraph.settings import Settings
from resolvers.context import Services
from resolvers.dashboard import LiveUpdates
from resolvers.documents import Documents
from resolvers.rate_limits import RateLimiter
from storage.mail import FolderTransport, MailTransport, SmtpTransport
from storage.objects import ObjectStore
from storage.ocr import OcrEngine


def build_services(settings: Settings) -> Services:
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set (`lifegraph serve` starts the embedded one)")
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
    sessionmaker = create_sessionmaker(engine)
    tokens = TokenService(
        secret=settings.secret_key,
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        ttl=timedelta(seconds=settings.access_token_ttl_seconds),
    )
    queue = JobQueue(settings.database_url)
    queue.register(jobs.blueprint())
    return Services(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        passwords=PasswordHasher(
            memory_kib=settings.password_memory_kib,
            time_cost=settings.password_time_cost,
            parallelism=settings.password_parallelism,
            workers=settings.password_workers,
        ),
        tokens=tokens,
        authenticator=Authenticator(tokens, external_issuer(settings), sessionmaker),
        storage=object_store(settings),
        ocr=ocr_engine(settings),
        jobs=queue,
        events=EventHub(settings.database_url),
        rate_limiter=RateLimiter(
            user_points=settings.rate_limit_user_points,
            address_points=settings.rate_limit_address_points,
            connections_per_address=settings.rate_limit_connections_per_address,
            redis_url=settings.redis_url,
            prefix=settings.redis_prefix,
        ),
        live=LiveUpdates(
            max_per_user=settings.max_subscriptions_per_user,
            coalesce_seconds=settings.dashboard_coalesce_seconds,
        ),
        documents=Documents(
            sessionmaker,
            trusted_only=settings.trusted_documents_only,
            cache_size=settings.persisted_query_cache_size,
        ),
        mail=mail_transport(settings),
    )


def mail_transport(settings: Settings) -> MailTransport:
    """SMTP when a URL is configured, otherwise ``.eml`` files in the data folder."""
    if settings.smtp_url:
        return SmtpTransport(settings.smtp_url, timeout=settings.smtp_timeout_seconds)
    return FolderTransport(settings.mail_dir)


def external_issuer(settings: Settings) -> ExternalIssuer | None:
    if not (settings.oidc_issuer and settings.oidc_audience and settings.oidc_jwks_url):
        return None
    return ExternalIssuer(
        settings.oidc_issuer,
        settings.oidc_audience,
        settings.oidc_jwks_url,
        refetch_cooldown_seconds=settings.oidc_refetch_cooldown_seconds,
    )


def object_store(settings: Settings) -> ObjectStore:
    """S3 when a bucket is configured, otherwise a folder served by the app itself."""
    if settings.s3_bucket:
        from storage.s3 import S3ObjectStore, s3_client

        client = s3_client(
            settings.s3_region,
            settings.s3_endpoint_url,
            settings.s3_access_key_id,
            settings.s3_secret_access_key,
        )
        return S3ObjectStore(client, settings.s3_bucket)
    from storage.local import LocalObjectStore

    secret = hashlib.sha256(b"lifegraph local storage\0" + settings.secret_key.encode()).digest()
    return LocalObjectStore(
        settings.objects_dir,
        settings.public_url,
        secret,
        max_upload_size=settings.max_upload_bytes,
    )


async def prepare_storage(services: Services) -> None:
    """Creates the bucket of a self-hosted S3 (MinIO, moto); real AWS buckets are provisioned."""
    settings = services.settings
    if settings.s3_bucket and settings.s3_endpoint_url:
        from storage.s3 import S3ObjectStore

        assert isinstance(services.storage, S3ObjectStore)
        await services.storage.ensure_bucket()


def ocr_engine(settings: Settings) -> OcrEngine:
    if settings.ocr_engine == "textract":
        import boto3

        from storage.ocr.textract import TextractEngine

        return TextractEngine(
            boto3.client("textract", region_name=settings.textract_region or settings.s3_region)
        )
    from storage.ocr.local import LocalOcrEngine

    return LocalOcrEngine()


@contextlib.asynccontextmanager
async def opened(services: Services) -> AsyncIterator[Services]:
    """The services opened and closed around a one-off command, as the app's lifespan
    does around a server (``lifegraph demo``, ``lifegraph receipts reprocess``)."""
    await services.jobs.open()
    try:
        await prepare_storage(services)
        yield services
    finally:
        await services.events.close()
        await services.jobs.close()
        await services.engine.dispose()
