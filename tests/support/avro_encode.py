"""Build Fineract-shaped Kafka records in Python, for unit tests of the ingest path.

Mirrors what Fineract's generated classes do (``BinaryMessageEncoder``: ``C3 01`` + LE fingerprint
+ Avro body) using the hub's own registry, so it can only prove self-consistency. Byte-for-byte
agreement with Fineract is the job of the Java-produced fixtures in the integration tests.
"""

from __future__ import annotations

import io
import os
import struct
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastavro import schemaless_writer

from fineract_hub.ingest.schemas import BULK_PAYLOAD_SCHEMA, ENVELOPE_SCHEMA, SchemaRegistry

MAGIC = b"\xc3\x01"
REPO_ROOT = Path(__file__).resolve().parents[2]
LOAN_ACCOUNT = "org.apache.fineract.avro.loan.v1.LoanAccountDataV1"
LOAN_TRANSACTION = "org.apache.fineract.avro.loan.v1.LoanTransactionDataV1"
CLIENT = "org.apache.fineract.avro.client.v1.ClientDataV1"
SAVINGS_TRANSACTION = "org.apache.fineract.avro.savings.v1.SavingsAccountTransactionDataV1"


def schema_dir() -> Path:
    """``HUB_AVRO_SCHEMA_DIR``, else the shared copy beside the repository."""
    configured = os.environ.get("HUB_AVRO_SCHEMA_DIR")
    if configured:
        return Path(configured)
    return (REPO_ROOT.parent / "shared" / "fineract-avro-schemas").resolve()


def body(registry: SchemaRegistry, schema_name: str, datum: dict[str, Any]) -> bytes:
    """The plain Avro binary body, no header."""
    schema = registry.by_name(schema_name)
    assert schema is not None, f"no schema {schema_name}"
    out = io.BytesIO()
    schemaless_writer(out, schema.parsed, datum, strict_allow_default=True)
    return out.getvalue()


def single_object(registry: SchemaRegistry, schema_name: str, datum: dict[str, Any]) -> bytes:
    """Avro single-object encoding of ``datum`` with the named schema."""
    schema = registry.by_name(schema_name)
    assert schema is not None, f"no schema {schema_name}"
    return MAGIC + schema.fingerprint + body(registry, schema_name, datum)


def key(aggregate_id: int) -> bytes:
    """Kafka key as Java's LongSerializer writes it."""
    return struct.pack(">q", aggregate_id)


def envelope(
    registry: SchemaRegistry,
    *,
    type: str,
    category: str,
    dataschema: str,
    data: bytes,
    id: int = 1001,
    source: str = "2a7c3f5e-0d2b-4c8e-9a51-5f3c1d9b8e77",
    created_at: str = "2024-10-24T08:15:30.123456789",
    business_date: str = "2024-10-24",
    tenant_id: str = "default",
    idempotency_key: str | None = None,
) -> bytes:
    """A single-object ``MessageV1`` around already-encoded payload bytes."""
    return single_object(
        registry,
        ENVELOPE_SCHEMA,
        {
            "id": id,
            "source": source,
            "type": type,
            "category": category,
            "createdAt": created_at,
            "businessDate": business_date,
            "tenantId": tenant_id,
            "idempotencyKey": idempotency_key or str(uuid.uuid4()),
            "dataschema": dataschema,
            "data": data,
        },
    )


def event(
    registry: SchemaRegistry,
    type: str,
    category: str,
    dataschema: str,
    payload: dict[str, Any],
    **envelope_fields: Any,
) -> bytes:
    """A whole Kafka value: envelope + single-object payload."""
    return envelope(
        registry,
        type=type,
        category=category,
        dataschema=dataschema,
        data=single_object(registry, dataschema, payload),
        **envelope_fields,
    )


def bulk_event(
    registry: SchemaRegistry,
    items: list[tuple[str, str, dict[str, Any]]],
    *,
    item_category: str = "nocategory",
    **envelope_fields: Any,
) -> bytes:
    """A COB ``BulkBusinessEvent`` of ``(type, dataschema, payload)`` items, ids 1..n.

    Item categories default to ``"nocategory"``, as Fineract writes them today.
    """
    datas = [
        {
            "id": index,
            "type": type,
            "category": item_category,
            "dataschema": dataschema,
            "data": single_object(registry, dataschema, payload),
        }
        for index, (type, dataschema, payload) in enumerate(items, start=1)
    ]
    return envelope(
        registry,
        type="BulkBusinessEvent",
        category="Bulk",
        dataschema=BULK_PAYLOAD_SCHEMA,
        data=single_object(registry, BULK_PAYLOAD_SCHEMA, {"datas": datas}),
        **envelope_fields,
    )


# Realistic payloads. Unset fields are left to the schema defaults (null / empty) by fastavro.


def client_payload(client_id: int = 42) -> dict[str, Any]:
    return {
        "id": client_id,
        "accountNo": f"{client_id:09d}",
        "externalId": "ext-client-42",
        "status": {"id": 300, "code": "clientStatusType.active", "value": "Active"},
        "active": True,
        "activationDate": "2024-10-24",
        "firstname": "Ada",
        "lastname": "Lovelace",
        "displayName": "Ada Lovelace",
        "mobileNo": "+254700000001",
        "emailAddress": "ada@example.com",
        "dateOfBirth": "1990-12-10",
        "gender": {"id": 15, "name": "Female", "active": True, "mandatory": False},
        "officeId": 1,
        "officeName": "Head Office",
        "timeline": {
            "submittedOnDate": "2024-10-24",
            "submittedByUsername": "mifos",
            "activatedOnDate": "2024-10-24",
        },
        "groups": [],
    }


