"""Kafka records from Fineract → CanonicalEvents."""

from __future__ import annotations

import base64
import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from fineract_hub.ingest.canonical import FineractDecoder, utc_instant
from fineract_hub.ingest.decode import DecodeError
from fineract_hub.ingest.schemas import SchemaRegistry
from fineract_hub.models import jsonexact
from fineract_hub.models.events import CanonicalEvent
from tests.support import avro_encode as ae

REPAYMENT_DUE = "org.apache.fineract.avro.loan.v1.LoanRepaymentDueDataV1"
BULK_KEY = "d7c1e1a4-7b0e-4f7e-8d55-0c4f2b9e3a10"


def _loan_approved(registry: SchemaRegistry) -> bytes:
    return ae.event(
        registry,
        "LoanApprovedBusinessEvent",
        "Loan",
        ae.LOAN_ACCOUNT,
        ae.loan_account_payload(loan_id=7),
        id=77,
        idempotency_key="5b0f3c2e-6f1a-4c39-9d0e-2f4a8b7c6d51",
        tenant_id="tenant-a",
    )


def _bulk(registry: SchemaRegistry, item_category: str = "nocategory") -> bytes:
    return ae.bulk_event(
        registry,
        [
            ("LoanAccountSnapshotBusinessEvent", ae.LOAN_ACCOUNT, ae.loan_account_payload(7)),
            (
                "LoanRepaymentDueBusinessEvent",
                REPAYMENT_DUE,
                {
                    "loanId": 7,
                    "loanAccountNo": "000000007",
                    "installment": {"installmentNumber": 2},
                },
            ),
        ],
        item_category=item_category,
        id=90,
        idempotency_key=BULK_KEY,
    )


@pytest.fixture(scope="module")
def approved(fineract: FineractDecoder, registry: SchemaRegistry) -> CanonicalEvent:
    (event,) = fineract.to_canonical(ae.key(7), _loan_approved(registry))
    return event


def test_event_id_is_the_idempotency_key(approved: CanonicalEvent) -> None:
    assert approved.id == "5b0f3c2e-6f1a-4c39-9d0e-2f4a8b7c6d51"


def test_type_is_dotted_and_fineract_type_is_kept(approved: CanonicalEvent) -> None:
    assert approved.type == "loan.approved"
    assert approved.fineract_type == "LoanApprovedBusinessEvent"
    assert approved.category == "Loan"


def test_tenant_business_date_and_aggregate_come_from_envelope_and_key(
    approved: CanonicalEvent,
) -> None:
    assert approved.tenant == "tenant-a"
    assert approved.business_date == "2024-10-24"
    assert approved.aggregate_id == 7


def test_created_at_becomes_utc_with_z_and_microseconds(approved: CanonicalEvent) -> None:
    assert approved.created_at == "2024-10-24T08:15:30.123456Z"


def test_meta_keeps_message_id_source_and_dataschema(approved: CanonicalEvent) -> None:
    assert approved.meta == {
        "messageId": 77,
        "source": "2a7c3f5e-0d2b-4c8e-9a51-5f3c1d9b8e77",
        "dataschema": ae.LOAN_ACCOUNT,
    }
    assert approved.source == "fineract"


def test_data_is_the_decoded_payload_with_exact_decimals(approved: CanonicalEvent) -> None:
    assert approved.data["id"] == 7
    assert approved.data["approvedPrincipal"] == Decimal("10000.00000000")


def test_payload_serialises_to_json_with_exact_decimal_digits(approved: CanonicalEvent) -> None:
    text = jsonexact.dumps(approved.data)

    assert '"approvedPrincipal":10000.00000000' in text
    assert json.loads(text)["clientName"] == "Ada Lovelace"


def test_canonical_event_round_trips_through_its_json(approved: CanonicalEvent) -> None:
    again = CanonicalEvent.from_json(approved.to_json())

    first_period = again.payload()["repaymentSchedule"]["periods"][0]
    assert first_period["principalDue"] == Decimal("833.33333333")


def test_client_create_becomes_client_created(
    fineract: FineractDecoder, registry: SchemaRegistry
) -> None:
    value = ae.event(
        registry, "ClientCreateBusinessEvent", "Client", ae.CLIENT, ae.client_payload()
    )

    (event,) = fineract.to_canonical(ae.key(42), value)

    assert event.type == "client.created"
    assert event.data["displayName"] == "Ada Lovelace"
    assert event.aggregate_id == 42


def test_record_without_key_has_aggregate_minus_one(
    fineract: FineractDecoder, registry: SchemaRegistry
) -> None:
    (event,) = fineract.to_canonical(None, _loan_approved(registry))

    assert event.aggregate_id == -1


