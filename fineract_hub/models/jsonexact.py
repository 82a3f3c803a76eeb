"""JSON that keeps Fineract's decimals exact.

Fineract amounts are Avro decimals (scale 8). Turning them into floats would change cents, so they
travel as ``Decimal`` in memory and as JSON numbers with their exact digits on the wire. The
standard encoder cannot emit a Decimal as a number, hence this small writer.
"""

from __future__ import annotations

import json
from decimal import Decimal
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

_plain = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _write(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(encode_basestring(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"non-finite decimal {value!r} cannot be JSON")
        out.append(format(value, "f"))
    elif isinstance(value, int | float):
        out.append(_plain.encode(value))
    elif isinstance(value, dict):
        out.append("{")
        first = True
        for key, item in value.items():
            if not first:
                out.append(",")
            first = False
            out.append(encode_basestring(str(key)))
            out.append(":")
            _write(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    """Compact JSON; Decimals become numbers with their exact digits."""
    out: list[str] = []
    _write(value, out)
    return "".join(out)


def dumpb(value: Any) -> bytes:
    return dumps(value).encode()


def loads(raw: str | bytes) -> Any:
    """Parse JSON, reading non-integer numbers as Decimal so they round-trip exactly."""
    return json.loads(raw, parse_float=Decimal)
