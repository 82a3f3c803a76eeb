"""Avro single-object decoding of Fineract's envelope and payloads.

Fineract writes every level (Kafka value, ``MessageV1.data``, bulk item ``data``) as
``C3 01`` + 8-byte little-endian schema fingerprint + Avro binary body. The fingerprint, not the
envelope's ``dataschema`` string, says which schema the bytes were written with, so it is what
selects the reader; ``dataschema`` is only cross-checked. A record that does not decode cleanly is
rejected with a ``DecodeError`` whose message names the cause in terms an operator can act on
(wrong topic / producer, schema folder out of date, corrupted record).
"""

from __future__ import annotations

import io
import re
import struct
from functools import lru_cache
from typing import Any, NamedTuple

from fastavro import schemaless_reader

from fineract_hub.ingest.avro_reader import AvroReadError, Reader, compile_reader
from fineract_hub.ingest.schemas import ENVELOPE_SCHEMA, LoadedSchema, SchemaRegistry

__all__ = [
    "MAGIC",
    "DecodeError",
    "Envelope",
    "SingleObjectDecoder",
    "decode_envelope",
    "decode_key",
    "decode_payload",
]

MAGIC = b"\xc3\x01"
_HEADER_LEN = 10
_KEY = struct.Struct(">q")
_NEGATIVE_LENGTH = re.compile(r"Expected -\d+ bytes")


class DecodeError(Exception):
    """A Kafka record that cannot be turned into events; ``code`` is stable for metrics/DLQ."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


# Made for every event or delivery: NamedTuples are as immutable as frozen dataclasses and
# several times cheaper to create (a frozen dataclass sets each field via object.__setattr__).
class Envelope(NamedTuple):
    """Fineract's ``MessageV1``, field for field (all fields are required in the schema)."""

    id: int
    source: str
    type: str
    category: str
    created_at: str
    business_date: str
    tenant_id: str
    idempotency_key: str
    dataschema: str
    data: bytes


def decode_key(key: bytes | None) -> int:
    """Kafka key → aggregate root id (Java ``LongSerializer``: 8 bytes, big-endian, signed)."""
    if not key:
        return -1
    if len(key) != 8:
        raise DecodeError(
            "bad_key",
            f"Kafka key is {len(key)} bytes ({key[:16].hex(' ')}); Fineract writes the aggregate "
            "root id as an 8-byte big-endian long. Is another producer writing to this topic?",
        )
    return int(_KEY.unpack(key)[0])


def _describe(value: bytes) -> str:
    head = value[:16]
    text = ""
    if head[:1] in (b"{", b"["):
        text = " (looks like JSON, not Avro)"
    elif head[:1] == b"\x00" and len(value) >= 5:
        text = " (looks like Confluent Schema Registry framing, which Fineract does not use)"
    return f"{len(value)} bytes starting {head.hex(' ') or '<empty>'}{text}"


