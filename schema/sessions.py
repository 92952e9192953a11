"""Sign-up, sign-in and sessions, and the signed-in devices. Only the sign-in mutations
work without a token."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry

from resolvers import ids
from resolvers import sessions as resolvers
from resolvers.context import Info
from schema.errors import OkPayload, Payload, UserError
from schema.node import Node, fetches_node
from schema.permissions import SignedIn, requires
from schema.users import User


@strawberry.type
class AuthSession:
    access_token: str
    refresh_token: str
    access_token_expires_at: datetime
    user: User


@strawberry.type
class AuthPayload(Payload):
    session: AuthSession | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: resolvers.SignedIn) -> Self:
        return cls(
            session=AuthSession(
                access_token=result.access_token,
                refresh_token=result.refresh_token,
                access_token_expires_at=result.access_token_expires_at,
                user=User.from_row(result.user),
            )
        )


@strawberry.type(description="A signed-in device: one sign-in and the refreshes that follow it.")
class Session(Node):
    id: strawberry.ID
    current: bool = strawberry.field(description="Whether this request is signed in with it.")
    created_at: datetime
    last_used_at: datetime = strawberry.field(
        description=(
            "When it last refreshed its access token, which a device in use does as each "
            "one expires (15 minutes by default); the requests in between are not counted."
        )
    )
    user_agent: str | None = strawberry.field(
        description="The User-Agent header of its last sign-in or refresh (at most 500 characters)."
    )
    ip_address: str | None = strawberry.field(
        description="The client address of its last sign-in or refresh, as the server sees it."
    )

    @classmethod
    def of(cls, found: resolvers.OpenSession) -> Self:
        row = found.row
        return cls(
            id=strawberry.ID(ids.encode(resolvers.KIND, row.id)),
            current=found.current,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            user_agent=row.user_agent,
            ip_address=row.ip_address,
        )


@fetches_node(resolvers.KIND)
async def _session_node(info: Info, global_id: str) -> Session | None:
    found = await resolvers.my_session(info.context, global_id)
    return Session.of(found) if found is not None else None


@strawberry.input
class RegisterInput:
    email: str
    password: str
    display_name: str


@strawberry.input
class LoginInput:
    email: str
    password: str


@strawberry.type
class Query:
    @strawberry.field(
        extensions=requires(SignedIn()),
        description="Your devices signed in now (sessions not ended nor expired), newest first.",
    )
    async def my_sessions(self, info: Info) -> list[Session]:
        return [Session.of(found) for found in await resolvers.my_sessions(info.context)]


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def register(self, info: Info, input: RegisterInput) -> AuthPayload:
        return await AuthPayload.run(resolvers.register(info.context, input))

    @strawberry.mutation
    async def login(self, info: Info, input: LoginInput) -> AuthPayload:
        return await AuthPayload.run(resolvers.login(info.context, input))

    @strawberry.mutation(description="Rotates the refresh token; each one works once.")
    async def refresh_session(self, info: Info, refresh_token: str) -> AuthPayload:
        return await AuthPayload.run(resolvers.refresh(info.context, refresh_token))

    @strawberry.mutation(description="Ends the session of this refresh token.")
    async def logout(self, info: Info, refresh_token: str) -> OkPayload:
        return await OkPayload.run(resolvers.logout(info.context, refresh_token))

    @strawberry.mutation(extensions=requires(SignedIn()))
    async def logout_everywhere(self, info: Info) -> OkPayload:
        return await OkPayload.run(resolvers.logout_everywhere(info.context))

    @strawberry.mutation(
        extensions=requires(SignedIn()),
        description=(
            "Ends one of your sessions: its refresh token stops working at once, its access "
            "tokens at their next request. Ending the current one signs out."
        ),
    )
    async def revoke_session(self, info: Info, id: strawberry.ID) -> OkPayload:
        return await OkPayload.run(resolvers.revoke_session(info.context, id))
