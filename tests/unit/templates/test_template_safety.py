"""Templates come from users; none of them may execute code, at compile or at render time.

Each hostile template is first shown to execute under raw pybars (so the payload is real), then
shown to be rejected by ``compile_template`` with nothing executed (a sentinel file stays absent).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pybars import Compiler

from fineract_hub.errors import ValidationError
from fineract_hub.templates import TemplateRejected, compile_template, safe, sample_context


def render_payload(sentinel: Path) -> str:
    """A bracket segment that closes pybars' generated string literal and writes a file."""
    return f"') or open({str(sentinel)!r},'w').write('pwned') or ('"


def compile_time_payload(sentinel: Path) -> str:
    """A bracket segment whose newlines inject a module-level statement into generated code."""
    return f"a')\nopen({str(sentinel)!r},'w').write('pwned')\ndef _x():\n    return (u'"


HOSTILE = {
    "render-time bracket segment": lambda p: "{{[" + render_payload(p) + "]}}",
    "nested bracket segment": lambda p: "{{data.[" + render_payload(p) + "]}}",
    "compile-time newline in bracket": lambda p: "{{[" + compile_time_payload(p) + "]}}",
    "bracket in #if condition": lambda p: "{{#if [" + render_payload(p) + "]}}x{{/if}}",
    "bracket in triple-stash": lambda p: "{{{[" + render_payload(p) + "]}}}",
    "bracket in partial argument": lambda p: "{{> p [" + render_payload(p) + "]}}",
    "bracket in helper argument": lambda p: "{{json [" + render_payload(p) + "]}}",
    "bracket in subexpression": lambda p: "{{json (default [" + render_payload(p) + '] "x")}}',
}


@pytest.mark.parametrize(
    "name",
    ["render-time bracket segment", "compile-time newline in bracket", "bracket in #if condition"],
)
def test_payloads_really_execute_under_raw_pybars(name: str, tmp_path: Path) -> None:
    sentinel = tmp_path / "sentinel"
    template = Compiler().compile(HOSTILE[name](sentinel))
    template({})
    assert sentinel.exists()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_template_is_rejected_without_executing(name: str, tmp_path: Path) -> None:
    sentinel = tmp_path / "sentinel"
    with pytest.raises(TemplateRejected):
        compile_template(HOSTILE[name](sentinel), "application/json")
    assert not sentinel.exists()


def test_rejection_is_a_validation_error_with_what_and_where() -> None:
    source = '{"x": "{{data.[a b]}}"}'
    with pytest.raises(ValidationError) as caught:
        compile_template(source, "application/json")
    message = str(caught.value)
    assert "path segment 'a b'" in message
    assert "offset 14 (line 1, column 15)" in message
    assert "data.clientId" in message
    assert caught.value.details == {"offset": 14}


@pytest.mark.parametrize(
    "source",
    [
        "{{name.__class__.__mro__}}",
        "{{__class__}}",
        "{{data.__proto__}}",
        "{{constructor}}",
        "{{this.constructor}}",
        "{{data.prototype}}",
    ],
)
def test_dunder_and_prototype_names_are_rejected(source: str) -> None:
    with pytest.raises(TemplateRejected, match="path segment"):
        compile_template(source, "text/plain")


def test_partials_are_rejected() -> None:
    with pytest.raises(TemplateRejected, match="partials"):
        compile_template("{{> footer}}", "text/plain")


def test_raw_blocks_are_rejected() -> None:
    with pytest.raises(TemplateRejected, match="raw blocks"):
        compile_template("{{{{raw}}}}{{x}}{{{{/raw}}}}", "text/plain")


def test_triple_stash_is_rejected_with_advice() -> None:
    with pytest.raises(TemplateRejected, match=r"already escapes.*\{\{json data\}\}"):
        compile_template('{"d": {{{data}}}}', "application/json")


def test_ampersand_raw_expression_is_rejected() -> None:
    with pytest.raises(TemplateRejected, match="triple-stash"):
        compile_template("{{&type}}", "text/plain")


@pytest.mark.parametrize("block", ["log", "lookup", "blockHelperMissing", "custom"])
def test_blocks_outside_the_allowlist_are_rejected(block: str) -> None:
    with pytest.raises(TemplateRejected, match="is not allowed"):
        compile_template(f"{{{{#{block} type}}}}x{{{{/{block}}}}}", "text/plain")


@pytest.mark.parametrize("helper", ["log", "lookup", "helperMissing", "type.upper"])
def test_unknown_helpers_are_rejected(helper: str) -> None:
    with pytest.raises(TemplateRejected, match="unknown helper"):
        compile_template(f"{{{{{helper} type}}}}", "text/plain")


