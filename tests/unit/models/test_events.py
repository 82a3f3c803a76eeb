from decimal import Decimal

import pytest

from fineract_hub.models.events import CanonicalEvent


def _event() -> CanonicalEvent:
    return CanonicalEvent(
        id="idem-1", type="loan.approved", fineract_type="LoanApprovedBusinessEvent",
        category="Loan", tenant="default", created_at="2024-03-01T10:15:30.123456Z",
        business_date="2024-03-01", aggregate_id=42,
        data={"id": 42, "clientId": 7, "approvedPrincipal": Decimal("1000.50000000")},
    )


def test_canonical_event_round_trips_through_json_exactly():
    event = _event()
    assert CanonicalEvent.from_json(event.to_json()) == event


def test_template_context_exposes_the_seed_variables():
    context = _event().template_context()
    assert context["type"] == "loan.approved"
    assert context["timestamp"] == "2024-03-01T10:15:30.123456Z"
    assert context["data"]["clientId"] == 7


def test_partition_key_is_the_aggregate():
    assert _event().partition_key() == b"42"


def test_an_event_read_from_json_parses_its_payload_only_when_needed() -> None:
    raw = b'{"id":"e1","type":"loan.approved","createdAt":"2024-01-01T00:00:00Z",' \
          b'"aggregateId":7,"data":{"principal":1000.50000000}}'
    event = CanonicalEvent.from_json(raw)

    assert event.data is None
    assert event.to_json() == raw
    assert event.payload() == {"principal": Decimal("1000.50000000")}


def test_a_head_with_a_float_in_meta_is_read_exactly() -> None:
    raw = b'{"id":"e1","type":"x.y","createdAt":"t","aggregateId":1,"meta":{"rate":0.1},"data":{}}'
    event = CanonicalEvent.from_json(raw)

    assert event.meta == {"rate": Decimal("0.1")}


def test_an_aggregate_id_past_64_bits_is_read_exactly() -> None:
    raw = b'{"id":"e1","type":"x.y","createdAt":"t","aggregateId":123456789012345678901234,' \
          b'"data":{}}'
    assert CanonicalEvent.from_json(raw).aggregate_id == 123456789012345678901234


def test_json_with_nan_is_refused() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        CanonicalEvent.from_json(b'{"id":"e1","type":"x.y","createdAt":"t","data":{"x":NaN}}')
