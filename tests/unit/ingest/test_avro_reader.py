"""The generated Avro readers read what fastavro reads, and refuse what is not Avro."""

from __future__ import annotations

import io
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro import schemaless_reader, schemaless_writer

from fineract_hub.ingest.avro_reader import (
    AvroReadError,
    Reader,
    compile_reader,
)
from fineract_hub.ingest.decode import DecodeError, SingleObjectDecoder
from fineract_hub.ingest.schemas import LoadedSchema, SchemaRegistry
from tests.support import avro_encode as ae
from tests.support.avro_random import random_value

HEADER = bytes(10)  # the readers start after the single-object header


def _encode(parsed: Any, datum: Any) -> bytes:
    out = io.BytesIO()
    schemaless_writer(out, parsed, datum)
    return out.getvalue()


def _fastavro(parsed: Any, body: bytes) -> Any:
    return schemaless_reader(io.BytesIO(body), parsed, None)


def _read(parsed: Any, body: bytes, reader: Reader | None = None) -> Any:
    reader = reader or compile_reader(parsed)
    assert reader is not None
    value, end = reader(HEADER + body, len(HEADER))
    assert end == len(HEADER) + len(body)
    return value


def _schemas(registry: SchemaRegistry) -> list[LoadedSchema]:
    return [s for s in (registry.by_name(n) for n in registry.names()) if s is not None]


def test_every_fineract_schema_gets_a_generated_reader(registry: SchemaRegistry) -> None:
    schemas = _schemas(registry)

    assert len(schemas) > 70
    assert [s.name for s in schemas if compile_reader(s.parsed) is None] == []


def test_reads_the_same_values_as_fastavro_for_every_fineract_schema(
    registry: SchemaRegistry,
) -> None:
    rnd = random.Random(20261204)
    for schema in _schemas(registry):
        named = schema.parsed.get("__named_schemas", {})
        reader = compile_reader(schema.parsed)
        for _ in range(25):
            body = _encode(schema.parsed, random_value(schema.parsed, named, rnd))
            assert _read(schema.parsed, body, reader) == _fastavro(schema.parsed, body), schema.name


def test_decimals_keep_fastavros_precision_and_scale(registry: SchemaRegistry) -> None:
    payload = ae.loan_account_payload()
    body = ae.body(registry, ae.LOAN_ACCOUNT, payload)
    schema = registry.by_name(ae.LOAN_ACCOUNT)
    assert schema is not None

    value = _read(schema.parsed, body)

    assert value == _fastavro(schema.parsed, body)
    principal = value["summary"]["principalDisbursed"]
    assert isinstance(principal, Decimal)
    assert principal.as_tuple().exponent == -8


def test_negative_block_counts_with_byte_sizes_are_read_like_fastavro() -> None:
    parsed = fastavro.parse_schema(
        {"type": "record", "name": "R", "fields": [
            {"name": "xs", "type": {"type": "array", "items": "long"}},
            {"name": "m", "type": {"type": "map", "values": "string"}},
        ]}
    )
    # xs: one block of -2 items (2 bytes follow), then one of 1, then the end;
    # m: one block of -1 entry (3 bytes), then the end.
    body = bytes([0x03, 0x04, 0x02, 0x04, 0x02, 0x06, 0x00]) + bytes(
        [0x01, 0x06, 0x02, ord("k"), 0x02, ord("v"), 0x00]
    )

    assert _read(parsed, body) == _fastavro(parsed, body) == {"xs": [1, 2, 3], "m": {"k": "v"}}


