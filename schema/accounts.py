"""Password recovery and email verification. ``requestPasswordReset``, ``resetPassword``
and ``verifyEmail`` work without a token: the emailed token says who."""

from __future__ import annotations

import strawberry

from resolvers import accounts as resolvers
from resolvers.context import Info
from schema.errors import OkPayload
from schema.permissions import SignedIn, requires
from schema.sessions import AuthPayload
from schema.users import UserPayload


@strawberry.input
class ResetPasswordInput:
    token: str
    new_password: str


@strawberry.type
class Query:
    pass


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Mails a reset link if the address has an account; always answers ok."
    )
    async def request_password_reset(self, info: Info, email: str) -> OkPayload:
        return await OkPayload.run(resolvers.request_password_reset(info.context, email))

    @strawberry.mutation(
        description="Sets a new password with the emailed token (once, for a short while), "
        "ends every session and starts a new one."
    )
    async def reset_password(self, info: Info, input: ResetPasswordInput) -> AuthPayload:
        return await AuthPayload.run(resolvers.reset_password(info.context, input))

    @strawberry.mutation(extensions=requires(SignedIn()))
    async def request_email_verification(self, info: Info) -> OkPayload:
        return await OkPayload.run(resolvers.request_email_verification(info.context))

    @strawberry.mutation(description="Marks the email verified with the emailed token.")
    async def verify_email(self, info: Info, token: str) -> UserPayload:
        return await UserPayload.run(resolvers.verify_email(info.context, token))
