"""Webhook signing secrets: made in the Standard Webhooks form (``whsec_`` and base64 of
random bytes), stored encrypted (AES-GCM, with a key derived from the server's secret
key and the endpoint's id as associated data, so a stored secret cannot be moved to
another endpoint). The worker needs the secret itself to sign, so it is not hashed.

Changing ``LIFEGRAPH_SECRET_KEY`` makes the stored secrets unreadable: deliveries then
fail until each endpoint is created again."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "whsec_"
SECRET_BYTES = 32
NONCE_BYTES = 12


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _cipher(server_secret: str) -> AESGCM:
    return AESGCM(hashlib.sha256(b"lifegraph webhook secrets\0" + server_secret.encode()).digest())


def seal(server_secret: str, webhook_id: uuid.UUID, secret: str) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + _cipher(server_secret).encrypt(nonce, secret.encode(), webhook_id.bytes)


def unseal(server_secret: str, webhook_id: uuid.UUID, sealed: bytes) -> str:
    """Raises ``cryptography.exceptions.InvalidTag`` when the server's key has changed."""
    nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    return _cipher(server_secret).decrypt(nonce, ciphertext, webhook_id.bytes).decode()
