"""Parse a Handlebars template and accept only a subset that cannot execute code.

pybars3 turns a template into Python source and ``exec``s it. Literals are ``repr()``-ed, but
bracket path segments (``{{[...]}}``), block names and partial arguments are pasted into that
source unquoted, so template text can run arbitrary Python at compile or render time
(docs/faust-and-dependencies.md §3). We therefore never hand pybars a source string: we parse with
its grammar, walk the tree, reject anything outside an allowlist, and compile *this same tree*, so
nothing we did not inspect reaches code generation.

What is accepted:

* text, comments, and ``{{path}}`` / ``{{helper arg ...}}`` expressions;
* path segments that are plain names (``data.clientId``), list indexes (``data.charges.0``),
  ``this``, ``..`` and the data variables ``@index @key @first @last @root``;
* blocks ``{{#if}} {{#unless}} {{#each}} {{#with}}`` with ``{{else}}`` (also inverted ``{{^...}}``);
* value helpers ``json``, ``default``, ``upper``, ``lower`` (see ``HELPER_ARITY``), also as
  subexpressions ``(default data.x "n/a")``;
* literal arguments: numbers, true/false/null and strings without backslashes or control
  characters.

Rejected, each with what and where: bracket segments that are not plain names, ``__dunder__`` and
``constructor``/``prototype`` names, triple-stash ``{{{x}}}`` / ``{{&x}}``, partials, raw blocks,
hash arguments, unknown helpers or blocks, more than ``MAX_DEPTH`` nested blocks, templates larger
than ``MAX_TEMPLATE_BYTES`` or with more than ``MAX_TAGS`` tags.

Triple-stash is rejected rather than treated like ``{{x}}``: people write ``{{{x}}}`` to switch off
HTML escaping, and silently escaping anyway would surprise them, while raw insertion is exactly the
invalid-JSON bug we exist to avoid. A registration-time error that says "``{{x}}`` already escapes
for JSON; use ``{{json x}}`` for objects" costs the user one edit.
"""

from __future__ import annotations

import re
from typing import Any, Final

from pybars import Compiler

from fineract_hub.templates.errors import TemplateRejected

MAX_TEMPLATE_BYTES: Final = 64 * 1024
#: pybars' PEG parser costs ~0.25 ms per tag; this bounds a registration to ~0.3 s of CPU.
MAX_TAGS: Final = 1000
MAX_TAG_TEXT: Final = 8192
_TAG_BODY = re.compile(r"\{\{(.*?)\}\}", re.S)
MAX_DEPTH: Final = 16

BLOCK_HELPERS: Final = frozenset({"if", "unless", "each", "with"})
#: Value helpers and how many arguments each takes.
HELPER_ARITY: Final[dict[str, int]] = {"json": 1, "default": 2, "upper": 1, "lower": 1}
#: Names a bare ``{{name}}`` must not use: pybars looks helpers up before data for one-segment
#: paths, so ``{{each}}`` would call the helper instead of reading a field.
RESERVED_NAMES: Final = (
    BLOCK_HELPERS
    | frozenset(HELPER_ARITY)
    | frozenset({"helperMissing", "blockHelperMissing", "lookup", "log"})
)
#: First segment we prepend to paths in guard positions (block conditions, ``default``'s first
#: argument) so the resolver treats a missing field as null there. It cannot come from a template:
#: ``?`` fails ``_SEGMENT``.
GUARD: Final = "@?"

_SEGMENT = re.compile(
    r"(?:[A-Za-z][A-Za-z0-9_-]{0,63}|\d{1,6}|@index|@key|@first|@last|@root|@_parent|)\Z"
)
_FORBIDDEN_NAMES = frozenset({"constructor", "prototype"})

# pybars' Compiler.whitespace_control, with ``([ \t]*X[ \t]*)+`` rewritten as ``[ \t]*(?:X[ \t]*)+``
# (same language) and ``\s*{{~`` anchored to the start of a whitespace run: the original
# backtracks exponentially (18 block tags on one line took 27 s here), a denial of service at
# registration.
_TAG_CLEANUP = re.compile(r"(?<={{)~|~(?=}})|(?<=}})[ \t]+(?={{)")
_STANDALONE = re.compile(
    r"~}}\s*|(?<!\s)\s*{{~|{{~|"
    r"(?<=\n)[ \t]*(?:{{(?:#[^{}]+|/[^{}]+|![^{}]+|else|else if [^{}]+)}}[ \t]*)+\r?\n|"
    r"^[ \t]*(?:{{(?:#[^{}]+|![^{}]+)}}[ \t]*)+\r?\n|"
    r"\r?\n[ \t]*(?:{{(?:/[^{}]+|![^{}]+)}}[ \t]*)+$"
)
_OPEN_OR_CLOSE = re.compile(r"{{~?\s*(?:([#])|(\^)(?!\s*~?}})|(/))")


