"""Webhook secrets at rest: AES-256-GCM tokens that fail loudly when altered or re-keyed."""

from __future__ import annotations

import base64
import os

import pytest

from fineract_hub.delivery.secrets import SecretBox, SecretDecryptionError

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def box() -> SecretBox:
    return SecretBox(os.urandom(32))


def test_roundtrip_returns_the_plaintext(box: SecretBox) -> None:
    assert box.decrypt(box.encrypt(SECRET)) == SECRET


def test_roundtrip_keeps_non_ascii_text(box: SecretBox) -> None:
    assert box.decrypt(box.encrypt("ünï €")) == "ünï €"


def test_token_is_versioned_and_does_not_contain_the_plaintext(box: SecretBox) -> None:
    token = box.encrypt(SECRET)
    assert token.startswith("v1.")
    assert "MfKQ9r8" not in token


def test_each_encryption_uses_a_fresh_nonce(box: SecretBox) -> None:
    tokens = {box.encrypt(SECRET) for _ in range(200)}
    nonces = {base64.urlsafe_b64decode(t[3:] + "==")[:12] for t in tokens}
    assert len(tokens) == 200
    assert len(nonces) == 200


def test_tampered_token_is_rejected(box: SecretBox) -> None:
    token = box.encrypt(SECRET)
    raw = bytearray(base64.urlsafe_b64decode(token[3:] + "=="))
    raw[-1] ^= 0x01
    tampered = "v1." + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    with pytest.raises(SecretDecryptionError, match="altered or HUB_ENCRYPTION_KEY"):
        box.decrypt(tampered)


def test_wrong_key_is_rejected(box: SecretBox) -> None:
    token = box.encrypt(SECRET)
    with pytest.raises(SecretDecryptionError, match="failed authentication"):
        SecretBox(os.urandom(32)).decrypt(token)


def test_unknown_version_is_rejected(box: SecretBox) -> None:
    with pytest.raises(SecretDecryptionError, match="unknown format"):
        box.decrypt("v2." + box.encrypt(SECRET)[3:])


def test_truncated_token_is_rejected(box: SecretBox) -> None:
    with pytest.raises(SecretDecryptionError, match="truncated"):
        box.decrypt("v1.AAAA")


def test_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32-byte key"):
        SecretBox(b"k" * 16)


def test_repr_does_not_reveal_the_key() -> None:
    key = os.urandom(32)
    assert key.hex() not in repr(SecretBox(key))
