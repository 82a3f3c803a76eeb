"""How a compiled template turns an event into body bytes."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from typing import Any

import pytest

from fineract_hub.models.events import CanonicalEvent
from fineract_hub.templates import RenderError, TemplateRejected, compile_template, sample_context
from fineract_hub.templates import render as render_module

SEED = """    {
      "event": "{{type}}",
      "loanId": "{{data.id}}",
      "clientId": "{{data.clientId}}",
      "approvedAmount": "{{data.approvedPrincipal}}",
      "timestamp": "{{timestamp}}"
    }"""


def loan_event(**data: Any) -> dict[str, Any]:
    payload = {"id": 42, "clientId": 7, "approvedPrincipal": Decimal("1000.50000000")}
    payload.update(data)
    return CanonicalEvent(
        id="k-1",
        type="loan.approved",
        fineract_type="LoanApprovedBusinessEvent",
        category="Loan",
        tenant="default",
        created_at="2024-05-14T09:30:00Z",
        business_date="2024-05-14",
        aggregate_id=42,
        data=payload,
    ).template_context()


def render(source: str, context: dict[str, Any], content_type: str = "application/json") -> str:
    return compile_template(source, content_type, sample=context).render(context).decode()


def test_seed_template_renders_exactly() -> None:
    assert render(SEED, loan_event()) == (
        "    {\n"
        '      "event": "loan.approved",\n'
        '      "loanId": "42",\n'
        '      "clientId": "7",\n'
        '      "approvedAmount": "1000.50000000",\n'
        '      "timestamp": "2024-05-14T09:30:00Z"\n'
        "    }"
    )


@pytest.mark.parametrize(
    "value",
    ['say "hi"', "back\\slash", "two\nlines", "tab\tand\rcr", "<b>&amp;</b>", "ünï €", "\x00\x1f"],
)
def test_json_value_with_special_characters_stays_valid_and_exact(value: str) -> None:
    body = render('{"v": "{{data.note}}"}', loan_event(note=value))
    assert json.loads(body) == {"v": value}


def test_json_escaping_never_uses_html_entities() -> None:
    body = render('{"v": "{{data.note}}"}', loan_event(note="a \"b\" <c> & 'd'"))
    assert "&quot;" not in body and "&lt;" not in body and "&#x27;" not in body


def test_decimal_renders_its_exact_digits_unquoted() -> None:
    body = render('{"amount": {{data.approvedPrincipal}}}', loan_event())
    assert body == '{"amount": 1000.50000000}'


def test_booleans_render_as_json_literals() -> None:
    assert render('{"t": {{data.t}}, "f": {{data.f}}}', loan_event(t=True, f=False)) == (
        '{"t": true, "f": false}'
    )


def test_explicit_null_renders_empty() -> None:
    assert render('{"g": "{{data.groupId}}"}', loan_event(groupId=None)) == '{"g": ""}'


def test_field_under_an_explicit_null_renders_empty() -> None:
    assert render('{"g": "{{data.group.name}}"}', loan_event(group=None)) == '{"g": ""}'


def test_missing_field_fails_with_the_path_in_the_message() -> None:
    template = compile_template('{"x": "{{data.externalId}}"}', "application/json")
    with pytest.raises(RenderError, match=r"data\.externalId, which is not in the event") as caught:
        template.render(loan_event())
    assert caught.value.details == {"path": "data.externalId"}


def test_missing_list_index_fails_as_missing() -> None:
    template = compile_template('{"x": "{{data.charges.3.name}}"}', "application/json")
    with pytest.raises(RenderError, match=r"data\.charges\.3\.name"):
        template.render(loan_event(charges=[]))


def test_missing_field_inside_an_each_item_fails() -> None:
    template = compile_template(
        '[{{#each data.charges}}"{{name}}"{{#unless @last}},{{/unless}}{{/each}}]',
        "application/json",
    )
    with pytest.raises(RenderError, match="name"):
        template.render(loan_event(charges=[{"name": "a"}, {"amount": 1}]))


def test_if_guard_tolerates_a_missing_field() -> None:
    source = '{"a": 1{{#if data.externalId}}, "ext": "{{data.externalId}}"{{/if}}}'
    assert render(source, loan_event()) == '{"a": 1}'
    assert render(source, loan_event(externalId="E1")) == '{"a": 1, "ext": "E1"}'


def test_with_guard_renders_else_when_the_field_is_missing() -> None:
    source = '"{{#with data.status}}{{value}}{{else}}unknown{{/with}}"'
    assert render(source, loan_event()) == '"unknown"'
    assert render(source, loan_event(status={"value": "Approved"})) == '"Approved"'


def test_each_guard_renders_else_when_the_list_is_missing() -> None:
    source = '"{{#each data.charges}}{{name}}{{else}}none{{/each}}"'
    assert render(source, loan_event()) == '"none"'


def test_unless_guard_tolerates_a_missing_field() -> None:
    assert render('"{{#unless data.closed}}open{{/unless}}"', loan_event()) == '"open"'


def test_default_helper_covers_missing_null_and_empty() -> None:
    source = '"{{default data.externalId "n/a"}}"'
    assert render(source, loan_event()) == '"n/a"'
    assert render(source, loan_event(externalId=None)) == '"n/a"'
    assert render(source, loan_event(externalId="")) == '"n/a"'
    assert render(source, loan_event(externalId="E1")) == '"E1"'


def test_json_helper_inserts_objects_arrays_and_null_as_json() -> None:
    context = loan_event(status={"id": 200, "amount": Decimal("1.50")}, tags=["a", 'b"'], g=None)
    body = render(
        '{"s": {{json data.status}}, "t": {{json data.tags}}, "g": {{json data.g}}}', context
    )
    assert body == '{"s": {"id":200,"amount":1.50}, "t": ["a","b\\""], "g": null}'


def test_json_helper_output_is_escaped_for_xml() -> None:
    body = render("<d>{{json data.status}}</d>", loan_event(status={"a": "<"}), "application/xml")
    assert body == "<d>{&quot;a&quot;:&quot;&lt;&quot;}</d>"


def test_upper_and_lower_helpers_change_case() -> None:
    assert render('"{{upper type}} {{lower category}}"', loan_event()) == '"LOAN.APPROVED loan"'


def test_object_in_a_text_position_fails_with_advice() -> None:
    template = compile_template(
        '{"s": "{{data.status}}"}', "application/json", sample=loan_event(status="Approved")
    )
    with pytest.raises(RenderError, match=r"produced an object.*\{\{json path\}\}"):
        template.render(loan_event(status={"id": 1}))


def test_each_exposes_index_first_last_key_and_parent() -> None:
    source = (
        "{{#each data.charges}}{{@index}}:{{name}}:{{@first}}:{{@last}}:{{../type}};{{/each}}"
        "{{#each data.status}}{{@key}}={{this}},{{/each}}"
    )
    body = render(
        source,
        loan_event(charges=[{"name": "a"}, {"name": "b"}], status={"x": 1, "y": 2}),
        "text/plain",
    )
    assert body == "0:a:true:false:loan.approved;1:b:false:true:loan.approved;x=1,y=2,"


def test_if_treats_zero_empty_string_and_empty_list_as_false() -> None:
    source = "{{#if data.v}}T{{else}}F{{/if}}"
    results = [
        render(source, loan_event(v=v), "text/plain")
        for v in (0, Decimal("0.00"), "", [], False, None, 1, "x", [0], {})
    ]
    assert results == ["F", "F", "F", "F", "F", "F", "T", "T", "T", "T"]


def test_list_length_is_readable() -> None:
    assert render("{{data.charges.length}}", loan_event(charges=[1, 2, 3]), "text/plain") == "3"


def test_rendered_json_that_does_not_parse_fails() -> None:
    template = compile_template('{"n": {{data.n}}}', "application/json", sample=loan_event(n=1))
    with pytest.raises(RenderError, match="rendered body is not valid JSON"):
        template.render(loan_event(n=None))


def test_json_template_whose_sample_render_does_not_parse_is_rejected() -> None:
    with pytest.raises(TemplateRejected, match="not valid JSON"):
        compile_template('{"event": {{type}}}', "application/json")


def test_unquoted_value_of_unknown_type_is_rejected_at_registration() -> None:
    # The sample has no such field, so the dry render inserts sample text: use {{json x}}.
    with pytest.raises(TemplateRejected, match="not valid JSON"):
        compile_template('{"flag": {{data.unknownFlag}}}', "application/json")


def test_json_template_missing_a_quote_is_rejected_at_registration() -> None:
    with pytest.raises(TemplateRejected, match="not valid JSON"):
        compile_template('{"event": "{{type}}}', "application/json")


def test_registration_dry_render_tolerates_paths_the_sample_lacks() -> None:
    template = compile_template('{"x": "{{data.someFieldOnlyRepaymentsHave}}"}', "application/json")
    assert template.content_type == "application/json"


def test_registration_uses_the_given_sample_for_the_dry_render() -> None:
    with pytest.raises(TemplateRejected, match="object"):
        compile_template('{"s": "{{data.status}}"}', "application/json", sample=sample_context())


def test_body_over_max_bytes_fails() -> None:
    template = compile_template('"{{data.note}}"', "application/json")
    with pytest.raises(RenderError, match="over the 1024 limit"):
        template.render(loan_event(note="x" * 2000), max_bytes=1024)


def test_loop_output_over_max_bytes_stops_early() -> None:
    template = compile_template(
        "{{#each data.a}}{{#each ../data.a}}xxxxxxxxxx{{/each}}{{/each}}", "text/plain"
    )
    with pytest.raises(RenderError, match="exceeds 1024 bytes"):
        template.render(loan_event(a=list(range(100))), max_bytes=1024)


def test_nested_loops_are_bounded_in_iterations() -> None:
    template = compile_template(
        "{{#each data.a}}{{#each ../data.a}}{{#each ../../data.a}}{{/each}}{{/each}}{{/each}}",
        "text/plain",
    )
    with pytest.raises(RenderError, match="iterations"):
        template.render(loan_event(a=list(range(100))))


def test_context_objects_with_attributes_are_refused() -> None:
    class Secretive:
        token = "s3cret"

    template = compile_template("{{data.obj.token}}", "text/plain")
    with pytest.raises(RenderError, match="type Secretive"):
        template.render(loan_event(obj=Secretive()))


def test_python_attributes_of_plain_values_are_not_reachable() -> None:
    template = compile_template("{{data.m.items}}{{type.upper}}", "text/plain")
    with pytest.raises(RenderError, match=r"data\.m\.items"):
        template.render(loan_event(m={}))


def test_tuples_and_mappings_in_the_context_render_like_lists_and_objects() -> None:
    assert render("{{data.t.1}}", loan_event(t=("a", "b")), "text/plain") == "b"


def test_content_type_parameters_and_suffixes_choose_the_escaping() -> None:
    assert compile_template('"{{type}}"', "application/json; charset=utf-8").content_type == (
        "application/json"
    )
    assert compile_template('"{{type}}"', "application/cloudevents+json").content_type == (
        "application/json"
    )
    assert compile_template("{{type}}", "application/atom+xml").content_type == "application/xml"


def test_unsupported_content_type_is_rejected() -> None:
    with pytest.raises(TemplateRejected, match="not supported"):
        compile_template("{{type}}", "application/pdf")


def test_xml_values_are_xml_escaped() -> None:
    body = render("<n>{{data.note}}</n>", loan_event(note="a<b & \"c\" 'd'"), "application/xml")
    assert body == "<n>a&lt;b &amp; &quot;c&quot; &apos;d&apos;</n>"


def test_form_values_are_percent_encoded() -> None:
    body = render(
        "note={{data.note}}&id={{data.id}}",
        loan_event(note="a b&c=d/é"),
        "application/x-www-form-urlencoded",
    )
    assert body == "note=a+b%26c%3Dd%2F%C3%A9&id=42"


def test_text_values_are_inserted_as_is() -> None:
    assert render("{{data.note}}", loan_event(note='<"x">\n'), "text/plain") == '<"x">\n'


def test_compiled_templates_are_cached_by_content_type_and_source() -> None:
    first = compile_template("{{type}}!", "text/plain")
    assert compile_template("{{type}}!", "text/plain") is first
    assert compile_template("{{type}}!", "application/xml") is not first


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render_module, "CACHE_SIZE", 3)
    render_module.clear_cache()
    for n in range(5):
        compile_template(f"{{{{type}}}}{n}", "text/plain")
    assert render_module.cache_size() == 3


def test_compiling_adds_no_modules_to_sys_modules() -> None:
    import sys

    before = set(sys.modules)
    for n in range(20):
        compile_template(f"{{{{type}}}} leak check {n}", "text/plain")
    assert not {name for name in set(sys.modules) - before if name.startswith("pybars")}


def test_concurrent_compiles_from_threads_all_render_correctly() -> None:
    results: dict[int, bytes] = {}
    context = loan_event()

    def work(n: int) -> None:
        source = "{{#if type}}" + f"T{n}" + "{{else}}F{{/if}}{{data.id}}"
        results[n] = compile_template(source, "text/plain").render(context)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {n: f"T{n}42".encode() for n in range(16)}
