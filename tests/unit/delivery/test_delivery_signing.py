"""Standard Webhooks signatures: interoperable with the official library, strict when verifying."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from fineract_hub.delivery.signing import (
    SignatureInvalid,
    decode_secret,
    generate_secret,
    sign,
    signature_header,
    verify,
    webhook_headers,
)
from fineract_hub.errors import NotAuthenticated, ValidationError

BODY = b'{"event":"loan.approved","amount":1000.50000000}'
MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"


def now() -> int:
    return int(time.time())


def test_generated_secret_is_whsec_and_32_random_bytes() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[len("whsec_") :])) == 32
    assert generate_secret() != secret


def test_decode_secret_accepts_with_and_without_prefix() -> None:
    secret = generate_secret()
    assert decode_secret(secret) == decode_secret(secret[len("whsec_") :])


def test_decode_secret_rejects_bad_base64() -> None:
    with pytest.raises(ValidationError, match="base64"):
        decode_secret("whsec_not*base64!")


def test_decode_secret_rejects_keys_shorter_than_24_bytes() -> None:
    with pytest.raises(ValidationError, match=r"24\.\.64 bytes"):
        decode_secret("whsec_" + base64.b64encode(b"short").decode())


def test_signature_matches_the_spec_example() -> None:
    # Example from the Standard Webhooks spec / reference library tests.
    secret = decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_official_library_verifies_our_signature() -> None:
    secret = generate_secret()
    ts = now()
    headers = webhook_headers(MSG_ID, ts, sign(decode_secret(secret), MSG_ID, ts, BODY))
    Webhook(secret).verify(BODY, headers)


def test_our_verifier_accepts_the_official_library_signature() -> None:
    from datetime import UTC, datetime

    secret = generate_secret()
    ts = now()
    theirs = Webhook(secret).sign(MSG_ID, datetime.fromtimestamp(ts, tz=UTC), BODY.decode())
    verify(decode_secret(secret), webhook_headers(MSG_ID, ts, theirs), BODY)


def test_rotation_header_verifies_with_either_secret() -> None:
    old, new = generate_secret(), generate_secret()
    ts = now()
    header = signature_header([decode_secret(old), decode_secret(new)], MSG_ID, ts, BODY)
    headers = webhook_headers(MSG_ID, ts, header)
    assert len(header.split(" ")) == 2
    for secret in (old, new):
        verify(decode_secret(secret), headers, BODY)
        Webhook(secret).verify(BODY, headers)


def test_signature_header_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="at least one secret"):
        signature_header([], MSG_ID, now(), BODY)


def test_message_id_with_a_dot_cannot_be_signed() -> None:
    with pytest.raises(ValueError, match=r"'\.'"):
        sign(decode_secret(generate_secret()), "a.b", now(), BODY)


@pytest.mark.parametrize(
    "signature",
    ["v1,", "v1", "", " ", "v1,AAAA", "v2,{full}", "v1,{truncated}", "v1,{full}x", "v1,!!!!"],
)
def test_empty_truncated_or_foreign_signatures_are_rejected(signature: str) -> None:
    key = decode_secret(generate_secret())
    ts = now()
    full = sign(key, MSG_ID, ts, BODY).split(",", 1)[1]
    value = signature.format(full=full, truncated=full[:20])
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": str(ts), "webhook-signature": value}
    with pytest.raises(SignatureInvalid):
        verify(key, headers, BODY)


def test_rejection_is_a_401_not_a_500() -> None:
    assert issubclass(SignatureInvalid, NotAuthenticated)
    assert SignatureInvalid.status == 401


def test_body_changed_after_signing_is_rejected() -> None:
    key = decode_secret(generate_secret())
    ts = now()
    headers = webhook_headers(MSG_ID, ts, sign(key, MSG_ID, ts, BODY))
    with pytest.raises(SignatureInvalid, match="no matching signature"):
        verify(key, headers, BODY + b" ")


def test_timestamp_older_than_tolerance_is_rejected() -> None:
    key = decode_secret(generate_secret())
    ts = 1_700_000_000
    headers = webhook_headers(MSG_ID, ts, sign(key, MSG_ID, ts, BODY))
    with pytest.raises(SignatureInvalid, match="too old"):
        verify(key, headers, BODY, now=ts + 301)


def test_timestamp_newer_than_tolerance_is_rejected() -> None:
    key = decode_secret(generate_secret())
    ts = 1_700_000_000
    headers = webhook_headers(MSG_ID, ts, sign(key, MSG_ID, ts, BODY))
    with pytest.raises(SignatureInvalid, match="too new"):
        verify(key, headers, BODY, now=ts - 301)


def test_timestamp_within_tolerance_is_accepted() -> None:
    key = decode_secret(generate_secret())
    ts = 1_700_000_000
    headers = webhook_headers(MSG_ID, ts, sign(key, MSG_ID, ts, BODY))
    verify(key, headers, BODY, now=ts + 300)


def test_missing_headers_are_rejected() -> None:
    with pytest.raises(SignatureInvalid, match="missing"):
        verify(decode_secret(generate_secret()), {"webhook-id": MSG_ID}, BODY)


def test_non_numeric_timestamp_is_rejected() -> None:
    headers = {"webhook-id": MSG_ID, "webhook-timestamp": "1e9", "webhook-signature": "v1,x"}
    with pytest.raises(SignatureInvalid, match="whole seconds"):
        verify(decode_secret(generate_secret()), headers, BODY)


def test_header_names_are_case_insensitive() -> None:
    key = decode_secret(generate_secret())
    ts = now()
    headers = {
        k.title(): v for k, v in webhook_headers(MSG_ID, ts, sign(key, MSG_ID, ts, BODY)).items()
    }
    verify(key, headers, BODY)


def test_official_library_rejects_a_signature_made_with_another_secret() -> None:
    ts = now()
    headers = webhook_headers(MSG_ID, ts, sign(decode_secret(generate_secret()), MSG_ID, ts, BODY))
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(BODY, headers)