def test_bad_key_rejects_the_record(fineract: FineractDecoder, registry: SchemaRegistry) -> None:
    with pytest.raises(DecodeError) as excinfo:
        fineract.to_canonical(b"\x07", _loan_approved(registry))

    assert excinfo.value.code == "bad_key"


def test_bulk_event_becomes_one_event_per_item(
    fineract: FineractDecoder, registry: SchemaRegistry
) -> None:
    events = fineract.to_canonical(ae.key(7), _bulk(registry))

    assert [e.id for e in events] == [f"{BULK_KEY}:1", f"{BULK_KEY}:2"]
    assert [e.type for e in events] == ["loan.accountSnapshot", "loan.repaymentDue"]
    assert [e.fineract_type for e in events] == [
        "LoanAccountSnapshotBusinessEvent",
        "LoanRepaymentDueBusinessEvent",
    ]


def test_bulk_items_decode_their_own_payload_schema(
    fineract: FineractDecoder, registry: SchemaRegistry
) -> None:
    snapshot, due = fineract.to_canonical(ae.key(7), _bulk(registry))

    assert snapshot.data["approvedPrincipal"] == Decimal("10000.00000000")
    assert due.data["installment"]["installmentNumber"] == 2
    assert due.meta["dataschema"] == REPAYMENT_DUE


def test_bulk_items_share_envelope_tenant_time_and_aggregate(
    fineract: FineractDecoder, registry: SchemaRegistry
) -> None:
    events = fineract.to_canonical(ae.key(7), _bulk(registry))

    assert {(e.tenant, e.created_at, e.aggregate_id) for e in events} == {
        ("default", "2024-10-24T08:15:30.123456Z", 7)
    }


def test_bulk_item_meta_names_the_bulk_and_the_item(
    fineract: FineractDecoder, registry: SchemaRegistry
) -> None:
    _, due = fineract.to_canonical(ae.key(7), _bulk(registry))

    assert due.meta["bulkId"] == BULK_KEY
    assert due.meta["bulkItemId"] == 2
    assert due.meta["messageId"] == 90


def test_bulk_item_nocategory_is_replaced_by_the_catalog_category(
    fineract: FineractDecoder, registry: SchemaRegistry
) -> None:
    events = fineract.to_canonical(ae.key(7), _bulk(registry))

    assert [e.category for e in events] == ["Loan", "Loan"]


def test_bulk_item_nocategory_of_unknown_type_falls_back_to_envelope_category(
    fineract: FineractDecoder, registry: SchemaRegistry
) -> None:
    value = ae.bulk_event(registry, [("LoanFutureThingBusinessEvent", ae.CLIENT, {})])

    (event,) = fineract.to_canonical(None, value)

    assert event.category == "Bulk"
    assert event.type == "loan.futureThing"


def test_bulk_item_real_category_is_kept(
    fineract: FineractDecoder, registry: SchemaRegistry
) -> None:
    events = fineract.to_canonical(ae.key(7), _bulk(registry, item_category="Loan COB"))

    assert {e.category for e in events} == {"Loan COB"}


def test_bulk_with_one_bad_item_rejects_the_whole_record(
    fineract: FineractDecoder, registry: SchemaRegistry
) -> None:
    good = ae.single_object(registry, ae.CLIENT, ae.client_payload())
    item = {"id": 1, "type": "ClientCreateBusinessEvent", "category": "Client"}
    bulk = ae.single_object(
        registry,
        "org.apache.fineract.avro.BulkMessagePayloadV1",
        {
            "datas": [
                {**item, "dataschema": ae.CLIENT, "data": good},
                {**item, "id": 2, "dataschema": ae.CLIENT, "data": good[:-3]},
            ]
        },
    )
    value = ae.envelope(
        registry,
        type="BulkBusinessEvent",
        category="Bulk",
        dataschema="org.apache.fineract.avro.BulkMessagePayloadV1",
        data=bulk,
    )

    with pytest.raises(DecodeError) as excinfo:
        fineract.to_canonical(None, value)

    assert excinfo.value.code == "truncated"
    assert "bulk item 2 of 2 (ClientCreateBusinessEvent)" in excinfo.value.reason


def test_payload_not_matching_dataschema_rejects_the_record(
    fineract: FineractDecoder, registry: SchemaRegistry
) -> None:
    value = ae.envelope(
        registry,
        type="LoanApprovedBusinessEvent",
        category="Loan",
        dataschema=ae.LOAN_ACCOUNT,
        data=ae.single_object(registry, ae.CLIENT, ae.client_payload()),
    )

    with pytest.raises(DecodeError) as excinfo:
        fineract.to_canonical(None, value)

    assert excinfo.value.code == "schema_mismatch"


