"""The seed document's GraphQL examples, made executable with the smallest possible change.

The seed (``../shared/docs/integration-capabilities.md`` beside the repository) documents every
capability with a fenced ```graphql example. Those examples are the acceptance tests of the
GraphQL contract, so they are read from the document, never copied into tests.

One thing in them is not GraphQL: JSON arguments written as object literals whose keys are quoted
strings (``headers: {"Authorization": "Bearer your-token"}``) or start with ``$``
(``filters: {activationDate: {$gte: "2023-01-01"}}``). The GraphQL grammar only allows bare
names as object keys, so such a document does not parse. ``lift_json_literals`` moves exactly
those argument values into variables, the way a real client passes JSON:

* it lexes the example with graphql-core's own lexer, so strings, block strings (the payload
  template is full of ``{`` and ``"``) and comments are never mistaken for structure;
* for each field argument whose value is an object literal containing a quoted or ``$`` key (at
  any depth), it replaces the literal's exact source span with ``$<argument name>``, converts the
  literal to a JSON value, and declares ``$<argument name>: JSON`` (or the type the caller says)
  in the operation's variable definitions;
* everything else, including object literals that are already valid GraphQL (``config: {topic:
  "x"}``), stays exactly as written. ``ValidExample.restore`` undoes the change, which tests use
  to prove that nothing else moved.

``hasura_input`` turns an example into the ``input`` of a Hasura action call (the root field's
arguments as JSON; enum values as their names, as Hasura sends them), and ``selection`` gives the
fields the example asks for, which is what the document promises to return.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    FieldNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
    value_from_ast_untyped,
)
from graphql.language import Lexer, Source, Token, TokenKind

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED_DOCUMENT = REPO_ROOT.parent / "shared" / "docs" / "integration-capabilities.md"

_FENCE = re.compile(r"^```graphql[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
_OPERATION_KEYWORDS = ("query", "mutation", "subscription")


@dataclass(frozen=True)
class SeedExample:
    """One ```graphql block of the seed, exactly as written."""

    heading: str  # the nearest heading above the block, e.g. "Example Webhook Registration"
    line: int  # 1-based line of the block's first GraphQL line in the seed
    source: str
    operation_type: str  # query | mutation | subscription
    operation_name: str | None
    root_field: str  # the operation's first top-level field, e.g. "registerWebhook"

    @property
    def id(self) -> str:
        return self.root_field

    def __str__(self) -> str:
        return f"{self.heading} ({SEED_DOCUMENT.name}:{self.line}, {self.root_field})"


def seed_document() -> Path:
    """The seed's path; fails the test (or the collection) clearly when it is not there."""
    if not SEED_DOCUMENT.is_file():
        pytest.fail(
            f"seed document not found at {SEED_DOCUMENT}: the acceptance tests read their "
            "examples from ../shared/docs/integration-capabilities.md beside the repository",
            pytrace=False,
        )
    return SEED_DOCUMENT


def extract_examples(markdown: str) -> list[SeedExample]:
    """Every ```graphql block of a Markdown text, with the heading it belongs to."""
    examples = []
    for match in _FENCE.finditer(markdown):
        headings = _HEADING.findall(markdown, 0, match.start())
        source = match.group(1)
        kind, name, field = _outline(source)
        examples.append(
            SeedExample(
                heading=headings[-1] if headings else "",
                line=markdown.count("\n", 0, match.start(1)) + 1,
                source=source,
                operation_type=kind,
                operation_name=name,
                root_field=field,
            )
        )
    return examples


def load_examples(path: Path | None = None) -> list[SeedExample]:
    return extract_examples((path or seed_document()).read_text("utf-8"))


# ------------------------------------------------------------------------------- lexing


def _tokens(source: str) -> list[Token]:
    lexer = Lexer(Source(source))
    tokens = []
    token = lexer.advance()
    while token.kind != TokenKind.EOF:
        tokens.append(token)
        token = lexer.advance()
    return tokens


_OPENERS = {TokenKind.BRACE_L: TokenKind.BRACE_R, TokenKind.PAREN_L: TokenKind.PAREN_R}
_OPENERS[TokenKind.BRACKET_L] = TokenKind.BRACKET_R


def _matching(tokens: list[Token], start: int) -> int:
    """Index of the token closing the bracket at ``tokens[start]``."""
    stack = []
    for i in range(start, len(tokens)):
        kind = tokens[i].kind
        if kind in _OPENERS:
            stack.append(_OPENERS[kind])
        elif stack and kind == stack[-1]:
            stack.pop()
            if not stack:
                return i
    raise ValueError(f"unbalanced {tokens[start].kind.value} at line {tokens[start].line}")


def _outline(source: str) -> tuple[str, str | None, str]:
    """(operation type, operation name, first root field), read from tokens: works unparsed."""
    tokens = _tokens(source)
    if not tokens:
        raise ValueError("empty GraphQL example")
    i = 0
    kind, name = "query", None
    if tokens[0].kind == TokenKind.NAME and tokens[0].value in _OPERATION_KEYWORDS:
        kind, i = tokens[0].value, 1
        if tokens[i].kind == TokenKind.NAME:
            name, i = tokens[i].value, i + 1
        if tokens[i].kind == TokenKind.PAREN_L:
            i = _matching(tokens, i) + 1
    if tokens[i].kind != TokenKind.BRACE_L or tokens[i + 1].kind != TokenKind.NAME:
        raise ValueError("the example is not a single operation with a selection set")
    field = tokens[i + 1].value
    if tokens[i + 2].kind == TokenKind.COLON:  # an alias: alias: field
        field = tokens[i + 3].value
    return kind, name, field


# ----------------------------------------------------------------- the transformation


def _is_not_graphql_key(tokens: list[Token], i: int) -> bool:
    """A quoted key (``"Authorization":``) or a ``$`` key (``$gte:``) starts at ``tokens[i]``.

    A string followed by a colon, or ``$name`` followed by a colon, can only be an object key:
    values never are followed by ``:``.
    """
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    if tokens[i].kind == TokenKind.STRING:
        return nxt is not None and nxt.kind == TokenKind.COLON
    if tokens[i].kind == TokenKind.DOLLAR:
        after = tokens[i + 2] if i + 2 < len(tokens) else None
        return (
            nxt is not None
            and nxt.kind == TokenKind.NAME
            and after is not None
            and after.kind == TokenKind.COLON
        )
    return False


def _literal(tokens: list[Token], i: int) -> tuple[Any, int]:
    """The JSON value of the literal starting at ``tokens[i]``, and the index after it."""
    token = tokens[i]
    kind = token.kind
    if kind in (TokenKind.STRING, TokenKind.BLOCK_STRING):
        return token.value, i + 1
    if kind == TokenKind.INT:
        return int(token.value), i + 1
    if kind == TokenKind.FLOAT:
        return float(token.value), i + 1
    if kind == TokenKind.NAME and token.value in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[token.value], i + 1
    if kind == TokenKind.BRACKET_L:
        items, i = [], i + 1
        while tokens[i].kind != TokenKind.BRACKET_R:
            item, i = _literal(tokens, i)
            items.append(item)
        return items, i + 1
    if kind == TokenKind.BRACE_L:
        obj: dict[str, Any] = {}
        i += 1
        while tokens[i].kind != TokenKind.BRACE_R:
            if tokens[i].kind == TokenKind.DOLLAR:
                key, i = "$" + str(tokens[i + 1].value), i + 2
            elif tokens[i].kind in (TokenKind.NAME, TokenKind.STRING):
                key, i = str(tokens[i].value), i + 1
            else:
                raise ValueError(f"unexpected {kind.value} as an object key at line {token.line}")
            if tokens[i].kind != TokenKind.COLON:
                raise ValueError(f"expected ':' after key {key!r} at line {tokens[i].line}")
            obj[key], i = _literal(tokens, i + 1)
        return obj, i + 1
    raise ValueError(
        f"{kind.value} {token.value or ''} at line {token.line} has no JSON equivalent"
    )


@dataclass(frozen=True)
class Lifted:
    """One argument value moved from the document into a variable."""

    field: str
    argument: str
    variable: str
    literal: str  # the exact source text that was replaced
    value: Any


@dataclass(frozen=True)
class ValidExample:
    query: str
    variables: dict[str, Any]
    lifted: tuple[Lifted, ...]
    original: str
    _definitions: tuple[int, str]  # (offset in query, inserted text)

    def restore(self) -> str:
        """The original text, rebuilt from the query by undoing exactly the recorded edits."""
        at, inserted = self._definitions
        text = self.query[:at] + self.query[at + len(inserted) :] if inserted else self.query
        for lifted in self.lifted:
            text = text.replace("$" + lifted.variable, lifted.literal, 1)
        return text


def _default_type(field: str, argument: str) -> str:
    return "JSON"


def lift_json_literals(
    source: str, variable_type: Callable[[str, str], str] = _default_type
) -> ValidExample:
    """Move object-literal arguments that are not valid GraphQL into ``JSON`` variables.

    ``variable_type(field, argument)`` names the declared type of each new variable (``JSON`` by
    default; pass the schema's type, e.g. ``JSON!``, so a required argument still validates).
    """
    tokens = _tokens(source)
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement), in source order
    lifted: list[Lifted] = []
    taken: set[str] = set()
    i = 0
    while i < len(tokens):
        token = tokens[i]
        # A field's argument list: NAME '(' ... ')' inside a selection set.
        if (
            token.kind == TokenKind.PAREN_L
            and i > 0
            and tokens[i - 1].kind == TokenKind.NAME
            and not _is_operation_header(tokens, i)
        ):
            field = str(tokens[i - 1].value)
            close = _matching(tokens, i)
            j = i + 1
            while j < close:
                name, colon, value = tokens[j], tokens[j + 1], tokens[j + 2]
                if name.kind != TokenKind.NAME or colon.kind != TokenKind.COLON:
                    raise ValueError(
                        f"unexpected token in arguments of {field} at line {name.line}"
                    )
                end = _value_end(tokens, j + 2)
                if value.kind == TokenKind.BRACE_L and any(
                    _is_not_graphql_key(tokens, k) for k in range(j + 2, end)
                ):
                    variable = _fresh(str(name.value), taken)
                    json_value, _ = _literal(tokens, j + 2)
                    text = source[value.start : tokens[end - 1].end]
                    edits.append((value.start, tokens[end - 1].end, "$" + variable))
                    lifted.append(Lifted(field, str(name.value), variable, text, json_value))
                j = end
            i = close + 1
            continue
        i += 1

    query = source
    for start, end, replacement in reversed(edits):
        query = query[:start] + replacement + query[end:]
    definitions = (0, "")
    if lifted:
        declared = ", ".join(
            f"${item.variable}: {variable_type(item.field, item.argument)}" for item in lifted
        )
        definitions = _declare(query, declared)
        at, inserted = definitions
        query = query[:at] + inserted + query[at:]
    return ValidExample(
        query=query,
        variables={item.variable: item.value for item in lifted},
        lifted=tuple(lifted),
        original=source,
        _definitions=definitions,
    )


def _is_operation_header(tokens: list[Token], i: int) -> bool:
    """``tokens[i]`` is the '(' of an operation's variable definitions: ``mutation [Name] (``."""
    return (
        i in (1, 2) and tokens[0].kind == TokenKind.NAME and tokens[0].value in _OPERATION_KEYWORDS
    )


def _value_end(tokens: list[Token], i: int) -> int:
    """Index just after the value starting at ``tokens[i]``."""
    if tokens[i].kind in _OPENERS:
        return _matching(tokens, i) + 1
    if tokens[i].kind == TokenKind.DOLLAR:
        return i + 2
    return i + 1


def _fresh(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}{n}", n + 1
    taken.add(candidate)
    return candidate


def _declare(query: str, declared: str) -> tuple[int, str]:
    """Where and what to insert so the operation declares ``declared`` variables."""
    tokens = _tokens(query)
    if tokens[0].kind == TokenKind.BRACE_L:  # shorthand query
        return tokens[0].start, f"query ({declared}) "
    if tokens[0].kind != TokenKind.NAME or tokens[0].value not in _OPERATION_KEYWORDS:
        raise ValueError("the example does not start with an operation")
    i = 1 if tokens[1].kind != TokenKind.NAME else 2
    if tokens[i].kind == TokenKind.PAREN_L:
        close = tokens[_matching(tokens, i)]
        return close.start, f", {declared}"
    return tokens[i - 1].end, f"({declared})"


# ------------------------------------------------------------------- using an example


def substitute_url(source: str, documented_url: str, actual_url: str) -> str:
    """Replace the example's documented URL (a string literal) by one the test can receive on.

    Only that exact quoted literal changes, and it must be there: if the seed changes its URL this
    fails instead of silently testing something else.
    """
    quoted = f'"{documented_url}"'
    count = source.count(quoted)
    if count != 1:
        raise AssertionError(f"expected {quoted} exactly once in the example, found {count}")
    return source.replace(quoted, f'"{actual_url}"')


def _root(query: str) -> FieldNode:
    document = parse(query)
    [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    first = operation.selection_set.selections[0]
    assert isinstance(first, FieldNode)
    return first


def hasura_input(example: ValidExample) -> dict[str, Any]:
    """The root field's arguments as Hasura sends them in an action call's ``input``."""
    field = _root(example.query)
    return {
        arg.name.value: value_from_ast_untyped(arg.value, example.variables)
        for arg in field.arguments
    }


Selection = dict[str, "Selection | None"]


def _selection(node: SelectionSetNode | None) -> Selection | None:
    if node is None:
        return None
    out: Selection = {}
    for item in node.selections:
        if isinstance(item, FieldNode):
            out[(item.alias or item.name).value] = _selection(item.selection_set)
    return out


def selection(example: ValidExample) -> Selection:
    """The fields the example selects on its root field: what the document says comes back."""
    return _selection(_root(example.query).selection_set) or {}


def missing_fields(value: Any, wanted: Selection | None, path: str = "") -> list[str]:
    """Selected fields absent from a result (extra fields are fine: Hasura trims them)."""
    if wanted is None or value is None:
        return []
    if isinstance(value, list):
        return [
            missing
            for n, item in enumerate(value)
            for missing in missing_fields(item, wanted, f"{path}[{n}]")
        ]
    if not isinstance(value, dict):
        return [f"{path or '<root>'} (not an object: {value!r})"]
    missing = []
    for name, inner in wanted.items():
        if name not in value:
            missing.append(f"{path}.{name}" if path else name)
        else:
            missing.extend(missing_fields(value[name], inner, f"{path}.{name}" if path else name))
    return missing


# ------------------------------------------------------------ capabilities not there yet


def capability_params(
    examples: list[SeedExample], declared: set[str] | frozenset[str]
) -> list[Any]:
    """pytest params, one per example, id'd by operation.

    An example whose operation is not declared in the contract (``declared``: the Query and
    Mutation fields of ``fineract_hub/contract/schema.graphql``) is a strict xfail: it is
    collected and reported as a capability still to build, and the day the operation is
    declared the mark disappears, so the test runs for real and stays red until the example
    works. ``strict=True`` also turns an unexpected pass into a failure.
    """
    params = []
    for example in examples:
        marks = []
        if example.root_field not in declared:
            marks.append(
                pytest.mark.xfail(
                    strict=True, reason=f"capability not implemented yet: {example.root_field}"
                )
            )
        params.append(pytest.param(example, id=example.id, marks=marks))
    return params
