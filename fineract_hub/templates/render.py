"""Compile validated templates once, render them per event into exact, escaped bytes.

Rules a template author can rely on (also the README's template reference):

* ``{{path}}`` escapes the value for the content type (see ``escaping``). Numbers print their
  exact digits (``Decimal('1000.50000000')`` -> ``1000.50000000``), booleans ``true``/``false``,
  an explicit null prints nothing.
* A path that is *not present* in the event fails the render with the path in the message, so the
  attempt is recorded as a render error instead of a body with holes. Block conditions
  (``{{#if data.x}}``, ``#unless``, ``#with``, ``#each``) and ``default``'s first argument are
  guards: there a missing field simply counts as null.
* Helpers: ``{{json x}}`` inserts ``x`` as JSON (objects, arrays, ``null``, unquoted numbers; in
  XML/form/text bodies the JSON text is then escaped for that type); ``{{default x "n/a"}}``
  gives the fallback when ``x`` is missing, null or empty; ``{{upper x}}`` / ``{{lower x}}``.
* ``application/json`` output must parse as JSON; bodies larger than ``max_bytes`` fail; loops
  stop after ``MAX_LOOP_ITERATIONS`` iterations.

Rendering sees only JSON-like data (dict/list/str/int/Decimal/float/bool/None), walked by our own
resolver: pybars' ``pick()`` falls back to ``getattr`` and calls whatever callable it finds.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final
from urllib.parse import urlencode

from pybars import Compiler, Scope, strlist

from fineract_hub.models import jsonexact
from fineract_hub.models.events import CanonicalEvent
from fineract_hub.templates import escaping
from fineract_hub.templates.errors import RenderError, TemplateRejected
from fineract_hub.templates.safe import GUARD, parse_and_validate

DEFAULT_MAX_BYTES: Final = 256 * 1024
MAX_LOOP_ITERATIONS: Final = 100_000
CACHE_SIZE: Final = 1024

#: pybars' code builder is a class attribute shared by every Compiler: compile one at a time.
_COMPILE_LOCK = threading.Lock()
_CACHE_LOCK = threading.Lock()
_CACHE: OrderedDict[str, CompiledTemplate] = OrderedDict()


# -- render-time failures, turned into RenderError with context by CompiledTemplate.render -------


class _MissingPath(LookupError):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class _TooLarge(Exception):
    pass


class _Any(str):
    """Stands for "some field value" in a registration dry render, when the sample event lacks a
    path the template uses. It is a string full of characters that need escaping, so the JSON
    check sees the worst case."""

    __slots__ = ()


_ANY: Final = _Any('sample "text"\n<&> ünï')
_MISSING: Final = object()


class _Budget:
    __slots__ = ("chars", "limit", "steps")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chars = 0
        self.steps = 0


def _display(segments: tuple[str, ...]) -> str:
    names = [".." if s == "@_parent" else s for s in segments if s]
    return ".".join(names) or "this"


def _scope_variable(scope: Scope, name: str) -> Any:
    if name == "@root":
        return scope.root
    if name == "@_parent":
        return scope.parent
    if name in ("@index", "@key", "@first", "@last"):
        value = getattr(scope, name[1:])
        return _MISSING if value is None else value
    return _MISSING


def _make_resolver(dry_run: bool) -> Callable[..., Any]:
    """Strict lookup over JSON-like data only: dict keys, list indexes and ``length``. A missing
    path raises (or, in guard positions, is null); in a dry run it becomes a sample value."""

    def missing(guarded: bool, segments: tuple[str, ...]) -> Any:
        if dry_run:
            return _ANY
        if guarded:
            return None
        raise _MissingPath(_display(segments))

    def resolve(context: Any, *segments: str) -> Any:
        guarded = bool(segments) and segments[0] == GUARD
        if guarded:
            segments = segments[1:]
        value = context
        for segment in segments:
            if not segment:
                continue
            if isinstance(value, Scope):
                if segment[0] == "@":
                    value = _scope_variable(value, segment)
                    if value is _MISSING:
                        return missing(guarded, segments)
                    continue
                while isinstance(value, Scope):
                    value = value.context
            kind = type(value)
            if kind is dict:
                value = value.get(segment, _MISSING)
                if value is _MISSING:
                    return missing(guarded, segments)
            elif kind is list:
                if segment == "length":
                    value = len(value)
                elif segment.isdigit() and int(segment) < len(value):
                    value = value[int(segment)]
                else:
                    return missing(guarded, segments)
            elif value is None:
                return None  # a field under an explicit null is null, not missing
            elif kind is _Any:
                return value
            else:
                return missing(guarded, segments)
        while isinstance(value, Scope):
            value = value.context
        return value

    return resolve


# -- helpers (signature fixed by pybars: ``this`` first, block helpers get ``options``) -----------


def _truthy(value: Any) -> bool:
    """Handlebars truthiness: null, false, "", 0 and [] are falsy; {} is truthy."""
    if value is None or value is False:
        return False
    kind = type(value)
    if kind is str or kind is list or kind is _Any:
        return bool(value)
    if kind is int or kind is Decimal or kind is float:
        return bool(value != 0)
    return True


def _if(this: Any, options: dict[str, Any], value: Any) -> Any:
    return options["fn"](this) if _truthy(value) else options["inverse"](this)


def _unless(this: Any, options: dict[str, Any], value: Any) -> Any:
    return options["inverse"](this) if _truthy(value) else options["fn"](this)


def _with(this: Any, options: dict[str, Any], value: Any) -> Any:
    if value is None or value is False or value == "" or value == []:
        return options["inverse"](this)
    return options["fn"](Scope(value, this, options["root"]))


def _each(this: Any, options: dict[str, Any], value: Any) -> Any:
    if type(value) is list:
        items: list[tuple[Any, Any]] = [(None, item) for item in value]
    elif type(value) is dict:
        items = list(value.items())
    elif type(value) is _Any:
        items = [(None, value)]
    else:
        items = []
    if not items:
        return options["inverse"](this)
    budget: _Budget = options["helpers"]["@budget"]
    fn = options["fn"]
    root = options["root"]
    last = len(items) - 1
    result = strlist()
    for index, (key, item) in enumerate(items):
        budget.steps += 1
        if budget.steps > MAX_LOOP_ITERATIONS:
            raise _TooLarge(f"loops ran more than {MAX_LOOP_ITERATIONS} iterations")
        scope = Scope(item, this, root, index=index, key=key, first=index == 0, last=index == last)
        before = budget.chars
        piece = fn(scope)
        if piece:
            # Nested loops already counted their output into ``chars``; replace that with the
            # exact length of this piece so nesting is not counted twice.
            budget.chars = before + (len(piece) if type(piece) is str else sum(map(len, piece)))
            if budget.chars > budget.limit:
                raise _TooLarge(f"rendered body exceeds {budget.limit} bytes")
            result.grow(piece)
    return result


def _default(this: Any, value: Any, fallback: Any) -> Any:
    return fallback if value is None or value == "" else value


def _upper(this: Any, value: Any) -> Any:
    return None if value is None else escaping.text_of(value).upper()


def _lower(this: Any, value: Any) -> Any:
    return None if value is None else escaping.text_of(value).lower()


def _helper_missing(this: Any, name: str, *arguments: Any) -> None:
    if arguments:  # unreachable after validation; keep pybars' contract
        raise RenderError(f"unknown helper {name!r}")


def _block_helper_missing(this: Any, options: dict[str, Any], value: Any) -> None:
    raise RenderError("unknown block helper")


def _helpers_for(kind: str) -> dict[str, Any]:
    escape = escaping.ESCAPERS[kind]

    def json_helper(this: Any, value: Any) -> strlist:
        text = jsonexact.dumps(value)
        return strlist([text if kind == escaping.JSON else escape(text)])

    return {
        "if": _if,
        "unless": _unless,
        "with": _with,
        "each": _each,
        "json": json_helper,
        "default": _default,
        "upper": _upper,
        "lower": _lower,
        "helperMissing": _helper_missing,
        "blockHelperMissing": _block_helper_missing,
    }


def _make_prepare(kind: str) -> Callable[[Any, bool], Any]:
    escape = escaping.ESCAPERS[kind]

    def prepare(value: Any, should_escape: bool) -> Any:
        if type(value) is strlist:  # helper output (``json``) is already final
            return value
        return escape(escaping.text_of(value))

    return prepare


# -- compiled templates ---------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """Copy the context into plain JSON types, so nothing callable or attribute-bearing reaches
    the template (pybars calls any callable it finds)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or kind is Decimal or kind is float:
        return value
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Decimal | float):
        return value
    raise RenderError(f"event holds a value of type {kind.__name__}, which templates cannot read")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def check_json(body: bytes) -> None:
    try:
        json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise RenderError(f"rendered body is not valid JSON: {exc}") from None


