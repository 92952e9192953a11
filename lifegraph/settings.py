"""Settings from environment variables (prefix ``LIFEGRAPH_``) and an optional ``.env`` file."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, BeforeValidator, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "change-me-development-only-secret-key"

# OWASP password storage cheat sheet, argon2id minimum: m=19 MiB, t=2, p=1.
OWASP_MIN_MEMORY_KIB = 19 * 1024
OWASP_MIN_TIME_COST = 2


OcrEngineName = Literal["local", "textract"]
LogFormat = Literal["auto", "json", "console"]
LogLevel = Annotated[
    Literal["debug", "info", "warning", "error"], BeforeValidator(lambda value: str(value).lower())
]


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LIFEGRAPH_",
        env_file=".env",
        # An empty variable is an unset one, so a compose file or a manifest can name
        # every setting and leave some to their defaults.
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    environment: Environment = Environment.DEVELOPMENT
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "LIFEGRAPH_DATABASE_URL")
    )
    data_dir: Path = Path(".lifegraph")
    host: str = "127.0.0.1"
    port: int = 8000
    log_format: LogFormat = Field(
        default="auto",
        description="auto: readable on a terminal in development, JSON lines otherwise.",
    )
    log_level: LogLevel = "info"

    secret_key: str = DEFAULT_SECRET
    token_issuer: str = "lifegraph"
    token_audience: str = "lifegraph-api"
    access_token_ttl_seconds: int = Field(default=900, ge=30, le=86_400)
    refresh_token_ttl_seconds: int = Field(default=30 * 86_400, ge=300)

    password_memory_kib: int = Field(default=64 * 1024, ge=OWASP_MIN_MEMORY_KIB)
    password_time_cost: int = Field(default=3, ge=OWASP_MIN_TIME_COST)
    password_parallelism: int = Field(default=4, ge=1)
    password_workers: int = Field(
        default_factory=lambda: max(1, (os.cpu_count() or 2) // 2),
        ge=1,
        description="Threads hashing passwords: half the cores, leaving the rest to requests.",
    )

    sign_in_max_failures: int = Field(default=10, ge=1)
    sign_in_max_failures_per_email: int = Field(default=100, ge=1)
    sign_in_window_seconds: int = Field(default=900, ge=1)

    smtp_url: str | None = Field(
        default=None,
        description="smtp://user:pass@host:587 (STARTTLS) or smtps://...:465; unset: "
        "messages are written to DATA_DIR/mail/ as .eml files.",
    )
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
    mail_from: str = "lifegraph <no-reply@localhost>"
    app_url: str | None = Field(
        default=None,
        description="The client app that email links open (/reset-password, /verify-email); "
        "unset: the public URL.",
    )
    password_reset_ttl_seconds: int = Field(default=1800, ge=60, le=86_400)
    password_reset_max_requests: int = Field(default=5, ge=1)
    password_reset_max_requests_per_email: int = Field(default=20, ge=1)
    password_reset_window_seconds: int = Field(default=3600, ge=1)
    email_verification_ttl_seconds: int = Field(default=2 * 86_400, ge=300)
    email_verification_interval_seconds: int = Field(default=60, ge=0)
    email_verification_max_per_day: int = Field(default=5, ge=1)

    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_refetch_cooldown_seconds: float = Field(default=30.0, ge=0)

    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where clients reach this server; the local object store signs URLs under it.",
    )
    s3_bucket: str | None = None
    s3_region: str = "us-east-1"
    s3_endpoint_url: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    upload_url_ttl_seconds: int = Field(default=600, ge=30, le=3600)
    image_url_ttl_seconds: int = Field(default=300, ge=30, le=86_400)
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)

    export_ttl_seconds: int = Field(
        default=7 * 86_400, ge=60, description="How long a data export can be downloaded."
    )
    export_url_ttl_seconds: int = Field(default=900, ge=30, le=7 * 86_400)

    ocr_engine: OcrEngineName = "local"
    textract_region: str | None = None

    in_process_worker: bool = False
    job_stalled_after_seconds: float = Field(default=60.0, gt=0)

    webhooks_per_user: int = Field(default=20, ge=1)
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long one delivery may take, connecting included."
    )
    webhook_disable_after_seconds: float = Field(
        default=86_400.0,
        gt=0,
        description="An endpoint failing for this long is disabled, its pending deliveries failed.",
    )

    tune_gc: bool = Field(
        default=True, description="Fewer, shorter garbage-collector pauses in server processes."
    )
    dashboard_coalesce_seconds: float = Field(default=0.25, ge=0)
    ws_init_timeout_seconds: float = Field(default=10.0, gt=0)
    max_ws_message_bytes: int = Field(default=64 * 1024, ge=1024)
    max_subscriptions_per_user: int = Field(default=200, ge=1)
    shutdown_grace_seconds: float = Field(default=30.0, gt=0)

    cors_origins: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_query_depth: int = Field(default=12, ge=2)
    max_query_aliases: int = Field(default=30, ge=0)
    max_query_directives: int = Field(default=20, ge=0)
    max_query_tokens: int = Field(default=5000, ge=100)
    max_query_cost: int = Field(default=2000, ge=1)
    trusted_documents_only: bool = Field(
        default=False, description="Run only documents registered by `trust-documents`."
    )
    compiled_plans: bool = Field(
        default=True,
        description="Run query documents seen before from a plan built once (schema.plans).",
    )
    persisted_query_cache_size: int = Field(default=1000, ge=0)
    introspection: bool | None = Field(
        default=None,
        description="Introspection and field suggestions; unset: on in development only.",
    )
    db_pool_size: int = Field(
        default=20,
        ge=1,
        description="Connections per process: each request in flight holds one.",
    )

    rate_limit_user_points: int = Field(default=20_000, ge=1)
    rate_limit_address_points: int = Field(default=60_000, ge=1)
    rate_limit_connections_per_address: int = Field(default=120, ge=1)
    redis_url: str | None = Field(
        default=None, description="Shares the rate limits' counts between processes."
    )
    redis_prefix: str = "lifegraph"

    metrics_token: str | None = Field(
        default=None,
        min_length=16,
        description="The bearer token /metrics asks for; unset: open in development only.",
    )
    tracing: bool | None = Field(
        default=None,
        description="OpenTelemetry tracing; unset: on when OTEL_EXPORTER_OTLP_ENDPOINT is set.",
    )

    @model_validator(mode="after")
    def _check_production(self) -> Settings:
        weak_secret = self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32
        if self.environment is Environment.PRODUCTION and weak_secret:
            raise ValueError(
                "LIFEGRAPH_SECRET_KEY must be set to a random value of at least 32 "
                "characters in production"
            )
        oidc = (self.oidc_issuer, self.oidc_audience, self.oidc_jwks_url)
        if any(oidc) and not all(oidc):
            raise ValueError(
                "LIFEGRAPH_OIDC_ISSUER, LIFEGRAPH_OIDC_AUDIENCE and LIFEGRAPH_OIDC_JWKS_URL "
                "go together"
            )
        return self

    @property
    def is_development(self) -> bool:
        return self.environment is Environment.DEVELOPMENT

    @property
    def metrics_served(self) -> bool:
        """Whether the app answers /metrics: with a token, or openly in development."""
        return self.metrics_token is not None or self.is_development

    @property
    def introspection_enabled(self) -> bool:
        return self.is_development if self.introspection is None else self.introspection

    @property
    def pgdata(self) -> Path:
        return self.data_dir.resolve() / "pgdata"

    @property
    def objects_dir(self) -> Path:
        return self.data_dir.resolve() / "objects"

    @property
    def mail_dir(self) -> Path:
        return self.data_dir.resolve() / "mail"

    @property
    def app_link_base(self) -> str:
        return (self.app_url or self.public_url).rstrip("/")
