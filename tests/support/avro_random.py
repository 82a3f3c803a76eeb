"""Random values of any fastavro-parsed schema, for differential tests of the Avro readers.

fastavro's own ``generate_many`` recurses without end on some of Fineract's schemas; this one
prefers null and empty arrays below a depth, and mixes edge values (extreme longs, unicode,
quotes, 20-digit decimals) with small ones.
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_TEXT = string.ascii_letters + "é€😀\n\"\\\x00"
_DEEP = 4


def random_value(schema: Any, named: Mapping[str, Any], rnd: random.Random, depth: int = 0) -> Any:
    if isinstance(schema, str) and schema not in PRIMITIVES:
        schema = named[schema]
    if isinstance(schema, list):
        if depth > _DEEP and "null" in schema:
            return None
        return random_value(rnd.choice(schema), named, rnd, depth + 1)
    if isinstance(schema, str):
        schema = {"type": schema}
    kind = schema["type"]
    if isinstance(kind, dict | list):
        return random_value(kind, named, rnd, depth)
    if schema.get("logicalType") == "decimal":
        digits = int(schema["precision"])
        bound = 10**digits - 1 if rnd.random() < 0.8 else 1000
        return Decimal(rnd.randint(-bound, bound)).scaleb(-int(schema.get("scale", 0)))
    return _BY_KIND[kind](schema, named, rnd, depth)


def _items(rnd: random.Random, depth: int) -> range:
    return range(0 if depth > _DEEP else rnd.randint(0, 3))


def _integer(bits: int) -> Any:
    def make(schema: Any, named: Any, rnd: random.Random, depth: int) -> int:
        if rnd.random() < 0.5:
            return rnd.randint(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        return rnd.randint(-100, 100)

    return make


_BY_KIND: dict[str, Any] = {
    "null": lambda schema, named, rnd, depth: None,
    "boolean": lambda schema, named, rnd, depth: rnd.random() < 0.5,
    "int": _integer(32),
    "long": _integer(64),
    "float": lambda schema, named, rnd, depth: float(rnd.randint(-(2**20), 2**20)) / 8,
    "double": lambda schema, named, rnd, depth: rnd.uniform(-1e12, 1e12),
    "bytes": lambda schema, named, rnd, depth: rnd.randbytes(rnd.randint(0, 20)),
    "string": lambda schema, named, rnd, depth: "".join(
        rnd.choice(_TEXT) for _ in range(rnd.randint(0, 20))
    ),
    "record": lambda schema, named, rnd, depth: {
        f["name"]: random_value(f["type"], named, rnd, depth + 1) for f in schema["fields"]
    },
    "enum": lambda schema, named, rnd, depth: rnd.choice(schema["symbols"]),
    "fixed": lambda schema, named, rnd, depth: rnd.randbytes(int(schema["size"])),
    "array": lambda schema, named, rnd, depth: [
        random_value(schema["items"], named, rnd, depth + 1) for _ in _items(rnd, depth)
    ],
    "map": lambda schema, named, rnd, depth: {
        random_value("string", named, rnd): random_value(schema["values"], named, rnd, depth + 1)
        for _ in _items(rnd, depth)
    },
}
_BY_KIND["error"] = _BY_KIND["record"]
