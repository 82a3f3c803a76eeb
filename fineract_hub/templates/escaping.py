"""Escaping by the body's content type, never by HTML rules.

Handlebars' own ``{{x}}`` HTML-escapes (``"`` becomes ``&quot;``), which corrupts JSON string values
(jellyfin-plugin-webhook#98), and ``{{{x}}}`` inserts raw quotes and newlines, which breaks the
document (metriport PR #1568). Here a ``{{x}}`` value is escaped for the place it lands in the
body's own syntax: inside a JSON string, XML character data/attribute, or a form field.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any, Final
from urllib.parse import quote_plus

from fineract_hub.templates.errors import TemplateRejected

JSON: Final = "application/json"
XML: Final = "application/xml"
FORM: Final = "application/x-www-form-urlencoded"
TEXT: Final = "text/plain"
KINDS: Final = (JSON, XML, FORM, TEXT)


class Unprintable(TypeError):
    """An object or array reached a text position: there is no single right way to print it."""


def content_kind(content_type: str) -> str:
    """Map a Content-Type to the escaping we apply, so ``application/json; charset=utf-8`` and
    ``application/cloudevents+json`` escape like JSON. Unknown types are rejected rather than
    guessed, because a wrong guess produces bodies the receiver cannot parse."""
    base = content_type.split(";", 1)[0].strip().lower()
    if base in KINDS:
        return base
    if base.endswith("+json"):
        return JSON
    if base == "text/xml" or base.endswith("+xml"):
        return XML
    raise TemplateRejected(
        f"content type {content_type!r} is not supported: use one of {', '.join(KINDS)} "
        "(or a +json / +xml type)"
    )


def text_of(value: Any) -> str:
    """The exact text of a JSON-like scalar. Decimals keep every digit Fineract sent
    (``1000.50000000``); null is empty so a quoted ``"{{x}}"`` becomes ``""``."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if value is None:
        return ""
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is Decimal:
        if not value.is_finite():
            raise Unprintable(f"non-finite number {value!r} cannot be rendered")
        return format(value, "f")
    if kind is float:
        if not math.isfinite(value):
            raise Unprintable(f"non-finite number {value!r} cannot be rendered")
        return repr(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, dict | list):
        label = "an object" if isinstance(value, dict) else "an array"
        raise Unprintable(
            f"an expression produced {label}, which cannot be inserted as text: "
            "use {{json path}} to insert it as JSON"
        )
    raise Unprintable(f"a value of type {kind.__name__} cannot be rendered")


def json_string_inner(text: str) -> str:
    """The inside of a JSON string literal: quotes, backslashes and control characters escaped,
    everything else kept as UTF-8 (valid JSON, readable by humans)."""
    return encode_basestring(text)[1:-1]  # type: ignore[no-any-return]


_XML_TABLE: dict[int, str] = {
    ord("&"): "&amp;",
    ord("<"): "&lt;",
    ord(">"): "&gt;",
    ord('"'): "&quot;",
    ord("'"): "&apos;",
}
# XML 1.0 cannot carry most C0 controls at all, not even as character references; replacing
# them keeps the document well-formed instead of failing the whole delivery.
for _code in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF):
    _XML_TABLE[_code] = "\ufffd"


def xml_escape(text: str) -> str:
    return text.translate(_XML_TABLE)


def form_escape(text: str) -> str:
    return quote_plus(text, safe="")


def _identity(text: str) -> str:
    return text


ESCAPERS: Final[dict[str, Callable[[str], str]]] = {
    JSON: json_string_inner,
    XML: xml_escape,
    FORM: form_escape,
    TEXT: _identity,
}
