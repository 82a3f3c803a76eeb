"""Single-object decoding of Fineract envelopes and payloads, and how bad records are reported."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fineract_hub.ingest.decode import DecodeError, SingleObjectDecoder, decode_key
from fineract_hub.ingest.schemas import ENVELOPE_SCHEMA, SchemaRegistry
from tests.support import avro_encode as ae


@pytest.fixture(scope="module")
def loan_approved(registry: SchemaRegistry) -> bytes:
    return ae.event(
        registry,
        "LoanApprovedBusinessEvent",
        "Loan",
        ae.LOAN_ACCOUNT,
        ae.loan_account_payload(),
        id=77,
        idempotency_key="5b0f3c2e-6f1a-4c39-9d0e-2f4a8b7c6d51",
    )


def _code(excinfo: pytest.ExceptionInfo[DecodeError]) -> str:
    return excinfo.value.code


def test_envelope_fields_come_out_as_fineract_wrote_them(
    decoder: SingleObjectDecoder, loan_approved: bytes
) -> None:
    envelope = decoder.decode_envelope(loan_approved)

    assert envelope.id == 77
    assert envelope.type == "LoanApprovedBusinessEvent"
    assert envelope.category == "Loan"
    assert envelope.tenant_id == "default"
    assert envelope.idempotency_key == "5b0f3c2e-6f1a-4c39-9d0e-2f4a8b7c6d51"
    assert envelope.dataschema == ae.LOAN_ACCOUNT
    assert envelope.created_at == "2024-10-24T08:15:30.123456789"
    assert envelope.business_date == "2024-10-24"


def test_loan_amounts_decode_to_exact_scale_8_decimals(
    decoder: SingleObjectDecoder, loan_approved: bytes
) -> None:
    envelope = decoder.decode_envelope(loan_approved)

    loan = decoder.decode_payload(envelope.data, envelope.dataschema)

    assert loan["approvedPrincipal"] == Decimal("10000.00000000")
    assert loan["approvedPrincipal"].as_tuple().exponent == -8
    period = loan["repaymentSchedule"]["periods"][0]
    assert str(period["principalDue"]) == "833.33333333"


def test_unset_payload_fields_decode_as_none(
    decoder: SingleObjectDecoder, loan_approved: bytes
) -> None:
    envelope = decoder.decode_envelope(loan_approved)

    loan = decoder.decode_payload(envelope.data, envelope.dataschema)

    assert loan["fundId"] is None
    assert loan["transactions"] is None


def test_client_payload_decodes_nested_records(
    registry: SchemaRegistry, decoder: SingleObjectDecoder
) -> None:
    value = ae.event(
        registry, "ClientCreateBusinessEvent", "Client", ae.CLIENT, ae.client_payload(client_id=42)
    )
    envelope = decoder.decode_envelope(value)

    client = decoder.decode_payload(envelope.data, envelope.dataschema)

    assert client["id"] == 42
    assert client["status"]["code"] == "clientStatusType.active"
    assert client["timeline"]["activatedOnDate"] == "2024-10-24"


def test_wrong_magic_is_not_single_object(decoder: SingleObjectDecoder) -> None:
    with pytest.raises(DecodeError) as excinfo:
        decoder.decode_envelope(b"\xc3\x02" + bytes(20))

    assert _code(excinfo) == "not_single_object"


def test_json_junk_is_not_single_object_and_says_it_looks_like_json(
    decoder: SingleObjectDecoder,
) -> None:
    with pytest.raises(DecodeError) as excinfo:
        decoder.decode_envelope(b'{"a":1}')

    assert _code(excinfo) == "not_single_object"
    assert "JSON" in excinfo.value.reason


def test_confluent_framing_is_called_out(decoder: SingleObjectDecoder) -> None:
    with pytest.raises(DecodeError) as excinfo:
        decoder.decode_envelope(b"\x00\x00\x00\x00\x07" + bytes(10))

    assert _code(excinfo) == "not_single_object"
    assert "Confluent" in excinfo.value.reason


def test_empty_value_is_not_single_object(decoder: SingleObjectDecoder) -> None:
    with pytest.raises(DecodeError) as excinfo:
        decoder.decode_envelope(b"")

    assert _code(excinfo) == "not_single_object"


def test_unknown_fingerprint_names_the_fingerprint_and_the_schema_folder(
    registry: SchemaRegistry, decoder: SingleObjectDecoder
) -> None:
    with pytest.raises(DecodeError) as excinfo:
        decoder.decode_envelope(ae.MAGIC + bytes.fromhex("0102030405060708") + b"\x00")

    assert _code(excinfo) == "unknown_fingerprint"
    assert "01 02 03 04 05 06 07 08" in excinfo.value.reason
    assert str(registry.folder) in excinfo.value.reason


def test_value_cut_short_is_truncated(decoder: SingleObjectDecoder, loan_approved: bytes) -> None:
    with pytest.raises(DecodeError) as excinfo:
        decoder.decode_envelope(loan_approved[:-40])

    assert _code(excinfo) == "truncated"
    assert ENVELOPE_SCHEMA in excinfo.value.reason


def test_header_without_a_whole_fingerprint_is_truncated(decoder: SingleObjectDecoder) -> None:
    with pytest.raises(DecodeError) as excinfo:
        decoder.decode_envelope(ae.MAGIC + b"\x1f\xd0\x7b")

    assert _code(excinfo) == "truncated"


def test_bytes_after_a_complete_record_are_trailing_bytes(
    decoder: SingleObjectDecoder, loan_approved: bytes
) -> None:
    with pytest.raises(DecodeError) as excinfo:
        decoder.decode_envelope(loan_approved + b"\x00\x01\x02")

    assert _code(excinfo) == "trailing_bytes"
    assert "3 bytes left over" in excinfo.value.reason


def test_payload_whose_fingerprint_disagrees_with_dataschema_is_a_schema_mismatch(
    registry: SchemaRegistry, decoder: SingleObjectDecoder
) -> None:
    client_bytes = ae.single_object(registry, ae.CLIENT, ae.client_payload())

    with pytest.raises(DecodeError) as excinfo:
        decoder.decode_payload(client_bytes, ae.LOAN_ACCOUNT)

    assert _code(excinfo) == "schema_mismatch"
    assert ae.CLIENT in excinfo.value.reason
    assert ae.LOAN_ACCOUNT in excinfo.value.reason


def test_kafka_value_that_is_not_an_envelope_is_a_schema_mismatch(
    registry: SchemaRegistry, decoder: SingleObjectDecoder
) -> None:
    bare_payload = ae.single_object(registry, ae.CLIENT, ae.client_payload())

    with pytest.raises(DecodeError) as excinfo:
        decoder.decode_envelope(bare_payload)

    assert _code(excinfo) == "schema_mismatch"


def test_impossible_union_branch_is_malformed(
    registry: SchemaRegistry, decoder: SingleObjectDecoder
) -> None:
    schema = registry.by_name(ae.CLIENT)
    assert schema is not None
    # Field 1 is ["null", "long"]; branch index 9 (zig-zag 0x12) does not exist.
    corrupt = ae.MAGIC + schema.fingerprint + b"\x12"

    with pytest.raises(DecodeError) as excinfo:
        decoder.decode_payload(corrupt, ae.CLIENT)

    assert _code(excinfo) == "malformed"


def test_key_is_a_big_endian_signed_long() -> None:
    assert decode_key(bytes.fromhex("000000000000002a")) == 42
    assert decode_key(bytes.fromhex("ffffffffffffffff")) == -1


@pytest.mark.parametrize("key", [None, b""])
def test_missing_key_means_no_aggregate(key: bytes | None) -> None:
    assert decode_key(key) == -1


@pytest.mark.parametrize("key", [b"\x00\x00\x00\x2a", b"42", bytes(9)])
def test_key_of_any_other_length_is_a_bad_key(key: bytes) -> None:
    with pytest.raises(DecodeError) as excinfo:
        decode_key(key)

    assert _code(excinfo) == "bad_key"
    assert f"{len(key)} bytes" in excinfo.value.reason
