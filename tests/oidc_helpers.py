"""Test helpers: a fake OpenID issuer (Cognito-shaped) with a real JWKS endpoint."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

__all__ = ["FakeIssuer"]

_JWKS_PATH = "/.well-known/jwks.json"


class _Key:
    """One RSA signing key and its ``kid``."""

    def __init__(self) -> None:
        self.kid = uuid.uuid4().hex
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        jwk.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return jwk


class FakeIssuer:
    """An RSA key pair and a JWKS served over HTTP on 127.0.0.1.

    The JWKS is served by :mod:`http.server` in a daemon thread on an ephemeral
    port (port 0) at :attr:`jwks_url`; :attr:`requests` counts JWKS fetches.
    Use as a context manager or call :meth:`close`.
    """

    def __init__(
        self,
        issuer: str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TEST",
        client_id: str = "lifegraph-test-client",
    ) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self._lock = threading.Lock()
        self._key = _Key()
        self._requests = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.jwks_url = f"http://127.0.0.1:{port}{_JWKS_PATH}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-oidc-jwks", daemon=True
        )
        self._thread.start()

    @property
    def requests(self) -> int:
        """How many times the JWKS was fetched."""
        with self._lock:
            return self._requests

    @property
    def kid(self) -> str:
        """The ``kid`` of the key currently served and used for signing."""
        with self._lock:
            return self._key.kid

    def token(
        self,
        sub: str,
        *,
        email: str | None = None,
        email_verified: bool = True,
        token_use: str = "id",
        expires_in: int = 300,
        kid: str | None = None,
        **extra: object,
    ) -> str:
        """A signed token shaped like a Cognito ID or access token.

        ``token_use="id"``: ``aud`` = client id, ``email``/``email_verified``
        (when ``email`` is given) and ``cognito:username``.
        ``token_use="access"``: ``client_id``, ``scope`` and ``username``, no
        ``aud``.  ``expires_in`` may be negative for an expired token.  ``kid``
        overrides the header's key id (the token is still signed with the
        current key).  ``extra`` claims are merged last; an ``extra`` value of
        ``None`` removes that claim (e.g. ``aud=None``, ``exp=None``).
        """
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": sub,
            "iss": self.issuer,
            "token_use": token_use,
            "auth_time": now,
            "iat": now,
            "exp": now + expires_in,
            "jti": uuid.uuid4().hex,
            "origin_jti": uuid.uuid4().hex,
            "event_id": str(uuid.uuid4()),
        }
        if token_use == "access":
            claims.update({"client_id": self.client_id, "scope": "openid email", "username": sub})
        else:
            claims.update({"aud": self.client_id, "cognito:username": sub})
            if email is not None:
                claims.update({"email": email, "email_verified": email_verified})
        for name, value in extra.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return self.sign(claims, kid=kid)

    def sign(self, claims: Mapping[str, object], *, kid: str | None = None) -> str:
        """Sign arbitrary ``claims`` with the current key (RS256)."""
        with self._lock:
            key = self._key
        return jwt.encode(
            dict(claims),
            key.private_key,
            algorithm="RS256",
            headers={"kid": kid if kid is not None else key.kid},
        )

    def rotate(self) -> None:
        """Replace the key: the new key (new ``kid``) is served and signs; the old is gone."""
        new_key = _Key()
        with self._lock:
            self._key = new_key

    def close(self) -> None:
        """Stop the JWKS server."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeIssuer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _jwks_body(self) -> bytes:
        with self._lock:
            self._requests += 1
            key = self._key
        return json.dumps({"keys": [key.public_jwk()]}).encode()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != _JWKS_PATH:
                    self.send_error(404)
                    return
                body = fake._jwks_body()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        return Handler
