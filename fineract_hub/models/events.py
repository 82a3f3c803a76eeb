"""The canonical event: what every capability (webhooks, fan-out, publishEvent) consumes.

Fineract's envelope is flattened into one record with a stable id, a dotted type and the decoded
payload. It travels on the canonical topic as exact JSON (see ``jsonexact``), keyed by aggregate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from fineract_hub.models import jsonexact


@dataclass(frozen=True, slots=True, eq=False)
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
    #: The decoded payload. ``None`` for an event read from JSON whose payload has not been
    #: needed yet: matching and the default body use the head and the raw bytes only, and an
    #: exact (Decimal-keeping) parse is the most expensive step of the fan-out. Use ``payload()``.
    data: dict[str, Any] | None
    #: Where it came from: ``fineract`` (ingest) or ``publish`` (publishEvent).
    source: str = "fineract"
    #: Fineract envelope fields kept for traceability (message id, source, dataschema, bulk id).
    meta: dict[str, Any] = field(default_factory=dict)
    #: The exact JSON this event was read from or first written as: re-serialising the same
    #: event at every step (topic, store, default body) costs more than the rest of the fan-out.
    raw: bytes | None = field(default=None, compare=False, repr=False)

    def payload(self) -> dict[str, Any]:
        if self.data is None:
            assert self.raw is not None  # from_json is the only way to leave data unset
            parsed = jsonexact.loads(self.raw).get("data") or {}
            object.__setattr__(self, "data", parsed)
            return parsed
        return self.data

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CanonicalEvent):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

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
            "data": self.payload(),
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
            "data": self.payload(),
        }

    def to_json(self) -> bytes:
        """The exact JSON, written once: the topic, the store and the default body share it."""
        if self.raw is None:
            object.__setattr__(self, "raw", jsonexact.dumpb(self.to_dict()))
        assert self.raw is not None
        return self.raw

    @classmethod
    def from_dict(
        cls, raw: dict[str, Any], encoded: bytes | None = None, *, lazy_data: bool = False
    ) -> CanonicalEvent:
        return cls(
            id=str(raw["id"]),
            type=str(raw["type"]),
            fineract_type=raw.get("fineractType"),
            category=raw.get("category"),
            tenant=raw.get("tenant"),
            created_at=str(raw["createdAt"]),
            business_date=raw.get("businessDate"),
            aggregate_id=int(raw.get("aggregateId", -1)),
            data=None if lazy_data else raw.get("data") or {},
            source=raw.get("source", "fineract"),
            meta=raw.get("meta") or {},
            raw=encoded,
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> CanonicalEvent:
        """The head now, the payload when first needed (see ``data``).

        orjson validates the whole document and reads the head four times faster than an exact
        parse; its floats are thrown away with the payload. A head orjson cannot read exactly
        (a float in ``meta``, an aggregate id past 64 bits) is parsed the exact way instead.
        """
        encoded = raw.encode() if isinstance(raw, str) else bytes(raw)
        try:
            head = orjson.loads(encoded)
        except orjson.JSONDecodeError:
            head = None
        if (
            isinstance(head, dict)
            and type(head.get("aggregateId", -1)) is int
            and not _holds_float(head.get("meta"))
        ):
            return cls.from_dict(head, encoded, lazy_data=True)
        return cls.from_dict(jsonexact.loads(encoded), encoded)

    def partition_key(self) -> bytes:
        return str(self.aggregate_id).encode()


def _holds_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_holds_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_float(v) for v in value)
    return False