@dataclass(frozen=True, slots=True, eq=False)
class CompiledTemplate:
    source: str
    #: The escaping kind: one of ``escaping.KINDS``.
    content_type: str
    #: sha256 of kind and source; the cache key.
    digest: str
    _render: Callable[..., str]
    _dry_render: Callable[..., str]

    def render(self, context: Mapping[str, Any], *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
        """Render for one event, or raise ``RenderError`` saying why (recorded on the attempt)."""
        return self._run(self._render, context, max_bytes)

    def dry_render(
        self, context: Mapping[str, Any], *, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> bytes:
        """Render at registration: paths the sample lacks become sample text instead of errors,
        so the JSON check can run for any event type."""
        return self._run(self._dry_render, context, max_bytes)

    def _run(self, fn: Callable[..., str], context: Mapping[str, Any], max_bytes: int) -> bytes:
        data = _plain(context)
        try:
            text = fn(data, helpers={"@budget": _Budget(max_bytes)})
        except _MissingPath as exc:
            raise RenderError(
                f"template references {exc.path}, which is not in the event: guard it with "
                f'{{{{#if {exc.path}}}}}...{{{{/if}}}} or use {{{{default {exc.path} ""}}}}',
                details={"path": exc.path},
            ) from None
        except escaping.Unprintable as exc:
            raise RenderError(str(exc)) from None
        except _TooLarge as exc:
            raise RenderError(str(exc)) from None
        except RenderError:
            raise
        except RecursionError:
            raise RenderError("event data is nested too deeply to render") from None
        except Exception as exc:
            raise RenderError(f"template failed to render: {type(exc).__name__}: {exc}") from None
        try:
            body = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise RenderError(f"rendered body is not valid UTF-8 text: {exc.reason}") from None
        if len(body) > max_bytes:
            raise RenderError(f"rendered body is {len(body)} bytes, over the {max_bytes} limit")
        if self.content_type == escaping.JSON:
            check_json(body)
        return body


def _load(code: Any, kind: str, dry_run: bool) -> Callable[..., str]:
    """Execute generated code in a private namespace (never ``sys.modules``: pybars' own
    ``compile()`` registers one module per call and leaks them) and swap in our resolver,
    escaping and helpers."""
    namespace: dict[str, Any] = {"__name__": "fineract_hub.templates._generated"}
    exec(code, namespace)  # noqa: S102 - code generated by pybars from a validated tree
    namespace["resolve"] = _make_resolver(dry_run)
    namespace["prepare"] = _make_prepare(kind)
    namespace["_pybars_"] = {"helpers": _helpers_for(kind)}
    render: Callable[..., str] = namespace["render"]
    return render


def _cache_key(kind: str, source: str) -> str:
    return hashlib.sha256(f"{kind}\0{source}".encode("utf-8", "surrogatepass")).hexdigest()


def compile_template(
    source: str,
    content_type: str,
    *,
    sample: Mapping[str, Any] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> CompiledTemplate:
    """Validate, compile and dry-render a template, or raise ``TemplateRejected``.

    CPU-bound on a cache miss (pybars' parser: up to ~1 s for the costliest accepted template);
    async callers registering templates should run it in an executor. Thread-safe.
    """
    kind = escaping.content_kind(content_type)
    digest = _cache_key(kind, source)
    with _CACHE_LOCK:
        cached = _CACHE.get(digest)
        if cached is not None:
            _CACHE.move_to_end(digest)
    if cached is not None:
        if sample is not None:
            _dry_run(cached, sample, max_bytes)
        return cached

    tree = parse_and_validate(source)
    with _COMPILE_LOCK:
        builder = Compiler._compiler.globals["builder"]
        builder._reset()
        container = Compiler._compiler(tree).apply("compile")[0]
    code = compile(container.full_code, "<fineract_hub template>", "exec", dont_inherit=True)
    template = CompiledTemplate(
        source=source,
        content_type=kind,
        digest=digest,
        _render=_load(code, kind, dry_run=False),
        _dry_render=_load(code, kind, dry_run=True),
    )
    _dry_run(template, sample if sample is not None else sample_context(), max_bytes)
    with _CACHE_LOCK:
        _CACHE[digest] = template
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return template


def _dry_run(template: CompiledTemplate, sample: Mapping[str, Any], max_bytes: int) -> None:
    try:
        template.dry_render(sample, max_bytes=max_bytes)
    except RenderError as exc:
        raise TemplateRejected(
            f"template does not render with a sample {sample.get('type', 'event')} event: "
            f"{exc.message}"
        ) from None


def cached_template(source: str, content_type: str) -> CompiledTemplate | None:
    """The compiled template if it is cached; lets async callers compile misses in a thread."""
    digest = _cache_key(escaping.content_kind(content_type), source)
    with _CACHE_LOCK:
        return _CACHE.get(digest)


def clear_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


def cache_size() -> int:
    with _CACHE_LOCK:
        return len(_CACHE)


# -- sample and default bodies --------------------------------------------------------------------


def sample_context(event_type: str = "loan.approved") -> dict[str, Any]:
    """A representative event for registration dry renders and template previews: the canonical
    shape with a loan-like ``data`` holding exact decimals, a nested object, a list and a string
    full of characters that need escaping."""
    category, _, action = event_type.partition(".")
    fineract_type = "".join(p[:1].upper() + p[1:] for p in (category, action) if p)
    event = CanonicalEvent(
        id="3f1c9a52-5b7e-4d2a-9c1e-0b6f2d8a4e71",
        type=event_type,
        fineract_type=f"{fineract_type}BusinessEvent",
        category=category[:1].upper() + category[1:] if category else None,
        tenant="default",
        created_at="2024-05-14T09:30:00.123Z",
        business_date="2024-05-14",
        aggregate_id=42,
        data={
            "id": 42,
            "clientId": 7,
            "groupId": None,
            "accountNo": "000000042",
            "externalId": 'ext-42 "quoted" \\ <tag> & ünïcode\nsecond line',
            "approvedPrincipal": Decimal("1000.50000000"),
            "principal": Decimal("1000.50000000"),
            "interestRatePerPeriod": Decimal("1.25000000"),
            "numberOfRepayments": 12,
            "isTopup": False,
            "status": {"id": 200, "code": "loanStatusType.approved", "value": "Approved"},
            "currency": {"code": "USD", "decimalPlaces": 2},
            "charges": [
                {"id": 1, "name": "Processing fee", "amount": Decimal("10.00000000")},
                {"id": 2, "name": "Insurance", "amount": Decimal("2.50000000")},
            ],
        },
    )
    return event.template_context()


_XML_NAME_START = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_XML_NAME_REST = _XML_NAME_START | set("0123456789-.")


def _xml_name(key: str) -> bool:
    return (
        bool(key)
        and key[0] in _XML_NAME_START
        and all(ch in _XML_NAME_REST for ch in key)
        and not key.lower().startswith("xml")
    )


def _xml_value(tag: str, value: Any, out: list[str]) -> None:
    if _xml_name(tag):
        open_tag, close_tag = f"<{tag}", f"</{tag}>"
    else:
        open_tag = f'<field name="{escaping.xml_escape(tag)}"'
        close_tag = "</field>"
    if value is None:
        out.append(f'{open_tag} null="true"/>')
    elif isinstance(value, dict):
        out.append(open_tag + ">")
        for key, item in value.items():
            _xml_value(str(key), item, out)
        out.append(close_tag)
    elif isinstance(value, list):
        out.append(open_tag + ">")
        for item in value:
            _xml_value("item", item, out)
        out.append(close_tag)
    else:
        out.append(f"{open_tag}>{escaping.xml_escape(escaping.text_of(value))}{close_tag}")


def render_default(context: Mapping[str, Any], content_type: str) -> bytes:
    """The body when a webhook has no template: the whole event, in the endpoint's content type.

    JSON and text get the context as exact JSON; XML gets ``<event>`` with one element per field
    (lists as ``<item>``, null as ``null="true"``, odd keys as ``<field name="...">``); a form gets
    the top-level scalars plus ``data`` as a JSON string.
    """
    kind = escaping.content_kind(content_type)
    data = _plain(context)
    try:
        if kind in (escaping.JSON, escaping.TEXT):
            return jsonexact.dumpb(data)
        if kind == escaping.XML:
            out = ['<?xml version="1.0" encoding="UTF-8"?><event>']
            for key, value in data.items():
                _xml_value(key, value, out)
            out.append("</event>")
            return "".join(out).encode("utf-8")
        fields: list[tuple[str, str]] = []
        for key, value in data.items():
            if isinstance(value, dict | list):
                if key == "data":
                    fields.append((key, jsonexact.dumps(value)))
                continue
            fields.append((key, escaping.text_of(value)))
        return urlencode(fields).encode("ascii")
    except UnicodeEncodeError as exc:
        raise RenderError(f"event is not valid UTF-8 text: {exc.reason}") from None
    except (ValueError, TypeError) as exc:
        raise RenderError(f"event cannot be rendered as {kind}: {exc}") from None