class SingleObjectDecoder:
    """Decodes single-object-encoded bytes against a ``SchemaRegistry``.

    Lookups are plain dict hits on the 8-byte fingerprint; each schema's reader is generated
    once (``avro_reader``), so per-message cost is the Avro body itself.
    """

    def __init__(self, registry: SchemaRegistry) -> None:
        self.registry = registry
        envelope = registry.by_name(ENVELOPE_SCHEMA)
        assert envelope is not None  # SchemaRegistry refuses folders without it
        self._envelope = envelope
        self._readers: dict[str, Reader | None] = {}

    def schema_for(self, value: bytes, what: str) -> LoadedSchema:
        """The writer schema named by the header, or a ``DecodeError`` saying why there is none."""
        if len(value) < _HEADER_LEN or value[:2] != MAGIC:
            if value[:2] == MAGIC:
                raise DecodeError(
                    "truncated",
                    f"{what} has the single-object marker but only {len(value)} bytes; the header "
                    "alone is 10 bytes (C3 01 + 8-byte fingerprint)",
                )
            raise DecodeError(
                "not_single_object",
                f"{what} is not Avro single-object encoded (expected it to start with c3 01): "
                f"{_describe(value)}",
            )
        fingerprint = value[2:_HEADER_LEN]
        schema = self.registry.by_fingerprint(fingerprint)
        if schema is None:
            raise DecodeError(
                "unknown_fingerprint",
                f"{what} was written with a schema whose fingerprint {fingerprint.hex(' ')} is not "
                f"in the {len(self.registry)} schemas loaded from {self.registry.folder}; the "
                "schema folder probably does not match the Fineract version producing events",
            )
        return schema

    def decode(self, value: bytes, what: str) -> tuple[LoadedSchema, Any]:
        schema = self.schema_for(value, what)
        try:
            datum, consumed = self._read(schema, value)
        except AvroReadError as exc:
            if exc.code == "truncated":
                raise DecodeError(
                    "truncated",
                    f"{what} ended before a whole {schema.name} was read ({len(value)} bytes "
                    f"including the 10-byte header, fingerprint {schema.fingerprint_hex}): {exc}",
                ) from exc
            raise DecodeError(
                "malformed",
                f"{what} is not a valid {schema.name} body ({len(value)} bytes, fingerprint "
                f"{schema.fingerprint_hex}): {exc}",
            ) from exc
        except Exception as exc:  # UnicodeDecodeError, RecursionError; fastavro: ValueError, ...
            raise DecodeError(
                "malformed",
                f"{what} is not a valid {schema.name} body ({len(value)} bytes, fingerprint "
                f"{schema.fingerprint_hex}): {type(exc).__name__}: {exc}",
            ) from exc
        if consumed != len(value):
            raise DecodeError(
                "trailing_bytes",
                f"{what} has {len(value) - consumed} bytes left over after a complete "
                f"{schema.name} ({consumed} of {len(value)} bytes used); the writer schema "
                "probably differs from the one with this fingerprint, or the record is corrupt",
            )
        return schema, datum

    def _read(self, schema: LoadedSchema, value: bytes) -> tuple[Any, int]:
        """The datum after the header and where it ended: the schema's generated reader (made at
        its first event, not for all 77 schemas at start-up), or fastavro where it has none."""
        try:
            reader = self._readers[schema.name]
        except KeyError:
            reader = self._readers[schema.name] = compile_reader(schema.parsed)
        if reader is not None:
            try:
                return reader(value, _HEADER_LEN)
            except IndexError as exc:  # a read at the end of the input
                raise AvroReadError("truncated", "the input ended inside a value") from exc
        body = io.BytesIO(value)
        body.seek(_HEADER_LEN)
        try:
            datum = schemaless_reader(body, schema.parsed, None)
        except EOFError as exc:
            code = "malformed" if _NEGATIVE_LENGTH.search(str(exc)) else "truncated"
            raise AvroReadError(code, str(exc) or "the input ended inside a value") from exc
        return datum, body.tell()

    def decode_envelope(self, value: bytes) -> Envelope:
        schema, raw = self.decode(value, "Kafka value")
        if schema is not self._envelope:
            raise DecodeError(
                "schema_mismatch",
                f"Kafka value is a single-object {schema.name}, not the {ENVELOPE_SCHEMA} envelope "
                "Fineract sends; is this the external-events topic?",
            )
        return Envelope(
            id=raw["id"],
            source=raw["source"],
            type=raw["type"],
            category=raw["category"],
            created_at=raw["createdAt"],
            business_date=raw["businessDate"],
            tenant_id=raw["tenantId"],
            idempotency_key=raw["idempotencyKey"],
            dataschema=raw["dataschema"],
            data=raw["data"],
        )

    def decode_payload(self, data: bytes, dataschema: str) -> dict[str, Any]:
        """Decode ``MessageV1.data`` (or a bulk item's ``data``) declared as ``dataschema``."""
        return self.decode_payload_with_schema(data, dataschema)[1]

    def decode_payload_with_schema(
        self, data: bytes, dataschema: str
    ) -> tuple[LoadedSchema, dict[str, Any]]:
        """Like ``decode_payload``, also returning the writer schema (callers need its traits)."""
        schema, datum = self.decode(data, f"payload declared as {dataschema}")
        if schema.name != dataschema:
            raise DecodeError(
                "schema_mismatch",
                f"payload bytes carry fingerprint {schema.fingerprint_hex} of {schema.name}, but "
                f"the envelope's dataschema says {dataschema} ({len(data)} bytes)",
            )
        return schema, datum


@lru_cache(maxsize=8)
def _decoder(registry: SchemaRegistry) -> SingleObjectDecoder:
    return SingleObjectDecoder(registry)


def decode_envelope(registry: SchemaRegistry, value: bytes) -> Envelope:
    """Decode a Kafka value into Fineract's envelope."""
    return _decoder(registry).decode_envelope(value)


def decode_payload(registry: SchemaRegistry, data: bytes, dataschema: str) -> dict[str, Any]:
    """Decode an envelope's ``data`` declared as ``dataschema``."""
    return _decoder(registry).decode_payload(data, dataschema)