def test_enums_fixed_floats_and_maps_match_fastavro() -> None:
    parsed = fastavro.parse_schema(
        {"type": "record", "name": "R", "fields": [
            {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B", "C"]}},
            {"name": "f", "type": {"type": "fixed", "name": "F", "size": 3}},
            {"name": "d", "type": {"type": "fixed", "name": "D", "size": 4,
                                   "logicalType": "decimal", "precision": 9, "scale": 2}},
            {"name": "x", "type": "float"},
            {"name": "y", "type": "double"},
            {"name": "b", "type": "boolean"},
            {"name": "m", "type": {"type": "map", "values": ["null", "int"]}},
        ]}
    )
    datum = {"e": "C", "f": b"abc", "d": Decimal("-12345.67"), "x": 1.5, "y": -2.25e300,
             "b": True, "m": {"one": 1, "none": None}}
    body = _encode(parsed, datum)

    assert _read(parsed, body) == _fastavro(parsed, body) == datum


def test_recursive_types_are_read() -> None:
    parsed = fastavro.parse_schema(
        {"type": "record", "name": "Node", "fields": [
            {"name": "value", "type": "long"},
            {"name": "next", "type": ["null", "Node"]},
        ]}
    )
    datum = {"value": 1, "next": {"value": 2, "next": {"value": 3, "next": None}}}

    assert _read(parsed, _encode(parsed, datum)) == datum


def test_a_schema_with_other_logical_types_is_left_to_fastavro(tmp_path: Any) -> None:
    parsed = fastavro.parse_schema(
        {"type": "record", "name": "R", "fields": [
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        ]}
    )

    assert compile_reader(parsed) is None


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        (bytes([0x12]), "malformed", "union branch 9"),  # ["null", "long"] has two
        (bytes([0x01]), "malformed", "union branch -1"),  # fastavro takes the last branch
        (bytes([0x02]), None, None),  # branch 1, then the input ends: IndexError
        (bytes([0x02]) + b"\xff" * 11, "malformed", "over 10 bytes"),
        (bytes([0x02]) + b"\xff" * 9 + b"\x02", "malformed", "over 64 bits"),
    ],
)
def test_bad_union_indexes_and_varints_are_refused(
    body: bytes, code: str | None, says: str | None
) -> None:
    parsed = fastavro.parse_schema(
        {"type": "record", "name": "R", "fields": [{"name": "a", "type": ["null", "long"]}]}
    )
    reader = compile_reader(parsed)
    assert reader is not None

    with pytest.raises((AvroReadError, IndexError)) as excinfo:
        reader(HEADER + body, len(HEADER))

    if code is None:
        assert excinfo.type is IndexError
    else:
        assert isinstance(excinfo.value, AvroReadError)
        assert excinfo.value.code == code
        assert says in str(excinfo.value)


@pytest.mark.parametrize(
    "items",
    [
        "null",
        {"type": "record", "name": "Empty", "fields": []},
        {"type": "fixed", "name": "Nothing", "size": 0},
        {"type": "array", "items": "null"},  # nested: counts alone would multiply
    ],
)
def test_arrays_of_items_that_take_no_bytes_are_left_to_fastavro(items: Any) -> None:
    """A count alone would make any number of such items: no generated reader for them."""
    parsed = fastavro.parse_schema({"type": "array", "items": {"type": "array", "items": items}})

    assert compile_reader(parsed) is None


@pytest.mark.parametrize("value", [-(2**63), 2**63 - 1, 0, -1, 64, -65])
def test_longs_to_the_ends_of_64_bits_read_like_fastavro(value: int) -> None:
    parsed = fastavro.parse_schema({"type": "long"})
    body = _encode(parsed, value)

    assert _read(parsed, body) == _fastavro(parsed, body) == value


def test_a_block_count_larger_than_the_input_is_refused() -> None:
    parsed = fastavro.parse_schema({"type": "array", "items": "long"})
    reader = compile_reader(parsed)
    assert reader is not None

    with pytest.raises(AvroReadError, match="more than the input can hold"):
        reader(HEADER + _varint(2 * 10**12) + b"\x02\x00", len(HEADER))


def _varint(zigzagged: int) -> bytes:
    out = bytearray()
    while True:
        byte, zigzagged = zigzagged & 0x7F, zigzagged >> 7
        out.append(byte | (0x80 if zigzagged else 0))
        if not zigzagged:
            return bytes(out)


def test_every_cut_of_a_real_event_is_an_error_not_a_value(
    registry: SchemaRegistry, decoder: SingleObjectDecoder
) -> None:
    value = ae.single_object(registry, ae.CLIENT, ae.client_payload())

    for cut in range(10, len(value)):
        with pytest.raises(DecodeError) as excinfo:
            decoder.decode_payload(value[:cut], ae.CLIENT)
        assert excinfo.value.code in ("truncated", "malformed", "trailing_bytes"), cut


def test_corrupted_events_decode_as_fastavro_would_or_are_refused(
    registry: SchemaRegistry, decoder: SingleObjectDecoder
) -> None:
    """Stricter is allowed (refusing what fastavro would read); different values are not."""
    schema = registry.by_name(ae.LOAN_ACCOUNT)
    assert schema is not None
    value = ae.single_object(registry, ae.LOAN_ACCOUNT, ae.loan_account_payload())
    rnd = random.Random(7)
    accepted = 0
    for _ in range(600):
        corrupt = bytearray(value)
        for _ in range(rnd.randint(1, 3)):
            corrupt[rnd.randrange(10, len(corrupt))] = rnd.randrange(256)
        try:
            _, ours = decoder.decode_payload_with_schema(bytes(corrupt), ae.LOAN_ACCOUNT)
        except DecodeError:
            continue
        accepted += 1
        body = io.BytesIO(bytes(corrupt))
        body.seek(10)
        assert schemaless_reader(body, schema.parsed, None) == ours
        assert body.tell() == len(corrupt)
    assert accepted > 50  # many flips land in string bytes and stay valid


