"""Standard Webhooks v1 signatures (HMAC-SHA256 over ``{id}.{timestamp}.{body}``).

Receivers already have verifiers for this scheme (the ``standardwebhooks`` libraries, Svix SDKs),
so we match it byte for byte instead of inventing one. Every active secret signs, space-separated,
so an endpoint can rotate secrets without a window where deliveries fail verification. Retries
sign again with a fresh timestamp; the ``webhook-id`` stays the event's idempotency key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets as _random
import time
from collections.abc import Mapping, Sequence
from typing import Final

from fineract_hub.errors import NotAuthenticated, ValidationError

SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - a format tag, not a credential
SECRET_BYTES: Final = 32
#: The spec allows 24..64 bytes; shorter keys are refused when decoding user-supplied secrets.
MIN_SECRET_BYTES: Final = 24
MAX_SECRET_BYTES: Final = 64
DEFAULT_TOLERANCE: Final = 300
_SIGNATURE_BYTES: Final = hashlib.sha256().digest_size


class SignatureInvalid(NotAuthenticated):
    """The request is not provably ours: map to 401, never 500 (eep-dev/EEP PR #93)."""

    code = "signature_invalid"


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(_random.token_bytes(SECRET_BYTES)).decode("ascii")


def decode_secret(secret: str) -> bytes:
    """``whsec_<base64>`` (or bare base64) to key bytes; a typo must fail here, at registration,
    not as every receiver rejecting our signatures."""
    raw = secret.strip()
    if raw.startswith(SECRET_PREFIX):
        raw = raw[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(
            "webhook secret must be 'whsec_' followed by standard base64"
        ) from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValidationError(
            f"webhook secret must decode to {MIN_SECRET_BYTES}..{MAX_SECRET_BYTES} bytes, "
            f"got {len(key)}"
        )
    return key


_DOT_OR_SPACE = re.compile(r"[.\s]")


def _check_part(name: str, value: str) -> None:
    # The signed content is "id.timestamp.body": a "." in the id would make two different
    # (id, timestamp) pairs sign the same bytes.
    if not value or _DOT_OR_SPACE.search(value):
        raise ValueError(f"{name} must be non-empty and contain no '.' or whitespace: {value!r}")


def _digest(secret: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    return hmac.new(secret, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()


def sign(secret: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    _check_part("msg_id", msg_id)
    return "v1," + base64.b64encode(_digest(secret, msg_id, int(timestamp), body)).decode("ascii")


def signature_header(secrets: Sequence[bytes], msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,`` signature per active secret, space-separated (rotation)."""
    if not secrets:
        raise ValueError("at least one secret is needed to sign")
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets)


def webhook_headers(msg_id: str, timestamp: int, signature: str) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": signature,
    }


def verify(
    secret: bytes,
    headers: Mapping[str, str],
    body: bytes,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Reference verifier: returns if one ``v1`` signature matches, else raises
    ``SignatureInvalid`` saying why.

    Every candidate is decoded and must be exactly 32 bytes before a constant-time compare of the
    full digest, so ``v1,`` and truncated signatures fail (the Svix Rust bug compared only the
    shorter length, svix-webhooks PR #1190).
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    raw_timestamp = lowered.get("webhook-timestamp", "")
    raw_signatures = lowered.get("webhook-signature", "")
    if not (msg_id and raw_timestamp and raw_signatures):
        raise SignatureInvalid("missing webhook-id, webhook-timestamp or webhook-signature header")
    if not raw_timestamp.isascii() or not raw_timestamp.isdigit() or len(raw_timestamp) > 12:
        raise SignatureInvalid("webhook-timestamp must be whole seconds since the epoch")
    timestamp = int(raw_timestamp)
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise SignatureInvalid("message timestamp too old")
    if timestamp > current + tolerance:
        raise SignatureInvalid("message timestamp too new")
    expected = _digest(secret, msg_id, timestamp, body)
    for candidate in raw_signatures.split(" "):
        version, _, encoded = candidate.partition(",")
        if version != "v1" or not encoded:
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(given) == _SIGNATURE_BYTES and hmac.compare_digest(expected, given):
            return
    raise SignatureInvalid("no matching signature")
