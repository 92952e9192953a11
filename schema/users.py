"""Users: the signed-in profile, admin listing, and account changes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Self

import strawberry

from auth.permissions import Permission
from db import users as rows
from resolvers import ids
from resolvers import users as resolvers
from resolvers.context import Info
from schema.errors import DeletePayload, OkPayload, Payload, UserError
from schema.node import Node, fetches_node
from schema.pagination import Connection
from schema.permissions import Allowed, SignedIn, requires

if TYPE_CHECKING:
    from schema.roles import Role


@strawberry.type
class UserSettings:
    week_start: int = strawberry.field(description="First day of the week: 0 Sunday to 6 Saturday.")
    locale: str
    timezone: str = strawberry.field(description="IANA time zone; 'today' is computed in it.")
    currency: str = strawberry.field(description="ISO 4217 code, the default for money.")
    notifications_email_enabled: bool
    daily_digest_hour: int | None = strawberry.field(
        description="The hour (0-23, in your time zone) of the daily digest email; null for none."
    )


@strawberry.type
class User(Node):
    id: strawberry.ID
    email: str
    email_verified: bool = strawberry.field(
        description="Whether the owner proved the address (the emailed link, or the OpenID "
        "issuer's word); reminders go only to a verified one."
    )
    display_name: str
    created_at: datetime
    settings: UserSettings
    pk: strawberry.Private[object]

    @strawberry.field
    async def roles(self, info: Info) -> list[Annotated[Role, strawberry.lazy("schema.roles")]]:
        from schema.roles import Role

        loaded = await info.context.loaders.roles_by_user.load(self.pk)  # type: ignore[arg-type]
        return [Role.from_row(row) for row in loaded]

    @classmethod
    def from_row(cls, row: rows.User) -> Self:
        settings = row.settings
        return cls(
            id=strawberry.ID(ids.encode("user", row.id)),
            email=row.email,
            email_verified=row.email_verified,
            display_name=row.display_name,
            created_at=row.created_at,
            settings=UserSettings(
                week_start=settings.week_start,
                locale=settings.locale,
                timezone=settings.timezone,
                currency=settings.currency,
                notifications_email_enabled=settings.notifications_email_enabled,
                daily_digest_hour=settings.daily_digest_hour,
            ),
            pk=row.id,
        )


@strawberry.input
class UserSettingsInput:
    week_start: int | None = strawberry.UNSET
    locale: str | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    currency: str | None = strawberry.UNSET
    notifications_email_enabled: bool | None = strawberry.UNSET
    daily_digest_hour: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="0 to 23 for a daily digest at that hour of your time zone; null for none.",
    )


@strawberry.input
class UpdateProfileInput:
    display_name: str | None = strawberry.UNSET
    settings: UserSettingsInput | None = strawberry.UNSET


@strawberry.input
class ChangePasswordInput:
    current_password: str
    new_password: str


@strawberry.type
class UserPayload(Payload):
    user: User | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: rows.User) -> Self:
        return cls(user=User.from_row(result))


@fetches_node("user")
async def _user_node(info: Info, global_id: str) -> User | None:
    row = await resolvers.user(info.context, global_id)
    return User.from_row(row) if row else None


@strawberry.type
class Query:
    @strawberry.field(extensions=requires(SignedIn()))
    async def me(self, info: Info) -> User:
        return User.from_row(await resolvers.me(info.context))

    @strawberry.field(
        extensions=requires(SignedIn()),
        description="Admins read any user; members only themselves.",
    )
    async def user(self, info: Info, id: strawberry.ID) -> User | None:
        return await _user_node(info, id)

    @strawberry.field(extensions=requires(Allowed(Permission.USERS_READ)))
    async def users(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
    ) -> Connection[User]:
        page = await resolvers.user_page(info.context, first, after, search)
        return Connection.of(page, User.from_row)


@strawberry.type
class Mutation:
    @strawberry.mutation(extensions=requires(SignedIn()))
    async def update_profile(self, info: Info, input: UpdateProfileInput) -> UserPayload:
        return await UserPayload.run(resolvers.update_profile(info.context, input))

    @strawberry.mutation(
        extensions=requires(SignedIn()),
        description="Changes the password and ends every other session.",
    )
    async def change_password(self, info: Info, input: ChangePasswordInput) -> OkPayload:
        return await OkPayload.run(resolvers.change_password(info.context, input))

    @strawberry.mutation(extensions=requires(SignedIn()))
    async def delete_my_account(self, info: Info, password: str) -> OkPayload:
        return await OkPayload.run(resolvers.delete_my_account(info.context, password))

    @strawberry.mutation(extensions=requires(Allowed(Permission.USERS_WRITE)))
    async def delete_user(self, info: Info, id: strawberry.ID) -> DeletePayload:
        return await DeletePayload.run(resolvers.delete_user(info.context, id))
