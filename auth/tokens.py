"""Our own tokens: short-lived JWT access tokens and opaque, single-use refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"
ACCESS_TYPE = "access"
UNSUBSCRIBE_TYPE = "unsubscribe"
REQUIRED_CLAIMS = ["sub", "iat", "exp", "iss", "aud", "jti", "typ", "sid"]


class InvalidToken(Exception):
    """The access token is missing a claim, expired, forged or of another kind."""


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    expires_at: datetime


@dataclass(frozen=True)
class IssuedAccessToken:
    token: str
    expires_at: datetime


class TokenService:
    def __init__(self, *, secret: str, issuer: str, audience: str, ttl: timedelta) -> None:
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self._ttl = ttl

    def issue_access(self, user_id: uuid.UUID, session_id: uuid.UUID) -> IssuedAccessToken:
        now = datetime.now(UTC).replace(microsecond=0)
        expires_at = now + self._ttl
        claims = {
            "sub": str(user_id),
            "sid": str(session_id),
            "iat": now,
            "exp": expires_at,
            "iss": self._issuer,
            "aud": self._audience,
            "jti": uuid.uuid4().hex,
            "typ": ACCESS_TYPE,
        }
        return IssuedAccessToken(jwt.encode(claims, self._secret, ALGORITHM), expires_at)

    def decode_access(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": REQUIRED_CLAIMS},
            )
            if claims["typ"] != ACCESS_TYPE:
                raise InvalidToken("not an access token")
            return AccessClaims(
                uuid.UUID(claims["sub"]),
                uuid.UUID(claims["sid"]),
                datetime.fromtimestamp(claims["exp"], UTC),
            )
        except jwt.ExpiredSignatureError as error:
            raise InvalidToken("token expired") from error
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            raise InvalidToken("invalid token") from error

    def issue_unsubscribe(self, user_id: uuid.UUID) -> str:
        """A token for the one-click unsubscribe link of notification emails: it names the
        user and does nothing else. It does not expire, as mail lies in inboxes for years;
        it stops working when the secret key changes."""
        claims = {
            "sub": str(user_id),
            "iss": self._issuer,
            "aud": self._audience,
            "typ": UNSUBSCRIBE_TYPE,
        }
        return jwt.encode(claims, self._secret, ALGORITHM)

    def decode_unsubscribe(self, token: str) -> uuid.UUID:
        """The user an unsubscribe token names; InvalidToken for anything else (an access
        token included)."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["sub", "iss", "aud", "typ"]},
            )
            if claims["typ"] != UNSUBSCRIBE_TYPE:
                raise InvalidToken("not an unsubscribe token")
            return uuid.UUID(claims["sub"])
        except (jwt.PyJWTError, ValueError, TypeError) as error:
            raise InvalidToken("invalid token") from error


def new_refresh_token() -> str:
    """An opaque random string; it is not a JWT, so it can never pass as an access token."""
    return "rt_" + secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
