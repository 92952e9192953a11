"""Sign-up, sign-in and sessions. Only these mutations work without a token."""

from __future__ import annotations

from datetime import datetime
from typing import Self

import strawberry

from resolvers import sessions as resolvers
from resolvers.context import Info
from schema.errors import OkPayload, Payload, UserError
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
