"""Fineract's Avro schemas, loaded once and indexed the way single-object encoding needs them.

Fineract does not publish its schemas as a package, so the hub reads the vendored ``.avsc`` folder
(it must match the Fineract version being listened to). Three build-time quirks of Fineract have to
be reproduced here, otherwise no fingerprint would match what Fineract writes on the wire:

- the ``"bigdecimal"`` pseudo-type is textually replaced by a bytes/decimal(20, 8) schema;
- files reference each other's named types by full name, so they are parsed as one set, in
  dependency order, whatever order the file system lists them in;
- every message carries the CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form,
  computed over the schema *with referenced types inlined* (that is what Java's parsed ``Schema``
  object normalises), so the canonical form is produced here rather than per file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro

__all__ = [
    "BIGDECIMAL_SCHEMA",
    "BULK_PAYLOAD_SCHEMA",
    "ENVELOPE_SCHEMA",
    "LoadedSchema",
    "SchemaLoadError",
    "SchemaRegistry",
    "crc64_avro",
    "parsing_canonical_form",
]

ENVELOPE_SCHEMA = "org.apache.fineract.avro.MessageV1"
BULK_PAYLOAD_SCHEMA = "org.apache.fineract.avro.BulkMessagePayloadV1"

#: What Fineract's ``preprocessAvroSchemas`` Gradle task puts in place of ``"bigdecimal"``.
BIGDECIMAL_SCHEMA: dict[str, Any] = {
    "type": "bytes",
    "logicalType": "decimal",
    "precision": 20,
    "scale": 8,
}
_BIGDECIMAL_TOKEN = '"bigdecimal"'  # noqa: S105 - a schema token, not a secret
_BIGDECIMAL_JSON = json.dumps(BIGDECIMAL_SCHEMA)

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_NAMED = frozenset({"record", "error", "enum", "fixed"})

# CRC-64-AVRO (Rabin fingerprint), exactly as in the Avro specification.
_CRC64_EMPTY = 0xC15D213AA4D7A795


def _crc64_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_CRC64_EMPTY & -(fp & 1))
        table.append(fp & 0xFFFFFFFFFFFFFFFF)
    return tuple(table)


_CRC64_TABLE = _crc64_table()


def crc64_avro(data: bytes) -> int:
    """The 64-bit Rabin fingerprint Avro uses for single-object encoding (as an unsigned int)."""
    fp = _CRC64_EMPTY
    table = _CRC64_TABLE
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


class SchemaLoadError(Exception):
    """The schema folder cannot be used; the message says which file and why."""


def _fullname(name: str, namespace: str | None) -> str:
    if "." in name or not namespace:
        return name
    return f"{namespace}.{name}"


def _walk_named(schema: Any, namespace: str | None) -> Iterator[tuple[str, str | None, Any]]:
    """Yield ``(kind, fullname, node)``; kind is ``"def"`` for definitions, ``"ref"`` for uses."""
    if isinstance(schema, str):
        if schema not in _PRIMITIVES:
            yield "ref", _fullname(schema, namespace), schema
        return
    if isinstance(schema, list):
        for branch in schema:
            yield from _walk_named(branch, namespace)
        return
    if not isinstance(schema, dict):
        return
    kind = schema.get("type")
    if kind in _NAMED:
        own_ns = schema.get("namespace", namespace)
        full = _fullname(schema["name"], own_ns)
        yield "def", full, schema
        inner_ns = full.rpartition(".")[0] or None
        for field in schema.get("fields", ()):
            yield from _walk_named(field.get("type"), inner_ns)
    elif kind == "array":
        yield from _walk_named(schema.get("items"), namespace)
    elif kind == "map":
        yield from _walk_named(schema.get("values"), namespace)
    else:
        yield from _walk_named(kind, namespace)


def parsing_canonical_form(
    schema: Any, named: Mapping[str, Any], namespace: str | None = None
) -> str:
    """Avro Parsing Canonical Form, inlining named references at their first occurrence.

    ``named`` maps full names to raw (JSON) definitions so references into other files resolve.
    Implemented by hand from the spec's transformation rules (PRIMITIVES, FULLNAMES, STRIP, ORDER,
    STRINGS, INTEGERS, WHITESPACE) because the result must be byte-identical to Java's
    ``SchemaNormalization`` for fingerprints to match.
    """
    out: list[str] = []
    _pcf(schema, named, namespace, set(), out)
    return "".join(out)


def _pcf(
    schema: Any, named: Mapping[str, Any], namespace: str | None, seen: set[str], out: list[str]
) -> None:
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            out.append(json.dumps(schema, ensure_ascii=False))
            return
        full = _fullname(schema, namespace)
        if full in seen:
            out.append(json.dumps(full, ensure_ascii=False))
            return
        if full not in named:
            raise SchemaLoadError(f"unknown named type {full!r}")
        _pcf(named[full], named, full.rpartition(".")[0] or None, seen, out)
        return
    if isinstance(schema, list):
        out.append("[")
        for index, branch in enumerate(schema):
            if index:
                out.append(",")
            _pcf(branch, named, namespace, seen, out)
        out.append("]")
        return
    kind = schema["type"]
    if kind in _NAMED:
        own_ns = schema.get("namespace", namespace)
        full = _fullname(schema["name"], own_ns)
        if full in seen:
            out.append(json.dumps(full, ensure_ascii=False))
            return
        seen.add(full)
        inner_ns = full.rpartition(".")[0] or None
        out.append('{"name":' + json.dumps(full, ensure_ascii=False))
        out.append(',"type":' + json.dumps("record" if kind == "error" else kind))
        if kind in ("record", "error"):
            out.append(',"fields":[')
            for index, field in enumerate(schema["fields"]):
                if index:
                    out.append(",")
                out.append('{"name":' + json.dumps(field["name"], ensure_ascii=False))
                out.append(',"type":')
                _pcf(field["type"], named, inner_ns, seen, out)
                out.append("}")
            out.append("]")
        elif kind == "enum":
            symbols = ",".join(json.dumps(s, ensure_ascii=False) for s in schema["symbols"])
            out.append(',"symbols":[' + symbols + "]")
        else:
            out.append(',"size":' + str(int(schema["size"])))
        out.append("}")
    elif kind == "array":
        out.append('{"type":"array","items":')
        _pcf(schema["items"], named, namespace, seen, out)
        out.append("}")
    elif kind == "map":
        out.append('{"type":"map","values":')
        _pcf(schema["values"], named, namespace, seen, out)
        out.append("}")
    else:
        # {"type": "int", "logicalType": ...} and friends collapse to the primitive.
        _pcf(kind, named, namespace, seen, out)


def _may_hold(
    schema: Any, named: Mapping[str, Any], namespace: str | None, seen: set[str], kind: str
) -> bool:
    """Whether a decoded datum can contain values of ``kind``: ``bytes`` (plain bytes/fixed, not
    decimals) or ``float`` (Avro float/double)."""
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return (kind == "bytes" and schema == "bytes") or (
                kind == "float" and schema in ("float", "double")
            )
        full = _fullname(schema, namespace)
        if full in seen:
            return False
        return _may_hold(named[full], named, full.rpartition(".")[0] or None, seen, kind)
    if isinstance(schema, list):
        return any(_may_hold(b, named, namespace, seen, kind) for b in schema)
    avro_type = schema["type"]
    if avro_type in _NAMED:
        full = _fullname(schema["name"], schema.get("namespace", namespace))
        if full in seen:
            return False
        seen.add(full)
        if avro_type == "fixed":
            return kind == "bytes" and schema.get("logicalType") != "decimal"
        inner_ns = full.rpartition(".")[0] or None
        return any(
            _may_hold(f["type"], named, inner_ns, seen, kind) for f in schema.get("fields", ())
        )
    if avro_type == "array":
        return _may_hold(schema["items"], named, namespace, seen, kind)
    if avro_type == "map":
        return _may_hold(schema["values"], named, namespace, seen, kind)
    if avro_type == "bytes":
        return kind == "bytes" and schema.get("logicalType") != "decimal"
    return _may_hold(avro_type, named, namespace, seen, kind)


@dataclass(frozen=True, slots=True)
class LoadedSchema:
    """One top-level schema file, ready for decoding."""

    name: str
    #: Where it came from, for error messages.
    path: Path
    canonical_form: str
    #: 8 bytes, little-endian, as they appear after ``C3 01`` on the wire.
    fingerprint: bytes
    #: fastavro-parsed schema (named types resolved), usable with ``schemaless_reader``.
    parsed: Any
    #: Whether decoded values may hold raw ``bytes`` (JSON output then needs base64).
    has_raw_bytes: bool
    #: Whether decoded values may hold floats (NaN/Infinity have no JSON form: checked).
    has_floats: bool = False

    @property
    def fingerprint_hex(self) -> str:
        return self.fingerprint.hex(" ")


class SchemaRegistry:
    """Every schema of one Fineract version, indexed by wire fingerprint and by full name."""

    def __init__(self, schemas: list[LoadedSchema], folder: Path) -> None:
        self.folder = folder
        self._by_fingerprint: dict[bytes, LoadedSchema] = {}
        self._by_name: dict[str, LoadedSchema] = {}
        for schema in schemas:
            clash = self._by_fingerprint.get(schema.fingerprint)
            if clash is not None and clash.name != schema.name:
                raise SchemaLoadError(
                    f"{schema.path} and {clash.path} have the same fingerprint "
                    f"{schema.fingerprint_hex}; messages could not be told apart"
                )
            self._by_fingerprint[schema.fingerprint] = schema
            self._by_name[schema.name] = schema
        if ENVELOPE_SCHEMA not in self._by_name:
            raise SchemaLoadError(
                f"no {ENVELOPE_SCHEMA} schema under {folder}: this is not Fineract's "
                "fineract-avro-schemas folder (expected MessageV1.avsc at its top)"
            )

    @classmethod
    def load(cls, folder: Path) -> SchemaRegistry:
        """Read every ``.avsc`` under ``folder`` (recursively) and index them.

        Files whose top level is not a named type (Fineract's ``templates/bigdecimal.avsc``) are
        build helpers, not message schemas, and are skipped.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise SchemaLoadError(
                f"Avro schema folder {folder} does not exist or is not a directory; point "
                "HUB_AVRO_SCHEMA_DIR at a copy of Fineract's fineract-avro-schemas/src/main/avro"
            )
        raw: dict[str, tuple[Path, Any]] = {}  # top-level full name -> (file, JSON)
        named: dict[str, Any] = {}  # every named definition, nested ones included
        for path in sorted(folder.rglob("*.avsc")):
            text = path.read_text(encoding="utf-8").replace(_BIGDECIMAL_TOKEN, _BIGDECIMAL_JSON)
            try:
                schema = json.loads(text)
            except json.JSONDecodeError as exc:
                raise SchemaLoadError(f"{path}: not valid JSON ({exc})") from exc
            if not (isinstance(schema, dict) and schema.get("type") in _NAMED):
                continue
            for kind, full, node in _walk_named(schema, None):
                if kind != "def":
                    continue
                if full in named:
                    other = raw.get(full, (path, None))[0]
                    raise SchemaLoadError(f"{path}: type {full} is also defined in {other}")
                named[full] = node
            raw[_fullname(schema["name"], schema.get("namespace"))] = (path, schema)
        if not raw:
            raise SchemaLoadError(f"no Avro record schemas (*.avsc) under {folder}")

        order = _dependency_order(raw, named)
        parsed_named: dict[str, Any] = {}
        loaded: list[LoadedSchema] = []
        for name in order:
            path, schema = raw[name]
            try:
                parsed = fastavro.parse_schema(schema, named_schemas=parsed_named)
            except Exception as exc:  # fastavro raises several types for bad schemas
                raise SchemaLoadError(f"{path}: fastavro cannot parse it ({exc})") from exc
            pcf = parsing_canonical_form(schema, named)
            loaded.append(
                LoadedSchema(
                    name=name,
                    path=path,
                    canonical_form=pcf,
                    fingerprint=crc64_avro(pcf.encode()).to_bytes(8, "little"),
                    parsed=parsed,
                    has_raw_bytes=_may_hold(schema, named, None, set(), "bytes"),
                    has_floats=_may_hold(schema, named, None, set(), "float"),
                )
            )
        return cls(loaded, folder)

    def by_fingerprint(self, fingerprint: bytes) -> LoadedSchema | None:
        return self._by_fingerprint.get(fingerprint)

    def by_name(self, name: str) -> LoadedSchema | None:
        return self._by_name.get(name)

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name


def _dependency_order(raw: Mapping[str, tuple[Path, Any]], named: Mapping[str, Any]) -> list[str]:
    """Top-level names ordered so each file comes after the files whose types it references."""
    owner: dict[str, str] = {}
    for top, (_, schema) in raw.items():
        for kind, full, _node in _walk_named(schema, None):
            if kind == "def" and full is not None:
                owner[full] = top
    deps: dict[str, set[str]] = {}
    for top, (path, schema) in raw.items():
        needed: set[str] = set()
        for kind, full, _node in _walk_named(schema, None):
            if kind != "ref" or full is None:
                continue
            if full not in named:
                raise SchemaLoadError(
                    f"{path}: references type {full}, which no .avsc file under the folder defines"
                )
            if owner[full] != top:
                needed.add(owner[full])
        deps[top] = needed

    order: list[str] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(name: str, chain: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*chain[chain.index(name) :], name])
            raise SchemaLoadError(f"schema files reference each other in a cycle: {cycle}")
        state[name] = 1
        for dep in sorted(deps[name]):
            visit(dep, [*chain, name])
        state[name] = 2
        order.append(name)

    for name in sorted(raw):
        visit(name, [])
    return order