def whitespace_control(source: str) -> str:
    """Handlebars' ``~`` and standalone-tag whitespace rules, in linear time."""
    return _STANDALONE.sub(lambda m: _TAG_CLEANUP.sub("", m.group(0).strip()), source)


def _position(source: str, offset: int) -> str:
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return f"offset {offset} (line {line}, column {column})"


class _Validator:
    def __init__(self, source: str) -> None:
        self.source = source

    def reject(self, message: str, needle: str | None = None) -> TemplateRejected:
        offset = self.source.find(needle) if needle else -1
        if offset < 0:
            return TemplateRejected(message.replace(" at {where}", ""))
        return TemplateRejected(
            message.replace("{where}", _position(self.source, offset)), offset=offset
        )

    # -- nodes ----------------------------------------------------------------------------------

    def template(self, tree: list[Any], depth: int) -> list[Any]:
        if depth > MAX_DEPTH:
            raise self.reject(f"blocks are nested more than {MAX_DEPTH} deep")
        out: list[Any] = ["template"]
        for node in tree[1:]:
            out.append(self.node(node, depth))
        return out

    def node(self, node: tuple[Any, ...], depth: int) -> tuple[Any, ...]:
        kind = node[0]
        if kind in ("literal", "newline", "whitespace", "comment"):
            return node
        if kind == "escapedexpand":
            return self.expression(node)
        if kind == "expand":
            name = self.path_text(node[1])
            raise self.reject(
                f"triple-stash {{{{{{{name}}}}}}} / {{{{&{name}}}}} at {{where}} is not allowed: "
                f"{{{{{name}}}}} already escapes for the content type (inside a JSON string for "
                f"application/json); use {{{{json {name}}}}} to insert an object, array or number "
                "as JSON",
                "{{{" if "{{{" in self.source else "{{&",
            )
        if kind in ("block", "invertedblock"):
            return self.block(node, depth)
        if kind == "partial":
            raise self.reject("partials ({{> name}}) at {where} are not supported", "{{>")
        if kind == "rawblock":
            raise self.reject("raw blocks ({{{{name}}}}) at {where} are not supported", "{{{{")
        raise self.reject(f"template construct {kind!r} is not supported")

    def block(self, node: tuple[Any, ...], depth: int) -> tuple[Any, ...]:
        kind, symbol, arguments, body, alternative = node
        marker = "#" if kind == "block" else "^"
        if symbol not in BLOCK_HELPERS:
            raise self.reject(
                f"block {{{{{marker}{symbol}}}}} at {{where}} is not allowed: use "
                + ", ".join(f"{{{{#{b}}}}}" for b in sorted(BLOCK_HELPERS)),
                f"{marker}{symbol}",
            )
        if len(arguments) != 1:
            raise self.reject(
                f"block {{{{#{symbol}}}}} at {{where}} takes exactly one argument, "
                f"got {len(arguments)}",
                f"{marker}{symbol}",
            )
        (argument,) = arguments
        if argument[0] not in ("path", "subexpr"):
            raise self.reject(
                f"block {{{{#{symbol}}}}} at {{where}} needs a field path, not a literal",
                f"{marker}{symbol}",
            )
        guarded = self.argument(argument, depth, guard=True)
        new_body = self.template(body, depth + 1)
        new_alternative = self.template(alternative, depth + 1) if alternative else alternative
        return (kind, symbol, [guarded], new_body, new_alternative)

    def expression(self, node: tuple[Any, ...]) -> tuple[Any, ...]:
        _, path, arguments = node
        segments = self.path(path)
        if not arguments:
            if len(segments) == 1 and segments[0] in RESERVED_NAMES:
                name = segments[0]
                raise self.reject(
                    f"{{{{{name}}}}} at {{where}} names a helper, not a field: "
                    f"helpers need arguments, e.g. {{{{{name} data.x}}}}",
                    "{{" + name,
                )
            return node
        name = segments[0] if len(segments) == 1 else None
        if name not in HELPER_ARITY:
            label = ".".join(s for s in segments if s)
            raise self.reject(
                f"{{{{{label} ...}}}} at {{where}} calls unknown helper {label!r}: "
                f"allowed helpers are {', '.join(sorted(HELPER_ARITY))}",
                label,
            )
        return ("escapedexpand", path, self.helper_arguments(name, arguments, 0))

    def helper_arguments(self, name: str, arguments: list[Any], depth: int) -> list[Any]:
        checked = [
            # ``default`` exists to cover missing fields, so its first argument is a guard.
            self.argument(argument, depth, guard=(name == "default" and index == 0))
            for index, argument in enumerate(arguments)
        ]
        if len(checked) != HELPER_ARITY[name]:
            raise self.reject(
                f"helper {name!r} at {{where}} takes {HELPER_ARITY[name]} argument(s), "
                f"got {len(checked)}",
                name,
            )
        return checked

    def argument(self, argument: tuple[Any, ...], depth: int, *, guard: bool) -> tuple[Any, ...]:
        kind = argument[0]
        if kind == "path":
            segments = self.path(argument)
            return ("path", [GUARD, *segments]) if guard else argument
        if kind == "literalparam":
            value = argument[1]
            if isinstance(value, str) and (
                "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value)
            ):
                raise self.reject(
                    f"string argument {value} at {{where}} contains a backslash or control "
                    "character, which is not allowed",
                    value[:20],
                )
            return argument
        if kind == "subexpr":
            if depth >= MAX_DEPTH:
                raise self.reject(f"subexpressions are nested more than {MAX_DEPTH} deep")
            _, path, arguments = argument
            segments = self.path(path)
            name = segments[0] if len(segments) == 1 else ""
            if name not in HELPER_ARITY:
                raise self.reject(
                    f"subexpression ({name or '.'.join(segments)} ...) at {{where}} calls an "
                    f"unknown helper: allowed are {', '.join(sorted(HELPER_ARITY))}",
                    "(" + (name or ""),
                )
            return ("subexpr", path, self.helper_arguments(name, arguments, depth + 1))
        if kind == "kwparam":
            raise self.reject(
                f"hash argument {argument[1]}=... at {{where}} is not supported", f"{argument[1]}="
            )
        raise self.reject(f"argument kind {kind!r} is not supported")

    def path(self, path: tuple[Any, ...]) -> list[str]:
        segments: list[str] = list(path[1])
        for segment in segments:
            if segment == "this":
                continue
            if (
                not isinstance(segment, str)
                or not _SEGMENT.match(segment)
                or segment.lower() in _FORBIDDEN_NAMES
            ):
                shown = segment if len(segment) <= 40 else segment[:40] + "..."
                needle = f"[{segment}]" if f"[{segment}]" in self.source else segment
                raise self.reject(
                    f"path segment {shown!r} at {{where}} is not allowed: use plain names like "
                    "data.clientId, list indexes like data.charges.0, this, .. or "
                    "@index/@key/@first/@last/@root",
                    needle,
                )
        return segments

    def path_text(self, path: tuple[Any, ...]) -> str:
        return ".".join(s for s in path[1] if isinstance(s, str) and s) or "this"