def _money(**amounts: str) -> dict[str, Decimal]:
    return {name: Decimal(value) for name, value in amounts.items()}


def _currency() -> dict[str, Any]:
    return {
        "code": "KES",
        "name": "Kenyan Shilling",
        "decimalPlaces": 2,
        "inMultiplesOf": 1,
        "displaySymbol": "KSh",
        "nameCode": "currency.KES",
        "displayLabel": "Kenyan Shilling (KSh)",
    }


def loan_account_payload(loan_id: int = 7, periods: int = 12) -> dict[str, Any]:
    """A ``LoanAccountDataV1`` roughly as Fineract fills it after approval (schedule included)."""
    enum = {"id": 1, "code": "repaymentFrequency.periodFrequencyType.months", "value": "Months"}
    schedule_periods = [
        {
            "period": n,
            "fromDate": f"2024-{(n - 1) % 12 + 1:02d}-01",
            "dueDate": f"2024-{n % 12 + 1:02d}-01",
            "principalDue": Decimal("833.33333333"),
            "interestDue": Decimal("125.00000000"),
            "totalDueForPeriod": Decimal("958.33333333"),
            "totalOutstandingForPeriod": Decimal("958.33333333"),
            "complete": False,
        }
        for n in range(1, periods + 1)
    ]
    return {
        "id": loan_id,
        "accountNo": f"{loan_id:09d}",
        "externalId": "ext-loan-7",
        "status": {
            "id": 200,
            "code": "loanStatusType.approved",
            "value": "Approved",
            "pendingApproval": False,
            "waitingForDisbursal": True,
            "active": False,
            "closedObligationsMet": False,
            "closedWrittenOff": False,
            "closedRescheduled": False,
            "closed": False,
            "overpaid": False,
        },
        "clientId": 42,
        "clientAccountNo": "000000042",
        "clientName": "Ada Lovelace",
        "clientOfficeId": 1,
        "loanProductId": 3,
        "loanProductName": "Working Capital",
        "loanOfficerId": 5,
        "loanOfficerName": "Grace Hopper",
        "loanType": {"id": 1, "code": "accountType.individual", "value": "Individual"},
        # LoanAccountDataV1 has no top-level currency; it lives in summary and schedule.
        "summary": {
            "currency": _currency(),
            **_money(
                principalDisbursed="0E-8",
                principalPaid="0E-8",
                principalOutstanding="10000.00000000",
                interestCharged="1500.00000000",
                interestOutstanding="1500.00000000",
                feeChargesCharged="50.00000000",
                totalExpectedRepayment="11550.00000000",
                totalOutstanding="11550.00000000",
                totalOverdue="0E-8",
            ),
        },
        **_money(
            principal="10000.00000000",
            approvedPrincipal="10000.00000000",
            proposedPrincipal="10000.00000000",
            netDisbursalAmount="9950.00000000",
            interestRatePerPeriod="1.50000000",
            annualInterestRate="18.00000000",
        ),
        "termFrequency": periods,
        "termPeriodFrequencyType": enum,
        "numberOfRepayments": periods,
        "repaymentEvery": 1,
        "repaymentFrequencyType": enum,
        "amortizationType": {
            "id": 1,
            "code": "amortizationType.equal.installments",
            "value": "Equal installments",
        },
        "interestType": {"id": 1, "code": "interestType.flat", "value": "Flat"},
        "transactionProcessingStrategyCode": "mifos-standard-strategy",
        "expectedFirstRepaymentOnDate": "2024-11-24",
        "timeline": {
            "submittedOnDate": "2024-10-20",
            "submittedByUsername": "mifos",
            "approvedOnDate": "2024-10-24",
            "approvedByUsername": "mifos",
            "expectedDisbursementDate": "2024-10-25",
            "expectedMaturityDate": "2025-10-25",
        },
        "repaymentSchedule": {
            "currency": _currency(),
            "loanTermInDays": 365,
            **_money(
                totalPrincipalDisbursed="10000.00000000",
                totalPrincipalExpected="10000.00000000",
                totalInterestCharged="1500.00000000",
                totalRepaymentExpected="11500.00000000",
                totalOutstanding="11500.00000000",
            ),
            "periods": schedule_periods,
        },
        "inArrears": False,
        "isNPA": False,
        "multiDisburseLoan": False,
        "chargedOff": False,
        "delinquent": {
            "pastDueDays": 0,
            "delinquentDays": 0,
            "delinquentAmount": Decimal("0E-8"),
        },
    }


def loan_transaction_payload(loan_id: int = 7, txn_id: int = 900) -> dict[str, Any]:
    return {
        "id": txn_id,
        "loanId": loan_id,
        "officeId": 1,
        "officeName": "Head Office",
        "type": {
            "id": 2,
            "code": "loanTransactionType.repayment",
            "value": "Repayment",
            "repayment": True,
        },
        "date": "2024-11-24",
        "currency": _currency(),
        **_money(
            amount="958.33000000",
            principalPortion="833.33000000",
            interestPortion="125.00000000",
            outstandingLoanBalance="9166.67000000",
        ),
        "manuallyReversed": False,
    }
