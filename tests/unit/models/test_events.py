from decimal import Decimal

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
