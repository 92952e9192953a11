"""The ASGI application factory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from auth.authenticate import Authenticator
from auth.oidc import ExternalIssuer
from auth.passwords import PasswordHasher
from auth.tokens import TokenService
from db.engine import create_engine, create_sessionmaker
from lifegraph.context import Context, Services
from lifegraph.http import BodySizeLimit, healthz, readyz
from lifegraph.settings import Settings
from resolvers.loaders import build_loaders
from schema.root import build_schema


class GraphQLApp(GraphQL[Context, None]):
    def __init__(self, services: Services) -> None:
        settings = services.settings
        super().__init__(
            build_schema(max_depth=settings.max_query_depth),
            graphql_ide="graphiql" if settings.is_development else None,
            allow_queries_via_get=settings.is_development,
        )
        self.services = services

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context(
            services=self.services,
            request=request,
            authorization=request.headers.get("authorization"),
            loaders=build_loaders(self.services.sessionmaker),
        )


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
    external = None
    if settings.oidc_issuer and settings.oidc_audience and settings.oidc_jwks_url:
        external = ExternalIssuer(
            settings.oidc_issuer,
            settings.oidc_audience,
            settings.oidc_jwks_url,
            refetch_cooldown_seconds=settings.oidc_refetch_cooldown_seconds,
        )
    return Services(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        passwords=PasswordHasher(
            memory_kib=settings.password_memory_kib,
            time_cost=settings.password_time_cost,
            parallelism=settings.password_parallelism,
        ),
        tokens=tokens,
        authenticator=Authenticator(tokens, external, sessionmaker),
    )


def create_app(settings: Settings | None = None) -> Starlette:
    services = build_services(settings or Settings())
    graphql = GraphQLApp(services)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await services.engine.dispose()

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=services.settings.cors_origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "Apollo-Require-Preflight"],
                max_age=600,
            ),
            Middleware(BodySizeLimit, max_bytes=services.settings.max_body_bytes),
        ],
        lifespan=lifespan,
    )
    app.state.services = services
    return app
