"""Verification of access/ID tokens issued by an external OpenID provider.

The provider is an AWS Cognito user pool: tokens are RS256 JWTs whose signing
keys are published as a JWKS.  Key fetching and caching is delegated to
:class:`jwt.PyJWKClient`, which caches the key set and refetches it when a token
names an unknown ``kid`` (key rotation).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import jwt

__all__ = ["ExternalIdentity", "ExternalIssuer", "ExternalTokenError"]

logger = logging.getLogger("lifegraph.auth")

_ALGORITHM = "RS256"
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "sub"]
_TOKEN_USES = frozenset({"access", "id"})
# Seconds to wait for the JWKS endpoint; this runs while a request is waiting.
_JWKS_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class ExternalIdentity:
    """The verified identity carried by an external token."""

    issuer: str
    subject: str  # the "sub" claim
    email: str | None  # "email" claim, if any
    email_verified: bool  # "email_verified" claim (bool, or the string "true")


class ExternalTokenError(Exception):
    """The token is not a valid token of the configured issuer.

    ``str(e)`` is a short reason that is safe to show to the client; details go
    to the ``lifegraph.auth`` logger instead.
    """


class ExternalIssuer:
    """Verifies RS256 tokens of one external issuer against its JWKS.

    Signing keys come from :class:`jwt.PyJWKClient`, which caches the key set
    for ``cache_seconds`` and refetches it when a token carries an unknown
    ``kid``.  At most one such forced refetch happens per
    ``refetch_cooldown_seconds`` (PyJWT's own guard against tokens with made-up
    ``kid`` values turning into a flood of JWKS requests); tests that rotate
    keys and expect the new key immediately should pass ``0``.

    ``PyJWKClient`` is synchronous: it fetches the JWKS with blocking
    ``urllib`` calls while holding a lock.  Calling it directly from a coroutine
    would stall the whole event loop for the duration of a JWKS download, so
    :meth:`verify` runs the key lookup in a worker thread via
    :func:`asyncio.to_thread`.
    """

    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_url: str,
        *,
        cache_seconds: int = 3600,
        leeway_seconds: int = 30,
        refetch_cooldown_seconds: float = 30.0,
    ) -> None:
        if not issuer:
            raise ValueError("issuer must not be empty")
        if not audience:
            raise ValueError("audience must not be empty")
        if cache_seconds <= 0:
            raise ValueError("cache_seconds must be positive")
        if leeway_seconds < 0:
            raise ValueError("leeway_seconds must not be negative")
        if refetch_cooldown_seconds < 0:
            raise ValueError("refetch_cooldown_seconds must not be negative")
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self.leeway_seconds = leeway_seconds
        # Only the whole key set is cached (with a lifetime); the per-kid LRU
        # cache (cache_keys=True) never expires, so a key the issuer withdrew
        # would stay trusted forever.
        self._jwks = jwt.PyJWKClient(
            jwks_url,
            cache_keys=False,
            cache_jwk_set=True,
            lifespan=cache_seconds,
            timeout=_JWKS_TIMEOUT_SECONDS,
            cooldown_duration=refetch_cooldown_seconds,
        )

    def claims_issuer(self, token: str) -> bool:
        """True when the unverified token's ``iss`` equals this issuer.

        A cheap routing check only: the signature is not checked, so never
        trust it for anything else.  Returns False for garbage.
        """
        claims = _unverified_claims(token)
        return claims is not None and claims.get("iss") == self.issuer

    async def verify(self, token: str) -> ExternalIdentity:
        """Verify ``token`` and return the identity it carries.

        Raises :class:`ExternalTokenError` for anything invalid.
        """
        kid = self._precheck(token)
        signing_key = await asyncio.to_thread(self._signing_key, kid)
        claims = self._decode(token, signing_key)

        if not self._audience_ok(claims):
            raise ExternalTokenError("wrong audience")
        token_use = claims.get("token_use")
        if token_use is not None and token_use not in _TOKEN_USES:
            raise ExternalTokenError("wrong token use")
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise ExternalTokenError("invalid token")
        email = claims.get("email")
        return ExternalIdentity(
            issuer=self.issuer,
            subject=subject,
            email=email if isinstance(email, str) and email else None,
            email_verified=_is_true(claims.get("email_verified")),
        )

    def _precheck(self, token: str) -> str:
        """Check what can be checked without keys; return the token's ``kid``.

        Done before any JWKS access so that garbage and other issuers' tokens
        never cause a network request.  Everything checked here is checked
        again (verified) by :meth:`_decode`.
        """
        if not isinstance(token, str):
            raise ExternalTokenError("invalid token")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise ExternalTokenError("invalid token") from None
        if header.get("alg") != _ALGORITHM:
            raise ExternalTokenError("unsupported algorithm")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise ExternalTokenError("invalid token")
        claims = _unverified_claims(token)
        if claims is None:
            raise ExternalTokenError("invalid token")
        if claims.get("iss") != self.issuer:
            raise ExternalTokenError("wrong issuer")
        return kid

    def _signing_key(self, kid: str) -> jwt.PyJWK:
        """Look up the key for ``kid`` (blocking; runs in a worker thread)."""
        try:
            return self._jwks.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as exc:
            logger.warning("JWKS fetch from %s failed: %s", self.jwks_url, exc)
            raise ExternalTokenError("issuer keys unavailable") from None
        except jwt.PyJWKClientError as exc:
            # PyJWT has no dedicated exception for "kid not in the key set".
            if str(exc).startswith("Unable to find a signing key"):
                logger.debug("token signed with unknown key id %r", kid)
                raise ExternalTokenError("unknown signing key") from None
            logger.warning("unusable JWKS from %s: %s", self.jwks_url, exc)
            raise ExternalTokenError("issuer keys unavailable") from None
        except (jwt.PyJWTError, OSError, ValueError) as exc:
            # PyJWKSetError / PyJWKError: malformed key set; OSError: network
            # errors urllib does not wrap; ValueError: body is not JSON.
            logger.warning("unusable JWKS from %s: %r", self.jwks_url, exc)
            raise ExternalTokenError("issuer keys unavailable") from None

    def _decode(self, token: str, signing_key: jwt.PyJWK) -> dict[str, Any]:
        """Verify signature and registered claims; audience is checked later."""
        try:
            return jwt.decode(
                token,
                signing_key,
                algorithms=[_ALGORITHM],
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={
                    "require": list(_REQUIRED_CLAIMS),
                    # Cognito access tokens have no "aud": see _audience_ok.
                    "verify_aud": False,
                    "enforce_minimum_key_length": True,
                },
            )
        except jwt.ExpiredSignatureError:
            raise ExternalTokenError("token expired") from None
        except jwt.InvalidSignatureError:
            raise ExternalTokenError("invalid signature") from None
        except jwt.InvalidIssuerError:
            raise ExternalTokenError("wrong issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise ExternalTokenError(f"missing claim {exc.claim}") from None
        except jwt.ImmatureSignatureError:
            raise ExternalTokenError("token not yet valid") from None
        except jwt.InvalidAlgorithmError:
            raise ExternalTokenError("unsupported algorithm") from None
        except jwt.InvalidKeyError as exc:
            logger.warning("unusable signing key in JWKS from %s: %s", self.jwks_url, exc)
            raise ExternalTokenError("invalid token") from None
        except jwt.PyJWTError as exc:
            logger.debug("external token rejected: %s", exc)
            raise ExternalTokenError("invalid token") from None

    def _audience_ok(self, claims: dict[str, Any]) -> bool:
        """ID tokens: ``aud`` contains the client id; access tokens: ``client_id``."""
        if "aud" in claims:
            aud = claims["aud"]
            if isinstance(aud, str):
                return aud == self.audience
            if isinstance(aud, list):
                return self.audience in aud
            return False
        client_id = claims.get("client_id")
        return isinstance(client_id, str) and client_id == self.audience


def _unverified_claims(token: str) -> dict[str, Any] | None:
    """The token's payload without any verification, or None for garbage."""
    if not isinstance(token, str):
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    return claims if isinstance(claims, dict) else None


def _is_true(value: object) -> bool:
    """Cognito sends ``email_verified`` as a JSON bool or as the string "true"."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() == "true"