def test_invalid_utf8_is_malformed(registry: SchemaRegistry, decoder: SingleObjectDecoder) -> None:
    value = ae.single_object(registry, ae.CLIENT, ae.client_payload())
    at = value.index(b"Lovelace")
    corrupt = value[:at] + b"\xff" + value[at + 1 :]

    with pytest.raises(DecodeError) as excinfo:
        decoder.decode_payload(corrupt, ae.CLIENT)

    assert excinfo.value.code == "malformed"
    assert "UnicodeDecodeError" in excinfo.value.reason


def test_schemas_without_a_generated_reader_are_read_by_fastavro_with_the_same_errors(
    registry: SchemaRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("fineract_hub.ingest.decode.compile_reader", lambda parsed: None)
    fallback = SingleObjectDecoder(registry)
    value = ae.single_object(registry, ae.CLIENT, ae.client_payload())

    assert fallback.decode_payload(value, ae.CLIENT) == SingleObjectDecoder(
        registry
    ).decode_payload(value, ae.CLIENT)
    with pytest.raises(DecodeError) as excinfo:
        fallback.decode_payload(value[:-5], ae.CLIENT)
    assert excinfo.value.code == "truncated"


def test_a_fixed_of_negative_size_is_left_to_fastavro() -> None:
    parsed = fastavro.parse_schema(
        {"type": "record", "name": "R", "fields": [
            {"name": "f", "type": {"type": "fixed", "name": "Minus", "size": -2}},
        ]}
    )

    assert compile_reader(parsed) is None


def test_a_decimal_longer_than_its_precision_allows_is_refused_before_any_arithmetic() -> None:
    parsed = fastavro.parse_schema(
        {"type": "bytes", "logicalType": "decimal", "precision": 20, "scale": 8}
    )
    reader = compile_reader(parsed)
    assert reader is not None
    huge = b"\x7f" + b"\xff" * 99_999  # a 100 kB unscaled integer: seconds of conversion

    with pytest.raises(AvroReadError, match="more than 20 digits"):
        reader(HEADER + _varint(2 * len(huge)) + huge, len(HEADER))


def test_a_decimal_fixed_larger_than_its_precision_needs_reads_like_fastavro() -> None:
    parsed = fastavro.parse_schema(
        {"type": "fixed", "name": "Wide", "size": 32, "logicalType": "decimal",
         "precision": 20, "scale": 8}
    )
    body = _encode(parsed, Decimal("-12.5"))

    assert _read(parsed, body) == _fastavro(parsed, body) == Decimal("-12.5")


def test_the_largest_decimal_of_its_precision_still_reads() -> None:
    parsed = fastavro.parse_schema(
        {"type": "bytes", "logicalType": "decimal", "precision": 20, "scale": 8}
    )
    for value in (Decimal("999999999999.99999999"), Decimal("-999999999999.99999999")):
        body = _encode(parsed, value)
        assert _read(parsed, body) == _fastavro(parsed, body) == value


def _nested_arrays(depth: int) -> Any:
    schema: Any = "long"
    for _ in range(depth):
        schema = {"type": "array", "items": schema}
    return schema


@pytest.mark.parametrize(
    "field_type",
    [
        # Deeper than Python's compiler nests blocks ("too many statically nested blocks").
        _nested_arrays(11),
        # An elif chain longer than Python's compiler recursion allows.
        ["null", *({"type": "enum", "name": f"E{i}", "symbols": ["A"]} for i in range(3000))],
    ],
    ids=["eleven-nested-arrays", "union-of-3001-branches"],
)
def test_schemas_too_big_for_generated_code_are_read_by_fastavro(
    registry: SchemaRegistry, field_type: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed = fastavro.parse_schema(
        {"type": "record", "name": "Big", "fields": [{"name": "f", "type": field_type}]}
    )
    assert compile_reader(parsed) is None
    schema = LoadedSchema("Big", Path("Big.avsc"), "", bytes(8), parsed, False)
    decoder = SingleObjectDecoder(registry)
    monkeypatch.setattr(decoder, "schema_for", lambda value, what: schema)
    datum = {"f": None} if isinstance(field_type, list) else {"f": [[[[[[[[[[[7]]]]]]]]]]]}

    assert decoder.decode(ae.MAGIC + bytes(8) + _encode(parsed, datum), "test")[1] == datum


def test_a_field_name_that_is_not_text_is_left_to_fastavro() -> None:
    parsed = fastavro.parse_schema(
        {"type": "record", "name": "R", "fields": [{"name": 1, "type": "long"}]}
    )

    assert compile_reader(parsed) is None
