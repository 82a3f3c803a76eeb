"""Avro binary readers generated from a schema, for the per-event hot path.

Why not fastavro's ``schemaless_reader`` for every event: it walks the schema dict at every
field, so a 255-byte ``ClientDataV1`` took 35 µs, the largest single cost of a delivery. The
reader made here once per schema reads the same bytes into the same values in about a third of
that (``bench/avro_decode.py``), as Python source with every field's work written out.

It reads what fastavro reads, value for value (differential tests over every Fineract schema
in ``tests/unit/ingest/test_avro_reader.py``), and is stricter where fastavro is lax: a union
index out of range, a varint over 64 bits, a length past the end of the input, a block count
larger than the rest of the input could hold and a bytes decimal longer than its precision
needs are errors here. What it does not handle (logical types other than decimal, arrays of
items that take no bytes, a fixed of negative size, field names that are not text, schemas too
big for Python's compiler) makes ``compile_reader`` return ``None``; the caller then keeps
fastavro.

Safety: the source is generated from the operator's schema folder, never from event data, and
nothing from the schema reaches it except as ``repr()`` of a ``str`` or as an ``int``.
"""

from __future__ import annotations

import decimal
import logging
import math
import struct
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["AvroReadError", "Reader", "compile_reader"]

log = logging.getLogger(__name__)

#: ``reader(buf, pos)`` → (datum, position after it).
Reader = Callable[[bytes, int], tuple[Any, int]]

_MAX_VARINT_BYTES = 10  # a Java long

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})


