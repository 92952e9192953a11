"""Turns an ``Authorization`` header into a Principal, or raises NotAuthenticated."""

from __future__ import annotations

import dataclasses
import logging
import uuid

from sqlalchemy.exc import IntegrityError

from auth.accounts import add_member
from auth.oidc import ExternalIdentity, ExternalIssuer, ExternalTokenError
from auth.tokens import InvalidToken, TokenService
from db import users
from db.engine import SessionFactory, Sessionmaker
from db.users import Principal

logger = logging.getLogger("lifegraph.auth")


class NotAuthenticated(Exception):
    """No valid credentials; ``str()`` says why, in words fit for the client."""

    def __init__(self, reason: str = "Sign-in required.") -> None:
        super().__init__(reason)


class Authenticator:
    def __init__(
        self, tokens: TokenService, external: ExternalIssuer | None, sessionmaker: Sessionmaker
    ) -> None:
        self._tokens = tokens
        self._external = external
        self._sessionmaker = sessionmaker

    async def principal(
        self, authorization: str | None, sessions: SessionFactory | None = None
    ) -> Principal:
        """The user and session the credentials name; ``sessions`` are the request's own
        (its one connection), else the process's."""
        sessions = sessions or self._sessionmaker
        if not authorization:
            raise NotAuthenticated()
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise NotAuthenticated("Send 'Authorization: Bearer <accessToken>'.")
        if self._external is not None and self._external.claims_issuer(token):
            return await self._external_principal(token, sessions)
        try:
            claims = self._tokens.decode_access(token)
        except InvalidToken as error:
            raise NotAuthenticated(f"Access token rejected: {error}.") from error
        async with sessions() as session:
            principal = await users.principal(session, claims.user_id, claims.session_id)
        if principal is None:
            raise NotAuthenticated("This session has ended; sign in again.")
        return dataclasses.replace(principal, expires_at=claims.expires_at)

    async def _external_principal(self, token: str, sessions: SessionFactory) -> Principal:
        assert self._external is not None
        try:
            identity = await self._external.verify(token)
        except ExternalTokenError as error:
            raise NotAuthenticated(f"Access token rejected: {error}.") from error
        try:
            user_id = await self._provision(identity)
        except IntegrityError:
            # Another request provisioned the same identity at the same moment: use theirs.
            user_id = await self._provision(identity)
        async with sessions() as session:
            principal = await users.principal(session, user_id, None)
        if principal is None:
            raise NotAuthenticated("This account no longer exists.")
        return principal

    async def _provision(self, identity: ExternalIdentity) -> uuid.UUID:
        """Find the user of an external identity, linking or creating one on first sight.

        An existing local account is linked only through an email the issuer has verified;
        otherwise anyone could claim an account by registering its email at the issuer.
        """
        async with self._sessionmaker.begin() as session:
            user = await users.by_identity(session, identity.issuer, identity.subject)
            if user is not None:
                if (
                    identity.email_verified
                    and not user.email_verified
                    and _same_email(user, identity)
                ):
                    await users.save(session, user, email_verified=True)
                return user.id
            if not identity.email:
                raise NotAuthenticated("The token carries no email to create an account with.")
            email = identity.email.strip().casefold()
            user = await users.by_email(session, email)
            if user is not None and not identity.email_verified:
                raise NotAuthenticated("The issuer has not verified this email.")
            if user is None:
                user = await add_member(
                    session,
                    email=email,
                    password_hash=None,
                    email_verified=identity.email_verified,
                )
                logger.info("provisioned user %s from %s", user.id, identity.issuer)
            elif not user.email_verified:  # linked through the issuer's verified email
                await users.save(session, user, email_verified=True)
            await users.add_identity(session, user.id, identity.issuer, identity.subject)
            return user.id


def _same_email(user: users.User, identity: ExternalIdentity) -> bool:
    """The issuer's ``email_verified`` speaks of its email: ours only if they are one."""
    return identity.email is not None and identity.email.strip().casefold() == user.email