@pytest.mark.parametrize(
    ("created_at", "expected"),
    [
        ("2024-10-24T08:15:30.123456789", "2024-10-24T08:15:30.123456Z"),
        ("2024-10-24T08:15:30.999999999", "2024-10-24T08:15:30.999999Z"),
        ("2024-10-24T08:15:30.123456", "2024-10-24T08:15:30.123456Z"),
        ("2024-10-24T08:15:30.12", "2024-10-24T08:15:30.120000Z"),
        ("2024-10-24T08:15:30", "2024-10-24T08:15:30.000000Z"),
        ("2024-10-24T08:15", "2024-10-24T08:15:00.000000Z"),
        ("2024-10-24T10:15:30.5+02:00", "2024-10-24T08:15:30.500000Z"),
        ("0999-01-02T03:04:05", "0999-01-02T03:04:05.000000Z"),  # still sorts as text
    ],
)
def test_created_at_is_utc_with_six_fraction_digits_truncating_nanos(
    created_at: str, expected: str
) -> None:
    assert utc_instant(created_at) == expected


def test_unparseable_created_at_is_malformed() -> None:
    with pytest.raises(DecodeError) as excinfo:
        utc_instant("yesterday")

    assert excinfo.value.code == "malformed"


def _registry_with_payload(folder: Path, name: str, fields: list[dict[str, Any]]) -> SchemaRegistry:
    """Fineract's envelope plus one made-up payload schema ``t.v1.<name>``."""
    shutil.copy(ae.schema_dir() / "MessageV1.avsc", folder / "MessageV1.avsc")
    (folder / f"{name}.avsc").write_text(
        json.dumps({"type": "record", "name": name, "namespace": "t.v1", "fields": fields})
    )
    return SchemaRegistry.load(folder)


def test_raw_bytes_fields_become_base64_text(tmp_path: Path) -> None:
    registry = _registry_with_payload(tmp_path, "DocV1", [
        {"name": "blob", "type": ["null", "bytes"], "default": None},
        {"name": "amount", "type": ["null", "bigdecimal"], "default": None},
    ])
    value = ae.event(
        registry,
        "DocumentUploadedBusinessEvent",
        "Client",
        "t.v1.DocV1",
        {"blob": b"\x00\xffhi", "amount": Decimal("1.5")},
    )

    (event,) = FineractDecoder(registry).to_canonical(None, value)

    assert event.data["blob"] == base64.b64encode(b"\x00\xffhi").decode()
    assert event.data["amount"] == Decimal("1.50000000")
    assert jsonexact.dumps(event.data) == '{"blob":"AP9oaQ==","amount":1.50000000}'


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_doubles_are_refused_as_malformed(tmp_path: Path, number: float) -> None:
    registry = _registry_with_payload(
        tmp_path, "RateV1", [{"name": "rate", "type": ["null", "double"], "default": None}]
    )
    value = ae.event(registry, "FixedDepositAccountCreatedBusinessEvent", "FixedDeposit",
                     "t.v1.RateV1", {"rate": number})

    with pytest.raises(DecodeError) as excinfo:
        FineractDecoder(registry).to_canonical(None, value)

    assert excinfo.value.code == "malformed"
    assert "non-finite" in str(excinfo.value)


def test_control_characters_in_ids_or_types_are_refused_as_malformed():
    import pytest

    from fineract_hub.ingest.canonical import FineractDecoder
    from fineract_hub.ingest.decode import DecodeError
    from tests.support import avro_encode
    from tests.support.events import registry

    decoder = FineractDecoder(registry())
    payload = avro_encode.client_payload(5)
    for overrides, kind in (({"idempotency_key": "id\x00nul"}, "ClientCreateBusinessEvent"),
                            ({}, "Client\x00CreateBusinessEvent")):
        value = avro_encode.event(registry(), kind, "Client", avro_encode.CLIENT, payload,
                                  **overrides)
        with pytest.raises(DecodeError) as caught:
            decoder.to_canonical(avro_encode.key(5), value)
        assert caught.value.code == "malformed"


def test_a_created_at_out_of_range_in_utc_is_malformed_not_a_crash():
    import pytest

    from fineract_hub.ingest.canonical import utc_instant
    from fineract_hub.ingest.decode import DecodeError

    with pytest.raises(DecodeError):
        utc_instant("0001-01-01T00:00:00+05:00")
