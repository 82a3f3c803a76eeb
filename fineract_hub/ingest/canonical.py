"""One Kafka record from Fineract → the canonical events every capability consumes.

Everything downstream (webhooks, fan-out, templates) sees ``CanonicalEvent`` only, so this is
where Fineract's wire quirks end: the big-endian key, the two (or, for COB bulk events, three)
levels of single-object Avro, the "nocategory" placeholder in bulk items and the offset-less
``createdAt`` timestamp.
"""

from __future__ import annotations

import base64
import math
import re
from datetime import UTC, datetime
from typing import Any

from fineract_hub.ingest.decode import DecodeError, Envelope, SingleObjectDecoder, decode_key
from fineract_hub.ingest.naming import FINERACT_EVENT_TYPES, dotted_type
from fineract_hub.ingest.schemas import BULK_PAYLOAD_SCHEMA, SchemaRegistry
from fineract_hub.models.events import CanonicalEvent

__all__ = ["FineractDecoder", "utc_instant"]

#: What Fineract puts in a bulk item's category (hard-coded TODO in BulkMessageItemFactory).
_NO_CATEGORY = "nocategory"


def utc_instant(created_at: str) -> str:
    """Fineract's ``createdAt`` (UTC, no offset, 0 to 9 fraction digits) → ``…T…:ss.ffffffZ``.

    Nanoseconds are truncated: Python datetimes hold microseconds, and a fixed six digits keeps
    the strings sortable. An explicit offset, should a future Fineract add one, is honoured.
    """
    try:
        parsed = datetime.fromisoformat(created_at)
    except ValueError as exc:
        raise DecodeError(
            "malformed",
            f"envelope createdAt {created_at!r} is not an ISO-8601 date-time",
        ) from exc
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        except OverflowError as exc:
            raise DecodeError(
                "malformed", f"envelope createdAt {created_at!r} is out of range in UTC"
            ) from exc
    # isoformat, not strftime: a quarter of the time, and years below 1000 keep four digits.
    return parsed.isoformat(timespec="microseconds") + "Z"


_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def _identifier(value: str, field: str) -> str:
    """Ids and type names become keys, headers and database values: no control characters."""
    if not value or _CONTROL.search(value):
        raise DecodeError("malformed", f"envelope {field} {value!r} is empty or has control "
                          "characters")
    return value


def _json_safe(value: Any) -> Any:
    """Make a decoded datum JSON-safe: bytes become base64 text; Decimals stay exact; a
    non-finite double (no JSON form) is refused rather than silently turned into null."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, float) and not math.isfinite(value):
        raise DecodeError("malformed", f"payload holds a non-finite number ({value}), which JSON "
                          "cannot carry")
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


class FineractDecoder:
    """Turns ``(key, value)`` of Fineract's external-events topic into canonical events."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry
        self._decoder = SingleObjectDecoder(registry)

    def decode_envelope(self, value: bytes) -> Envelope:
        return self._decoder.decode_envelope(value)

    def decode_payload(self, data: bytes, dataschema: str) -> dict[str, Any]:
        return self._decoder.decode_payload(data, dataschema)

    def to_canonical(self, key: bytes | None, value: bytes) -> list[CanonicalEvent]:
        """All events in one record: one, or one per item for a COB bulk event.

        Raises ``DecodeError`` if any part is unreadable; a bulk record is accepted or rejected as
        a whole so that a retry or dead-letter decision covers all of its items.
        """
        aggregate_id = decode_key(key)
        envelope = self._decoder.decode_envelope(value)
        created_at = utc_instant(envelope.created_at)
        for field in ("idempotency_key", "type", "tenant_id", "dataschema"):
            _identifier(getattr(envelope, field), field)
        if envelope.dataschema == BULK_PAYLOAD_SCHEMA:
            return self._unpack_bulk(envelope, aggregate_id, created_at)
        data = self._payload(envelope.data, envelope.dataschema)
        meta: dict[str, Any] = {
            "messageId": envelope.id,
            "source": envelope.source,
            "dataschema": envelope.dataschema,
        }
        return [
            CanonicalEvent(
                id=envelope.idempotency_key,
                type=dotted_type(envelope.type, envelope.category),
                fineract_type=envelope.type,
                category=envelope.category,
                tenant=envelope.tenant_id,
                created_at=created_at,
                business_date=envelope.business_date,
                aggregate_id=aggregate_id,
                data=data,
                meta=meta,
            )
        ]

    def _payload(self, data: bytes, dataschema: str) -> dict[str, Any]:
        schema, datum = self._decoder.decode_payload_with_schema(data, dataschema)
        return _json_safe(datum) if schema.has_raw_bytes or schema.has_floats else datum

    def _item_payload(self, item: dict[str, Any], count: int, envelope: Envelope) -> dict[str, Any]:
        try:
            return self._payload(item["data"], item["dataschema"])
        except DecodeError as exc:
            raise DecodeError(
                exc.code,
                f"bulk item {item['id']} of {count} ({item['type']}) in bulk "
                f"{envelope.idempotency_key}: {exc.reason}",
            ) from exc

    def _unpack_bulk(
        self, envelope: Envelope, aggregate_id: int, created_at: str
    ) -> list[CanonicalEvent]:
        bulk = self._decoder.decode_payload(envelope.data, BULK_PAYLOAD_SCHEMA)
        events = []
        for item in bulk["datas"]:
            _identifier(item["type"], f"bulk item {item['id']} type")
            category: str | None = item["category"]
            if not category or category == _NO_CATEGORY:
                # Fineract does not fill the item category yet; the catalog knows it for every
                # type it emits. "Bulk" describes the container, not the item, so it is only the
                # reported category of last resort and never picks the dotted family.
                category = FINERACT_EVENT_TYPES.get(item["type"])
            event_type = dotted_type(item["type"], category)
            events.append(
                CanonicalEvent(
                    id=f"{envelope.idempotency_key}:{item['id']}",
                    type=event_type,
                    fineract_type=item["type"],
                    category=category or envelope.category,
                    tenant=envelope.tenant_id,
                    created_at=created_at,
                    business_date=envelope.business_date,
                    aggregate_id=aggregate_id,
                    data=self._item_payload(item, len(bulk["datas"]), envelope),
                    meta={
                        "messageId": envelope.id,
                        "source": envelope.source,
                        "dataschema": item["dataschema"],
                        "bulkId": envelope.idempotency_key,
                        "bulkItemId": item["id"],
                    },
                )
            )
        return events
