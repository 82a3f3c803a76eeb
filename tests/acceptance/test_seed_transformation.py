"""The seed's examples, and the one transformation that makes them GraphQL (no services needed).

These prove the transformation is needed (the unchanged examples with quoted or ``$`` keys do not
parse) and minimal (it touches exactly those, and undoing its recorded edits gives the seed text
back), and that the transformed examples validate against the contract once it declares them.
"""

from __future__ import annotations

import pytest
from graphql import GraphQLSyntaxError, parse, validate

from fineract_hub.contract.schema import hub_schema, root_fields
from tests.support import seed_examples
from tests.support.seed_examples import (
    SeedExample,
    capability_params,
    lift_json_literals,
    load_examples,
    substitute_url,
)

pytestmark = pytest.mark.integration

EXAMPLES = load_examples()
BY_FIELD = {example.root_field: example for example in EXAMPLES}
DECLARED = frozenset(root_fields())


def schema_type(field: str, argument: str) -> str:
    declared = root_fields().get(field)
    if declared is not None and argument in declared[1].args:
        return str(declared[1].args[argument].type)
    return "JSON"


def test_the_seed_has_one_example_per_documented_capability():
    assert [e.root_field for e in EXAMPLES] == [
        "registerWebhook",
        "registerApiClient",
        "generateToken",
        "executeExport",
        "processImport",
        "registerEventProducer",
        "publishEvent",
    ]
    assert all(e.operation_type == "mutation" and e.operation_name for e in EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.id)
def test_the_transformation_is_needed_exactly_where_it_applies(example: SeedExample):
    valid = lift_json_literals(example.source)
    if valid.lifted:
        with pytest.raises(GraphQLSyntaxError):
            parse(example.source)
    else:
        parse(example.source)
        assert valid.query == example.source
    parse(valid.query)
    assert valid.restore() == example.source


def test_webhook_example_unchanged_is_not_graphql():
    with pytest.raises(GraphQLSyntaxError, match="Expected Name, found String 'Authorization'"):
        parse(BY_FIELD["registerWebhook"].source)


def test_webhook_headers_become_a_json_variable_and_nothing_else_moves():
    source = BY_FIELD["registerWebhook"].source
    valid = lift_json_literals(source)
    assert valid.variables == {
        "headers": {"Authorization": "Bearer your-token", "X-Custom-Header": "custom-value"}
    }
    assert "mutation RegisterWebhook($headers: JSON) {" in valid.query
    assert "    headers: $headers\n" in valid.query
    # The payload template's braces and quotes live in a block string and are left alone.
    assert '"event": "{{type}}",' in valid.query
    assert valid.restore() == source


def test_dollar_keys_of_the_export_filter_become_a_variable():
    valid = lift_json_literals(BY_FIELD["executeExport"].source)
    assert valid.variables == {
        "filters": {"activationDate": {"$gte": "2023-01-01"}, "status": "active"}
    }
    assert "filters: $filters" in valid.query


def test_valid_graphql_object_literals_stay_literals():
    valid = lift_json_literals(BY_FIELD["registerEventProducer"].source)
    # config is valid GraphQL (bare keys) and stays; filterCriteria has a quoted key and moves.
    assert list(valid.variables) == ["filterCriteria"]
    assert valid.variables["filterCriteria"] == {"data.loanType": "individual"}
    assert 'topic: "fineract-loan-events"' in valid.query
    assert lift_json_literals(BY_FIELD["publishEvent"].source).variables == {}


def test_variable_types_follow_the_schema_when_given():
    source = 'mutation M($a: Int) { f(x: 1, obj: {"k": [1, 2.5, true, null]}) { id } }'
    valid = lift_json_literals(source, lambda field, arg: "JSON!")
    assert valid.query == "mutation M($a: Int, $obj: JSON!) { f(x: 1, obj: $obj) { id } }"
    assert valid.variables == {"obj": {"k": [1, 2.5, True, None]}}
    anonymous = lift_json_literals('{ f(o: {"k": 1}) { id } }')
    assert anonymous.query == "query ($o: JSON) { f(o: $o) { id } }"
    assert anonymous.restore() == '{ f(o: {"k": 1}) { id } }'


@pytest.mark.parametrize("example", capability_params(EXAMPLES, DECLARED))
def test_transformed_example_validates_against_the_contract(example: SeedExample):
    valid = lift_json_literals(example.source, schema_type)
    assert validate(hub_schema(), parse(valid.query)) == []


def test_undeclared_capabilities_are_strict_xfails_and_declared_ones_are_not():
    params = {p.id: p for p in capability_params(EXAMPLES, {"registerWebhook"})}
    assert not params["registerWebhook"].marks
    [mark] = params["executeExport"].marks
    assert mark.name == "xfail"
    assert mark.kwargs == {
        "strict": True,
        "reason": "capability not implemented yet: executeExport",
    }
    everything = capability_params(EXAMPLES, {e.root_field for e in EXAMPLES})
    assert not any(p.marks for p in everything)


def test_url_substitution_is_explicit():
    source = BY_FIELD["registerWebhook"].source
    changed = substitute_url(
        source, "https://example.com/webhooks/loan-approved", "http://127.0.0.1:9/x"
    )
    assert changed == source.replace(
        '"https://example.com/webhooks/loan-approved"', '"http://127.0.0.1:9/x"'
    )
    with pytest.raises(AssertionError, match="exactly once"):
        substitute_url(source, "https://example.com/other", "http://127.0.0.1:9/x")


def test_a_missing_seed_fails_clearly(monkeypatch, tmp_path):
    monkeypatch.setattr(seed_examples, "SEED_DOCUMENT", tmp_path / "absent.md")
    with pytest.raises(pytest.fail.Exception, match=r"seed document not found at .*absent\.md"):
        seed_examples.load_examples()
