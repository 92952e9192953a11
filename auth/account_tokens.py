"""The single-use tokens mailed to a user (a password reset, an email verification):
32 random bytes, URL-safe, and only their SHA-256 stored."""

from __future__ import annotations

import hashlib
import secrets


def new_account_token() -> tuple[str, bytes]:
    """A token and the hash to store of it."""
    token = secrets.token_urlsafe(32)
    return token, hash_account_token(token)


def hash_account_token(token: str) -> bytes:
    """Any string hashes, so a malformed token is simply one no row has."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
