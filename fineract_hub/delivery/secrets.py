"""Endpoint secrets encrypted at rest with AES-256-GCM.

Signing needs the secret itself, so it cannot be hashed like a password; a database dump without
``HUB_ENCRYPTION_KEY`` must still not let anyone forge our webhooks. GCM authenticates, so a
tampered token or the wrong key fails loudly instead of producing a wrong secret. The token is
versioned so the scheme (or key) can change without guessing what an old row holds.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fineract_hub.errors import HubError

TOKEN_VERSION: Final = "v1"  # noqa: S105 - a format tag, not a credential
_NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16
#: Bound to every ciphertext so a token from another purpose cannot be swapped in.
_ASSOCIATED_DATA: Final = b"fineract-hub/webhook-secret/v1"


class SecretDecryptionError(HubError):
    code = "secret_undecryptable"


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError(f"AES-256 needs a 32-byte key, got {len(key)} bytes")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    def encrypt(self, plaintext: str) -> str:
        """``v1.<base64url(nonce || ciphertext+tag)>``; a fresh random 96-bit nonce each time."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), _ASSOCIATED_DATA)
        encoded = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
        return f"{TOKEN_VERSION}.{encoded}"

    def decrypt(self, token: str) -> str:
        version, dot, encoded = token.partition(".")
        if not dot or version != TOKEN_VERSION:
            raise SecretDecryptionError(
                f"encrypted secret has unknown format (expected '{TOKEN_VERSION}.<data>')"
            )
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            raise SecretDecryptionError("encrypted secret is not valid base64url") from None
        if len(raw) < _NONCE_BYTES + _TAG_BYTES:
            raise SecretDecryptionError("encrypted secret is truncated")
        try:
            plain = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _ASSOCIATED_DATA)
        except InvalidTag:
            raise SecretDecryptionError(
                "encrypted secret failed authentication: it was altered or HUB_ENCRYPTION_KEY "
                "is not the key it was encrypted with"
            ) from None
        return plain.decode("utf-8")
