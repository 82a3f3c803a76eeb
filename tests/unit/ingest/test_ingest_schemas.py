"""Loading Fineract's schema folder and fingerprinting it the way Fineract's Java build does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import fastavro
import pytest
from fastavro.schema import to_parsing_canonical_form

from fineract_hub.ingest.schemas import (
    BULK_PAYLOAD_SCHEMA,
    ENVELOPE_SCHEMA,
    SchemaLoadError,
    SchemaRegistry,
    crc64_avro,
)
from tests.support.avro_encode import schema_dir

LOAN_ACCOUNT = "org.apache.fineract.avro.loan.v1.LoanAccountDataV1"
ENUM_OPTION = "org.apache.fineract.avro.generic.v1.EnumOptionDataV1"
CODE_VALUE = "org.apache.fineract.avro.generic.v1.CodeValueDataV1"


def _write(folder: Path, relative: str, schema: dict) -> None:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema))


def _with_envelope(folder: Path) -> Path:
    shutil.copy(schema_dir() / "MessageV1.avsc", folder / "MessageV1.avsc")
    return folder


def test_crc64_matches_the_avro_spec_reference_vector_for_int() -> None:
    assert crc64_avro(b'"int"').to_bytes(8, "little").hex() == "8f5c393f1ad57572"


def test_envelope_fingerprint_is_the_one_fineract_messages_start_with(
    registry: SchemaRegistry,
) -> None:
    envelope = registry.by_name(ENVELOPE_SCHEMA)
    assert envelope is not None
    assert envelope.fingerprint == bytes.fromhex("1fd07bcc226c7826")


def test_bulk_payload_fingerprint_matches_the_documented_vector(registry: SchemaRegistry) -> None:
    bulk = registry.by_name(BULK_PAYLOAD_SCHEMA)
    assert bulk is not None
    assert bulk.fingerprint == bytes.fromhex("c4defed1e3cc0ac9")


def test_every_top_level_schema_file_is_loaded(registry: SchemaRegistry) -> None:
    record_files = [
        path for path in schema_dir().rglob("*.avsc") if path.parent.name != "templates"
    ]
    assert len(registry) == len(record_files)


def test_each_schema_is_found_by_its_own_fingerprint(registry: SchemaRegistry) -> None:
    for name in registry.names():
        schema = registry.by_name(name)
        assert schema is not None
        assert registry.by_fingerprint(schema.fingerprint) is schema


def test_bigdecimal_fields_become_scale_8_decimals(registry: SchemaRegistry) -> None:
    loan = registry.by_name(LOAN_ACCOUNT)
    assert loan is not None
    principal = next(f for f in loan.parsed["fields"] if f["name"] == "principal")
    assert principal["type"][1] == {
        "type": "bytes",
        "logicalType": "decimal",
        "precision": 20,
        "scale": 8,
    }


def test_canonical_form_inlines_a_referenced_type_once_then_names_it(
    registry: SchemaRegistry,
) -> None:
    client = registry.by_name("org.apache.fineract.avro.client.v1.ClientDataV1")
    assert client is not None
    definition = '{"name":"' + CODE_VALUE + '","type":"record"'
    assert client.canonical_form.count(definition) == 1
    assert client.canonical_form.count('"' + CODE_VALUE + '"') >= 1


def test_canonical_form_agrees_with_fastavro_where_no_named_type_repeats(
    registry: SchemaRegistry,
) -> None:
    # fastavro's expanded form inlines every repetition, unlike Java, so only compare schemas
    # in which each named type occurs once.
    for name in (ENVELOPE_SCHEMA, BULK_PAYLOAD_SCHEMA, ENUM_OPTION):
        schema = registry.by_name(name)
        assert schema is not None
        expanded = fastavro.parse_schema(schema.parsed, expand=True)
        assert schema.canonical_form == to_parsing_canonical_form(expanded)


def test_canonical_form_drops_docs_defaults_and_logical_types(registry: SchemaRegistry) -> None:
    loan = registry.by_name(LOAN_ACCOUNT)
    assert loan is not None
    for word in ('"doc"', '"default"', '"logicalType"', '"namespace"', " ", "\n"):
        assert word not in loan.canonical_form


def test_named_references_resolve_whatever_order_files_are_listed_in(tmp_path: Path) -> None:
    folder = _with_envelope(tmp_path)
    # "a/Uses" sorts before "z/Base", so a naive in-order parse would meet the reference first.
    _write(
        folder,
        "a/Uses.avsc",
        {
            "type": "record",
            "name": "Uses",
            "namespace": "t.v1",
            "fields": [{"name": "base", "type": ["null", "t.v1.Base"], "default": None}],
        },
    )
    _write(
        folder,
        "z/Base.avsc",
        {
            "type": "record",
            "name": "Base",
            "namespace": "t.v1",
            "fields": [{"name": "amount", "type": ["null", "bigdecimal"], "default": None}],
        },
    )

    loaded = SchemaRegistry.load(folder)

    assert {"t.v1.Uses", "t.v1.Base"} <= set(loaded.names())


def test_template_files_that_are_not_named_types_are_skipped(registry: SchemaRegistry) -> None:
    assert all("." in name for name in registry.names())


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SchemaLoadError, match="does not exist"):
        SchemaRegistry.load(tmp_path / "nowhere")


def test_folder_without_message_v1_is_rejected(tmp_path: Path) -> None:
    _write(tmp_path, "Only.avsc", {"type": "record", "name": "Only", "fields": []})

    with pytest.raises(SchemaLoadError, match="MessageV1"):
        SchemaRegistry.load(tmp_path)


def test_empty_folder_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SchemaLoadError, match="no Avro record schemas"):
        SchemaRegistry.load(tmp_path)


def test_reference_to_an_undefined_type_names_the_file_and_the_type(tmp_path: Path) -> None:
    folder = _with_envelope(tmp_path)
    _write(
        folder,
        "Broken.avsc",
        {
            "type": "record",
            "name": "Broken",
            "namespace": "t",
            "fields": [{"name": "x", "type": "t.Missing"}],
        },
    )

    with pytest.raises(SchemaLoadError, match=r"Broken\.avsc.*t\.Missing"):
        SchemaRegistry.load(folder)


def test_invalid_json_names_the_file(tmp_path: Path) -> None:
    folder = _with_envelope(tmp_path)
    (folder / "Bad.avsc").write_text("{not json")

    with pytest.raises(SchemaLoadError, match=r"Bad\.avsc"):
        SchemaRegistry.load(folder)
