"""What every resolver receives: the request's user, database access, loaders and settings."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo

import strawberry
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from auth.authenticate import Authenticator, NotAuthenticated
from auth.passwords import PasswordHasher
from auth.tokens import TokenService
from db.engine import RequestSessions, Sessionmaker
from db.events import DUE_WEBHOOKS, EventHub
from db.jobs import JobQueue
from db.users import Principal
from lifegraph.settings import Settings
from resolvers.dashboard import LiveUpdates
from resolvers.documents import Documents
from resolvers.errors import Unauthenticated
from resolvers.links import DownloadLinks
from resolvers.loaders import Loaders, build_loaders
from resolvers.rate_limits import RateLimiter
from storage.mail import MailTransport
from storage.objects import ObjectStore
from storage.ocr.base import OcrEngine


@dataclass(frozen=True)
class Services:
    """Built once per process (``lifegraph.services.build_services``)."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: Sessionmaker
    passwords: PasswordHasher
    tokens: TokenService
    authenticator: Authenticator
    storage: ObjectStore
    ocr: OcrEngine
    jobs: JobQueue
    events: EventHub
    rate_limiter: RateLimiter
    live: LiveUpdates
    documents: Documents
    mail: MailTransport
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    links: DownloadLinks = field(default_factory=DownloadLinks)


@dataclass(eq=False, slots=True)
class Context:
    """Built per request. Loaders are per request too, so nothing is cached across users;
    they are built on first use, since many requests (and most websockets) need none."""

    services: Services
    request: Request | WebSocket
    authorization: str | None
    response: Response | None = None
    """Where an HTTP request's headers go (rate limits); None on a websocket."""
    connection_params: dict[str, object] | None = None
    socket_admitted: bool = False
    """A websocket's sign-in counted against its address's limit (once per connection)."""
    password_checked: bool = False
    """A password was checked in this request (one is the most, see resolvers.passwords)."""
    _principal: asyncio.Future[Principal] | None = field(default=None, repr=False)
    _signed_in: Principal | None = field(default=None, repr=False)
    """The principal once authenticated: a websocket keeps it, not the finished task."""
    _loaders: Loaders | None = field(default=None, repr=False)
    _sessions: RequestSessions | None = field(default=None, repr=False)

    @classmethod
    def acting_as(cls, services: Services, principal: Principal) -> Context:
        """A context without a request, signed in as ``principal``: the server's own
        reads through the schema (a data export) see what the user would."""
        scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": []}
        return cls(
            services=services,
            request=Request(scope | {"client": None}),
            authorization=None,
            _signed_in=principal,
        )

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = build_loaders(self.sessionmaker)
        return self._loaders

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def sessionmaker(self) -> RequestSessions:
        """This request's sessions, on its one connection (``db.engine.RequestSessions``);
        a websocket gives its connection back after every use."""
        if self._sessions is None:
            self._sessions = RequestSessions(
                self.services.engine,
                self.services.sessionmaker,
                keep=not isinstance(self.request, WebSocket),
                after_commit=self._committed,
            )
        return self._sessions

    async def _committed(self, info: Mapping[str, Any]) -> None:
        """A transaction of this request committed: the webhooks it wrote deliveries for
        get their jobs (a job lost here is queued again by the periodic maintenance)."""
        if due := info.get(DUE_WEBHOOKS):
            await self.services.jobs.deliver_webhooks(sorted(due))

    async def close(self) -> None:
        """The request is over: its connection goes back to the pool."""
        if self._sessions is not None:
            await self._sessions.close()

    @property
    def client_address(self) -> str:
        """The client's address (Uvicorn takes it from a trusted proxy's headers)."""
        client = self.request.client
        return client.host if client else "unknown"

    @property
    def known_user_id(self) -> uuid.UUID | None:
        """The user once this request has authenticated one, without authenticating."""
        return self._signed_in.user_id if self._signed_in is not None else None

    async def signed_in_user(self) -> uuid.UUID | None:
        """The user if the request carries valid credentials, else None (no error)."""
        if not self.authorization:
            return None
        try:
            return (await self.principal()).user_id
        except Unauthenticated:
            return None

    def today(self, timezone: str) -> date:
        """The date now in ``timezone``, by the services' clock (tests set it)."""
        return self.services.clock().astimezone(ZoneInfo(timezone)).date()

    def refresh_loaders(self) -> None:
        """A subscription lives long: each event it sends reads afresh, not from a cache."""
        self._loaders = None

    def reauthenticate(self, authorization: str | None) -> None:
        """A websocket's credentials arrive after the connection opens (connection_init)."""
        self.authorization = authorization
        self._principal = None
        self._signed_in = None

    async def principal(self) -> Principal:
        """The signed-in user, authenticated once per request; raises UNAUTHENTICATED."""
        if self._signed_in is not None:
            return self._signed_in
        if self._principal is None:
            self._principal = asyncio.ensure_future(self._authenticate())
        pending = self._principal
        principal = await asyncio.shield(pending)
        if self._principal is pending:  # not signed in afresh meanwhile
            self._signed_in, self._principal = principal, None
        return principal

    async def _authenticate(self) -> Principal:
        try:
            return await self.services.authenticator.principal(
                self.authorization, self.sessionmaker
            )
        except NotAuthenticated as error:
            raise Unauthenticated(str(error)) from error


Info: TypeAlias = strawberry.Info[Context, None]