def _check_shape(source: str) -> None:
    size = len(source.encode("utf-8", "surrogatepass"))
    if size > MAX_TEMPLATE_BYTES:
        raise TemplateRejected(f"template is {size} bytes; the limit is {MAX_TEMPLATE_BYTES} bytes")
    tags = source.count("{{")
    if tags > MAX_TAGS:
        raise TemplateRejected(f"template has {tags} tags; the limit is {MAX_TAGS}")
    # pybars' parser cost grows with what is inside the tags, not with the tag count alone:
    # long paths and nested subexpressions made a 64 KiB template take ~10 s to compile.
    inside = sum(len(m) for m in _TAG_BODY.findall(source))
    if inside > MAX_TAG_TEXT:
        raise TemplateRejected(
            f"template has {inside} characters inside tags; the limit is {MAX_TAG_TEXT}")
    depth = 0
    for match in _OPEN_OR_CLOSE.finditer(source):
        if match.group(3):
            depth -= 1
            continue
        depth += 1
        if depth > MAX_DEPTH:
            raise TemplateRejected(
                f"block at {_position(source, match.start())} is nested more than {MAX_DEPTH} deep",
                offset=match.start(),
            )


def parse_and_validate(source: str) -> list[Any]:
    """Return pybars' syntax tree for ``source``, rewritten for our resolver, or raise
    ``TemplateRejected`` explaining what is not allowed and where."""
    if not isinstance(source, str):
        raise TemplateRejected("template must be text")
    _check_shape(source)
    prepared = whitespace_control(source)
    grammar = Compiler._handlebars(prepared)
    try:
        tree, error = grammar.apply("template")
    except RecursionError:
        raise TemplateRejected("template is nested too deeply to parse") from None
    except Exception as exc:  # pymeta raises its own ParseError family
        raise TemplateRejected(f"template could not be parsed: {exc}") from None
    consumed = grammar.input.position
    if consumed < len(prepared):
        # pybars itself would silently drop everything from here on (``{{x`` renders as "").
        near = prepared[consumed : consumed + 30]
        raise TemplateRejected(
            f"template syntax error at {_position(prepared, consumed)} near {near!r}: "
            "check that every {{ has a matching }} and every {{#block}} its {{/block}}",
            offset=consumed,
        )
    del error
    return _Validator(source).template(tree, 0)
