"""The Hasura metadata generator, run against a fake registry so it tests only the generator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from graphql import build_schema

from fineract_hub.contract import hasura
from fineract_hub.contract.schema import hub_schema, operation_kinds
from fineract_hub.web.actions import ActionSpec


async def _noop(ctx: Any, arguments: dict[str, Any]) -> None:
    return None


def fake_registry(roles: frozenset[str] = frozenset({"admin", "user"})) -> dict[str, ActionSpec]:
    return {
        name: ActionSpec(name=name, handler=_noop, roles=roles, kind=kind)
        for name, kind in operation_kinds().items()
    }


def generated_actions(registry: dict[str, ActionSpec] | None = None) -> dict[str, Any]:
    document = yaml.safe_load(hasura.actions_yaml(registry or fake_registry()))
    return document


def by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {action["name"]: action for action in document["actions"]}


def test_query_operations_are_query_actions() -> None:
    actions = by_name(generated_actions())
    queries = {name for name, kind in operation_kinds().items() if kind == "query"}
    assert {
        name for name, a in actions.items() if a["definition"].get("type") == "query"
    } == queries


def test_mutation_operations_are_mutation_actions() -> None:
    actions = by_name(generated_actions())
    mutations = [name for name, kind in operation_kinds().items() if kind == "mutation"]
    assert all(
        actions[name]["definition"].get("type", "mutation") == "mutation" for name in mutations
    )


def test_every_action_is_synchronous_on_the_env_handler_with_the_secret_header() -> None:
    definitions = [a["definition"] for a in generated_actions()["actions"]]
    assert all(
        d["kind"] == "synchronous"
        and d["handler"] == "{{HUB_ACTIONS_URL}}/actions"
        and d["forward_client_headers"] is True
        and d["headers"] == [{"name": "x-hub-action-secret", "value_from_env": "HUB_ACTION_SECRET"}]
        for d in definitions
    )


def test_permissions_list_the_registry_roles_except_implicit_admin() -> None:
    registry = fake_registry(frozenset({"admin", "user", "anonymous"}))
    actions = generated_actions(registry)["actions"]
    assert all(a["permissions"] == [{"role": "anonymous"}, {"role": "user"}] for a in actions)


def test_admin_only_action_has_no_permissions() -> None:
    actions = generated_actions(fake_registry(frozenset({"admin"})))["actions"]
    assert all(a["permissions"] == [] for a in actions)


def test_custom_types_name_every_type_in_actions_graphql() -> None:
    custom = generated_actions()["custom_types"]
    listed = {
        t["name"] for kind in ("enums", "input_objects", "objects", "scalars") for t in custom[kind]
    }
    declared = set(build_schema(hasura.actions_graphql()).type_map)
    assert listed == declared - {"Query", "Mutation", "String", "Int", "Float", "Boolean"} - {
        name for name in declared if name.startswith("__")
    }


def test_actions_graphql_is_the_schema() -> None:
    rebuilt = build_schema(hasura.actions_graphql())
    original = hub_schema()
    assert set(rebuilt.query_type.fields) == set(original.query_type.fields)
    assert set(rebuilt.mutation_type.fields) == set(original.mutation_type.fields)


def test_missing_handler_fails_generation() -> None:
    registry = fake_registry()
    registry.pop("getWebhook")
    with pytest.raises(hasura.MissingHandlers, match="getWebhook"):
        hasura.actions_yaml(registry)


def test_missing_handler_may_be_generated_admin_only_when_allowed() -> None:
    registry = fake_registry()
    registry.pop("getWebhook")
    actions = by_name(yaml.safe_load(hasura.actions_yaml(registry, allow_missing=True)))
    assert actions["getWebhook"]["permissions"] == []


def test_metadata_has_the_config_v3_layout() -> None:
    files = hasura.render(fake_registry())
    assert files["version.yaml"] == "version: 3\n"
    assert yaml.safe_load(files["databases/databases.yaml"]) == []


def test_every_generated_yaml_file_parses() -> None:
    files = hasura.render(fake_registry())
    for name, content in files.items():
        if name.endswith(".yaml"):
            yaml.safe_load(content)


def test_check_reports_a_stale_file_with_a_diff(tmp_path: Path) -> None:
    files = hasura.render(fake_registry())
    hasura.write(tmp_path, files)
    (tmp_path / "actions.yaml").write_text("actions: []\n")
    diffs = hasura.stale(tmp_path, files)
    assert len(diffs) == 1 and "+  - name: getWebhooks" in diffs[0]


def test_freshly_written_metadata_is_not_stale(tmp_path: Path) -> None:
    files = hasura.render(fake_registry())
    hasura.write(tmp_path, files)
    assert hasura.stale(tmp_path, files) == []


def test_yaml_scalars_that_yaml_would_retype_are_quoted() -> None:
    assert yaml.safe_load(hasura.to_yaml({"a": "true", "b": "1", "c": "{{X}}/y", "d": ""})) == {
        "a": "true",
        "b": "1",
        "c": "{{X}}/y",
        "d": "",
    }