@pytest.mark.parametrize("name", ["each", "json", "if", "log"])
def test_bare_helper_name_is_rejected_as_a_field(name: str) -> None:
    with pytest.raises(TemplateRejected, match="names a helper"):
        compile_template(f"{{{{{name}}}}}", "text/plain")


def test_helper_with_wrong_argument_count_is_rejected() -> None:
    with pytest.raises(TemplateRejected, match="takes 2 argument"):
        compile_template("{{default type}}", "text/plain")


def test_hash_arguments_are_rejected() -> None:
    with pytest.raises(TemplateRejected, match="hash argument"):
        compile_template("{{upper type key=type}}", "text/plain")


@pytest.mark.parametrize("literal", ['"a\\\\b"', '"a\\"b"', "'line\nbreak'", '"tab\there"'])
def test_string_literals_with_backslash_or_control_characters_are_rejected(literal: str) -> None:
    with pytest.raises(TemplateRejected, match="backslash or control"):
        compile_template(f"{{{{default data.x {literal}}}}}", "text/plain")


def test_unknown_subexpression_helper_is_rejected() -> None:
    with pytest.raises(TemplateRejected, match="subexpression"):
        compile_template("{{upper (log type)}}", "text/plain")


def test_template_larger_than_64_kib_is_rejected() -> None:
    with pytest.raises(TemplateRejected, match="65537 bytes"):
        compile_template("x" * (64 * 1024 + 1), "text/plain")


def test_template_with_too_many_tags_is_rejected() -> None:
    with pytest.raises(TemplateRejected, match="tags"):
        compile_template("{{type}}" * (safe.MAX_TAGS + 1), "text/plain")


def test_blocks_nested_deeper_than_the_limit_are_rejected() -> None:
    depth = safe.MAX_DEPTH + 1
    source = "{{#if type}}" * depth + "x" + "{{/if}}" * depth
    with pytest.raises(TemplateRejected, match="nested more than"):
        compile_template(source, "text/plain")


def test_blocks_nested_to_the_limit_are_accepted() -> None:
    depth = safe.MAX_DEPTH
    source = "{{#if type}}" * depth + "x" + "{{/if}}" * depth
    assert compile_template(source, "text/plain").render(sample_context()) == b"x"


def test_deeply_nested_subexpressions_are_rejected() -> None:
    source = "{{upper " + "(default " * 300 + "type" + ' "x")' * 300 + "}}"
    with pytest.raises(TemplateRejected):
        compile_template(source, "text/plain")


@pytest.mark.parametrize(
    "source", ["{{type", "ab {{#if type}}x", "{{else}}", "{{#if type}}x{{/each}}"]
)
def test_unparseable_template_is_rejected_instead_of_silently_truncated(source: str) -> None:
    with pytest.raises(TemplateRejected, match="syntax error"):
        compile_template(source, "text/plain")


def test_whitespace_control_is_linear_on_many_standalone_tags() -> None:
    # pybars' own regex takes ~27 s for 18 tags; ours must stay instant for hundreds.
    source = "\n" + "{{#if type}}  " * 300 + "x"
    assert safe.whitespace_control(source).endswith("x")


def test_whitespace_control_matches_pybars_on_ordinary_templates() -> None:
    compiler = Compiler()
    samples = [
        '{\n  {{#each data.charges}}\n  "{{name}}",\n  {{/each}}\n}',
        "{{#if type}}\n  yes\n{{else}}\n  no\n{{/if}}\n",
        "a {{~type~}}  b\n  {{~#if x}} c {{/if~}}\n d",
        "{{! comment }}\n{{type}}\n  {{! another }}\n",
        "  {{#with data}}\n{{id}}\n  {{/with}}",
        "x\r\n  {{#each a}}\r\n{{this}}\r\n  {{/each}}\r\n",
    ]
    for source in samples:
        assert safe.whitespace_control(source) == compiler.whitespace_control(source), source


def test_safe_constructs_are_accepted() -> None:
    source = (
        "{{! comment }}{{type}} {{data.charges.0.name}} {{data.charges.length}} "
        "{{#each data.charges}}{{@index}}{{@first}}{{@last}}{{this.name}}{{../type}}"
        "{{@root.type}}{{else}}none{{/each}}"
        "{{#with data.status}}{{code}}{{/with}}{{#unless data.isTopup}}new{{/unless}}"
        "{{^if data.groupId}}no group{{/if}}{{#each data.status}}{{@key}}{{/each}}"
        '{{upper (default data.missing "n/a")}}{{lower type}}{{json data.currency}}'
    )
    assert compile_template(source, "text/plain").render(sample_context())