class AvroReadError(Exception):
    """The bytes are not a value of the schema; ``code`` is ``truncated`` or ``malformed``."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class _Unsupported(Exception):
    """The schema uses something this compiler leaves to fastavro."""


def _long(buf: bytes, pos: int) -> tuple[int, int]:
    """A zig-zag varint of more than one byte (the generated code inlines the one-byte case)."""
    n = shift = 0
    for count in range(_MAX_VARINT_BYTES):
        b = buf[pos + count]
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            if n >> 64:  # fastavro's C reader wraps such a value around; Java cannot write it
                raise AvroReadError("malformed", f"a varint at byte {pos} is over 64 bits")
            return (n >> 1) ^ -(n & 1), pos + count + 1
        shift += 7
    raise AvroReadError("malformed", f"a varint at byte {pos} runs over {_MAX_VARINT_BYTES} bytes")


def _bad_length(n: int, pos: int, end: int) -> AvroReadError:
    if n < 0:
        return AvroReadError("malformed", f"a negative length ({n}) at byte {pos}")
    return AvroReadError("truncated", f"a length of {n} at byte {pos} runs past the end ({end})")


def _bad_union(index: int, branches: int, pos: int) -> AvroReadError:
    return AvroReadError(
        "malformed", f"union branch {index} at byte {pos} does not exist ({branches} branches)"
    )


def _bad_enum(index: int, symbols: int, pos: int) -> AvroReadError:
    return AvroReadError(
        "malformed", f"enum symbol {index} at byte {pos} does not exist ({symbols} symbols)"
    )


def _bad_count(count: int, pos: int) -> AvroReadError:
    return AvroReadError(
        "malformed", f"a block of {count} items at byte {pos} is more than the input can hold"
    )


def _decimal_reader(
    precision: int, scale: int, sized_by_schema: bool
) -> Callable[[bytes], decimal.Decimal]:
    """fastavro's decimal: the unscaled two's-complement integer, rounded to ``precision``.

    On ``bytes``, more bytes than ``precision`` digits need are refused first: turning a huge
    integer into a Decimal takes time quadratic in its length (a megabyte: minutes), and no
    writer that honours the schema sends one. A ``fixed`` has the schema's size whatever the
    data says (and may be larger than the precision needs: values are sign-extended).
    """
    context = decimal.Context(prec=precision)
    create, exponent = context.create_decimal, -scale
    # |unscaled| < 10**precision, plus a sign bit, plus one spare byte for lax writers.
    limit = math.inf if sized_by_schema else math.ceil((precision * math.log2(10) + 1) / 8) + 1

    def read(raw: bytes) -> decimal.Decimal:
        if len(raw) > limit:
            raise AvroReadError(
                "malformed", f"a decimal of {len(raw)} bytes has more than {precision} digits"
            )
        return create(int.from_bytes(raw, "big", signed=True)).scaleb(exponent, context)

    return read


class _Compiler:
    def __init__(self, named: Mapping[str, Any]) -> None:
        self.named = named
        self.functions: dict[str, str] = {}  # full name → generated function name
        self.sources: list[str] = []
        self.namespace: dict[str, Any] = {
            "_long": _long,
            "_bad_length": _bad_length,
            "_bad_union": _bad_union,
            "_bad_enum": _bad_enum,
            "_bad_count": _bad_count,
            "_float": struct.Struct("<f").unpack_from,
            "_double": struct.Struct("<d").unpack_from,
        }
        self._counter = 0
        self._min_size: dict[str, int] = {}

    def fresh(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    def constant(self, value: Any) -> str:
        name = self.fresh("_k")
        self.namespace[name] = value
        return name

    # -- schema helpers ---------------------------------------------------------------------

    def resolve(self, schema: Any) -> Any:
        if isinstance(schema, str) and schema not in _PRIMITIVES:
            if schema not in self.named:
                raise _Unsupported(f"unknown named type {schema!r}")
            return self.named[schema]
        return schema

    def min_size(self, schema: Any, seen: frozenset[str] = frozenset()) -> int:
        """Fewest bytes a value of ``schema`` takes (bounds block counts against the input)."""
        schema = self.resolve(schema)
        if isinstance(schema, list):
            return 1
        if isinstance(schema, str):
            return {"null": 0, "boolean": 1, "float": 4, "double": 8}.get(schema, 1)
        kind = schema["type"]
        if kind in ("record", "error"):
            name = schema["name"]
            if name in seen:
                return 0
            if name not in self._min_size:
                self._min_size[name] = sum(
                    self.min_size(f["type"], seen | {name}) for f in schema["fields"]
                )
            return self._min_size[name]
        if kind == "fixed":
            return int(schema["size"]) if type(schema["size"]) is int else 0
        if kind in _PRIMITIVES:
            return self.min_size(kind)
        return 1  # enum, array, map: at least one varint

    # -- code generation --------------------------------------------------------------------

    def record_function(self, schema: Mapping[str, Any]) -> str:
        name = schema["name"]
        if name in self.functions:
            return self.functions[name]
        function = self.fresh("_record")
        self.functions[name] = function  # before the fields: recursive types refer to it
        lines: list[str] = []
        keys = []
        for field in schema["fields"]:
            if type(field["name"]) is not str:  # fastavro accepts a number; Avro does not
                raise _Unsupported(f"field name {field['name']!r}")
            target = self.fresh("v")
            lines += self.read_into(field["type"], target, "    ")
            keys.append(f"{field['name']!r}: {target}")
        self.define(function, lines, "{" + ", ".join(keys) + "}")
        return function

    def define(self, function: str, body: list[str], value: str) -> None:
        """Add ``def function(buf, pos)``: ``body``, then ``return value, pos``."""
        self.sources.append(
            "\n".join([f"def {function}(buf, pos):", "    end = len(buf)", *body,
                       f"    return {value}, pos"])
        )

    @staticmethod
    def need(size: int | str, indent: str) -> list[str]:
        """Statements refusing to read ``size`` bytes past the end of the input."""
        return [
            f"{indent}if pos + {size} > end:",
            f"{indent}    raise _bad_length({size}, pos, end)",
        ]

    def varint(self, target: str, indent: str) -> list[str]:
        return [
            f"{indent}b = buf[pos]",
            f"{indent}if b & 0x80:",
            f"{indent}    {target}, pos = _long(buf, pos)",
            f"{indent}else:",
            f"{indent}    {target} = (b >> 1) ^ -(b & 1)",
            f"{indent}    pos += 1",
        ]

    def read_into(self, schema: Any, target: str, indent: str) -> list[str]:
        """Statements that read one value of ``schema`` at ``pos`` into ``target``."""
        schema = self.resolve(schema)
        if isinstance(schema, list):
            return self.union(schema, target, indent)
        if isinstance(schema, str):
            return self.primitive(schema, target, indent)
        kind = schema["type"]
        logical = schema.get("logicalType")
        if logical is not None:
            return self.logical(schema, logical, target, indent)
        if kind in ("record", "error"):
            return [f"{indent}{target}, pos = {self.record_function(schema)}(buf, pos)"]
        if kind == "enum":
            symbols = tuple(str(s) for s in schema["symbols"])
            table = self.constant(symbols)
            return [
                *self.varint("n", indent),
                f"{indent}if not 0 <= n < {len(symbols)}:",
                f"{indent}    raise _bad_enum(n, {len(symbols)}, pos)",
                f"{indent}{target} = {table}[n]",
            ]
        if kind == "fixed":
            size = schema["size"]
            if type(size) is not int or size < 0:
                raise _Unsupported(f"fixed size {size!r}")
            return [
                *self.need(size, indent),
                f"{indent}{target} = buf[pos:pos + {size}]",
                f"{indent}pos += {size}",
            ]
        if kind == "array":
            return self.blocks(schema["items"], None, target, indent)
        if kind == "map":
            return self.blocks(schema["values"], "string", target, indent)
        if kind in _PRIMITIVES:
            return self.primitive(kind, target, indent)
        raise _Unsupported(f"type {kind!r}")

    def primitive(self, kind: str, target: str, indent: str) -> list[str]:
        if kind == "null":
            return [f"{indent}{target} = None"]
        if kind == "boolean":  # fastavro: any byte but 0 is true
            return [f"{indent}{target} = buf[pos] != 0", f"{indent}pos += 1"]
        if kind in ("int", "long"):
            return self.varint(target, indent)
        if kind in ("float", "double"):
            size = 4 if kind == "float" else 8
            return [
                *self.need(size, indent),
                f"{indent}{target}, = _{kind}(buf, pos)",
                f"{indent}pos += {size}",
            ]
        # bytes, string
        decode = ".decode()" if kind == "string" else ""
        return [
            *self.varint("n", indent),
            f"{indent}if n < 0 or pos + n > end:",
            f"{indent}    raise _bad_length(n, pos, end)",
            f"{indent}{target} = buf[pos:pos + n]{decode}",
            f"{indent}pos += n",
        ]

    def logical(
        self, schema: Mapping[str, Any], logical: str, target: str, indent: str
    ) -> list[str]:
        if logical != "decimal" or schema["type"] not in ("bytes", "fixed"):
            raise _Unsupported(f"logical type {logical!r} on {schema['type']!r}")
        read = self.constant(
            _decimal_reader(
                int(schema["precision"]), int(schema.get("scale", 0)), schema["type"] == "fixed"
            )
        )
        raw = self.fresh("raw")
        base = {k: v for k, v in schema.items() if k != "logicalType"}
        return [*self.read_into(base, raw, indent), f"{indent}{target} = {read}({raw})"]

    def union(self, branches: list[Any], target: str, indent: str) -> list[str]:
        index = self.fresh("u")
        lines = self.varint(index, indent)
        for number, branch in enumerate(branches):
            lines.append(f"{indent}{'if' if number == 0 else 'elif'} {index} == {number}:")
            lines += self.read_into(branch, target, indent + "    ")
        lines += [
            f"{indent}else:",
            f"{indent}    raise _bad_union({index}, {len(branches)}, pos)",
        ]
        return lines

    def blocks(self, items: Any, keys: str | None, target: str, indent: str) -> list[str]:
        """Avro's blocked encoding of arrays (``keys`` None) and maps (string keys)."""
        count, item, key = self.fresh("c"), self.fresh("i"), self.fresh("key")
        size = self.min_size(items) + (1 if keys else 0)
        if not size:
            # Items of no bytes: a count alone would build any number of them, and nested
            # arrays multiply that. Fineract has none; fastavro reads such schemas.
            raise _Unsupported("an array of items that take no bytes")
        bound = f"(end - pos) // {size}"
        inner = indent + "        "
        lines = [
            f"{indent}{target} = {{}}" if keys else f"{indent}{target} = []",
            f"{indent}while True:",
            *self.varint(count, indent + "    "),
            f"{indent}    if {count} == 0:",
            f"{indent}        break",
            f"{indent}    if {count} < 0:",
            f"{indent}        {count} = -{count}",
            *self.varint("n", indent + "        "),  # the block's size in bytes, not needed
            f"{indent}    if {count} > {bound}:",
            f"{indent}        raise _bad_count({count}, pos)",
            f"{indent}    for _ in range({count}):",
        ]
        if keys:
            lines += self.read_into("string", key, inner)
            lines += self.read_into(items, item, inner)
            lines.append(f"{inner}{target}[{key}] = {item}")
        else:
            lines += self.read_into(items, item, inner)
            lines.append(f"{inner}{target}.append({item})")
        return lines


def compile_reader(parsed: Mapping[str, Any]) -> Reader | None:
    """A reader for a fastavro-parsed schema (``fastavro.parse_schema``), or None when the
    schema uses something left to fastavro."""
    compiler = _Compiler(parsed.get("__named_schemas", {}))
    try:
        top = compiler.resolve(parsed)
        if isinstance(top, Mapping) and top.get("type") in ("record", "error"):
            entry = compiler.record_function(top)
        else:
            entry = "_top"
            compiler.define(entry, compiler.read_into(top, "value", "    "), "value")
        source = "\n\n".join(compiler.sources)
        code = compile(source, f"<avro reader for {parsed.get('name', 'schema')}>", "exec")
    except _Unsupported:
        return None
    except (SyntaxError, RecursionError, MemoryError) as exc:  # e.g. too many nested blocks
        log.warning("no generated reader for schema %s (%s); fastavro reads it",
                    parsed.get("name"), exc)
        return None
    exec(code, compiler.namespace)  # noqa: S102 - source made above from the schema's shape
    reader: Reader = compiler.namespace[entry]
    return reader
