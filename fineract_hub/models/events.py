"""The canonical event: what every capability (webhooks, fan-out, publishEvent) consumes.

Fineract's envelope is flattened into one record with a stable id, a dotted type and the decoded
payload. It travels on the canonical topic as exact JSON (see ``jsonexact``), keyed by aggregate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fineract_hub.models import jsonexact


@dataclass(frozen=True, slots=True)
class CanonicalEvent:
    #: Stable across re-sends: Fineract's idempotencyKey (``:<item id>`` appended for bulk items).
    id: str
    #: Dotted type, e.g. ``loan.approved``.
    type: str
    #: Fineract's own type name, e.g. ``LoanApprovedBusinessEvent``; ``None`` for published events.
    fineract_type: str | None
    category: str | None
    tenant: str | None
    #: ISO-8601 UTC instant with ``Z`` (Fineract's createdAt; publish time for published events).
    created_at: str
    business_date: str | None
    #: Aggregate root id from the Kafka key; -1 when Fineract had none.
    aggregate_id: int
    data: dict[str, Any]
    #: Where it came from: ``fineract`` (ingest) or ``publish`` (publishEvent).
    source: str = "fineract"
    #: Fineract envelope fields kept for traceability (message id, source, dataschema, bulk id).
    meta: dict[str, Any] = field(default_factory=dict)
    #: The exact JSON this event was read from, when it was: re-serialising the same event at
    #: every hop (store, default body) costs more than the rest of the fan-out.
    raw: bytes | None = field(default=None, compare=False, repr=False)

    def template_context(self) -> dict[str, Any]:
        """What a payload template sees: ``{{type}}``, ``{{data.id}}``, ``{{timestamp}}``."""
        return {
            "id": self.id,
            "type": self.type,
            "fineractType": self.fineract_type,
            "category": self.category,
            "tenant": self.tenant,
            "timestamp": self.created_at,
            "createdAt": self.created_at,
            "businessDate": self.business_date,
            "aggregateId": self.aggregate_id,
            "data": self.data,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "fineractType": self.fineract_type,
            "category": self.category,
            "tenant": self.tenant,
            "createdAt": self.created_at,
            "businessDate": self.business_date,
            "aggregateId": self.aggregate_id,
            "source": self.source,
            "meta": self.meta,
            "data": self.data,
        }

    def to_json(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return jsonexact.dumpb(self.to_dict())

    @classmethod
    def from_dict(cls, raw: dict[str, Any], encoded: bytes | None = None) -> CanonicalEvent:
        return cls(
            id=str(raw["id"]),
            type=str(raw["type"]),
            fineract_type=raw.get("fineractType"),
            category=raw.get("category"),
            tenant=raw.get("tenant"),
            created_at=str(raw["createdAt"]),
            business_date=raw.get("businessDate"),
            aggregate_id=int(raw.get("aggregateId", -1)),
            data=raw.get("data") or {},
            source=raw.get("source", "fineract"),
            meta=raw.get("meta") or {},
            raw=encoded,
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> CanonicalEvent:
        encoded = raw.encode() if isinstance(raw, str) else bytes(raw)
        return cls.from_dict(jsonexact.loads(encoded), encoded)

    def partition_key(self) -> bytes:
        return str(self.aggregate_id).encode()
