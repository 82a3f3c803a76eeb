"""README.md stays true to the code: the configuration table equals ``SETTINGS_DOC``, the two
commands are named, and every GraphQL example is valid against the contract."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, parse, validate

from fineract_hub.config import SETTINGS_DOC
from fineract_hub.contract.schema import hub_schema

README = Path(__file__).resolve().parents[2] / "README.md"
START = "<!-- config-table:start -->"
END = "<!-- config-table:end -->"
INVALID_MARKER = "<!-- invalid-graphql -->"
_ROW = re.compile(r"^\|\s*`(?P<name>[A-Z0-9_]+)`\s*\|(?P<default>[^|]*)\|(?P<description>.*)\|\s*$")


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text("utf-8")


def config_rows(text: str) -> dict[str, str]:
    """Variable name -> default cell, from the table between the two markers."""
    assert text.count(START) == 1 and text.count(END) == 1, "config-table markers missing"
    table = text.split(START, 1)[1].split(END, 1)[0]
    rows: dict[str, str] = {}
    for line in table.strip().splitlines():
        if not line.startswith("|") or set(line.replace("|", "").strip()) <= {"-", " "}:
            continue
        match = _ROW.match(line)
        if match is None:
            assert line.startswith("| Variable"), f"unreadable row in config table: {line}"
            continue
        name = match["name"]
        assert name not in rows, f"{name} appears twice in the config table"
        rows[name] = match["default"].strip()
    return rows


def expected_default(default: str | None) -> str:
    if default is None:
        return "*(required)*"
    if default == "":
        return "*(empty)*"
    return f"`{default}`"


def test_config_table_lists_exactly_the_settings(readme: str) -> None:
    rows = config_rows(readme)
    missing = [name for name in SETTINGS_DOC if name not in rows]
    unknown = [name for name in rows if name not in SETTINGS_DOC]
    assert not missing, f"README config table lacks {missing}"
    assert not unknown, f"README config table has variables config.py does not know: {unknown}"
    assert list(rows) == list(SETTINGS_DOC), "keep the table in SETTINGS_DOC's order"


def test_config_table_defaults_match(readme: str) -> None:
    rows = config_rows(readme)
    wrong = {
        name: (rows[name], expected_default(default))
        for name, (default, _) in SETTINGS_DOC.items()
        if name in rows and rows[name] != expected_default(default)
    }
    assert not wrong, f"README defaults differ from SETTINGS_DOC (README, expected): {wrong}"


def test_readme_names_the_two_commands(readme: str) -> None:
    assert "scripts/run" in readme
    assert "scripts/test" in readme


def graphql_blocks(text: str) -> list[tuple[bool, str]]:
    """(marked invalid, source) for every ```graphql block."""
    blocks = []
    for match in re.finditer(r"(?P<before>[^\n]*)\n```graphql\n(?P<body>.*?)\n```", text, re.S):
        blocks.append((match["before"].strip() == INVALID_MARKER, match["body"]))
    return blocks


def test_graphql_examples_are_valid_against_the_contract(readme: str) -> None:
    blocks = graphql_blocks(readme)
    assert blocks, "README has no GraphQL examples"
    operations = set()
    for invalid, source in blocks:
        if invalid:
            with pytest.raises(GraphQLError):
                parse(source)
            continue
        document = parse(source)
        problems = validate(hub_schema(), document)
        assert not problems, f"invalid GraphQL example:\n{source}\n{problems}"
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                operations |= {
                    field.name.value
                    for field in definition.selection_set.selections
                    if isinstance(field, FieldNode)
                }
    declared = {name for root in (hub_schema().query_type, hub_schema().mutation_type)
                if root is not None for name in root.fields}
    assert declared <= operations, f"operations without a README example: {declared - operations}"
