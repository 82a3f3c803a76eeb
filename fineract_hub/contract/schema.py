"""Loads ``schema.graphql`` into an executable graphql-core schema shared by every transport.

The SDL is the contract; this module only adds what SDL cannot say: how the ``JSON`` scalar parses
and serialises, and that every root field resolves through the action registry. Both the Hasura
action endpoint and ``/graphql`` execute this one schema, so argument coercion, enum handling and
output checking cannot differ between them.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    ValueNode,
    build_schema,
    value_from_ast_untyped,
)

from fineract_hub.web import actions as registry
from fineract_hub.web.actions import ActionContext


def schema_sdl() -> str:
    return resources.files("fineract_hub.contract").joinpath("schema.graphql").read_text("utf-8")


def _json_identity(value: Any) -> Any:
    return value


def _json_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    # Accepts plain GraphQL object/list syntax ({Authorization: "x"}) as JSON; variables inside a
    # literal are substituted like any other value.
    return value_from_ast_untyped(node, variables)


async def resolve_operation(_root: Any, info: GraphQLResolveInfo, **arguments: Any) -> Any:
    """Every Query/Mutation field: the action registry decides who may call it and what it does.

    ``arguments`` are already coerced by graphql-core: enum values arrive as their names, JSON as
    plain Python values, and omitted optional arguments are absent (an explicit null is ``None``).
    """
    ctx: ActionContext = info.context
    spec = registry.ACTIONS.get(info.field_name)
    if spec is None:
        # Declared in the schema but no handler registered: a deployment bug, not a client error.
        raise LookupError(f"no handler registered for {info.field_name}")
    result = await spec.call(ctx, arguments)
    extra = undeclared_fields(info.return_type, result)
    if extra:
        # The schema is the contract: a handler answering with fields it does not declare means
        # the two drifted apart (the earlier implementation's main bug). Fail loudly, never drop.
        raise ContractViolation(
            f"{info.field_name} returned fields the schema does not declare: {', '.join(extra)}")
    return result


class ContractViolation(RuntimeError):
    """A handler's result does not match its declared GraphQL type."""


def undeclared_fields(gql_type: Any, value: Any, path: str = "") -> list[str]:
    """Keys in ``value`` (recursively, through lists and object types) the type does not have.

    JSON scalars are free-form by definition and not inspected.
    """
    named = gql_type
    while isinstance(named, GraphQLNonNull | GraphQLList):
        if isinstance(named, GraphQLList) and isinstance(value, list):
            found: list[str] = []
            for index, item in enumerate(value):
                found += undeclared_fields(named.of_type, item, f"{path}[{index}]")
            return found
        named = named.of_type
    if not isinstance(named, GraphQLObjectType) or not isinstance(value, dict):
        return []
    found = []
    for key, item in value.items():
        field = named.fields.get(key)
        where = f"{path}.{key}" if path else key
        if field is None:
            found.append(where)
        else:
            found += undeclared_fields(field.type, item, where)
    return found


@cache
def hub_schema() -> GraphQLSchema:
    """The executable schema; built once, since building and validating SDL is not free."""
    schema = build_schema(schema_sdl())
    json_type = schema.type_map.get("JSON")
    if isinstance(json_type, GraphQLScalarType):
        json_type.serialize = _json_identity  # type: ignore[method-assign]
        json_type.parse_value = _json_identity  # type: ignore[method-assign]
        json_type.parse_literal = _json_literal  # type: ignore[method-assign,assignment]
    for root in (schema.query_type, schema.mutation_type):
        if root is None:
            continue
        for field in root.fields.values():
            field.resolve = resolve_operation
    return schema


def root_fields() -> dict[str, tuple[str, GraphQLField]]:
    """Operation name -> (kind, field) for every declared operation."""
    schema = hub_schema()
    out: dict[str, tuple[str, GraphQLField]] = {}
    roots: tuple[tuple[str, GraphQLObjectType | None], ...] = (
        ("query", schema.query_type),
        ("mutation", schema.mutation_type),
    )
    for kind, root in roots:
        if root is None:
            continue
        for name, field in root.fields.items():
            out[name] = (kind, field)
    return out


def operation_kinds() -> dict[str, str]:
    """Operation name -> "query" or "mutation", as declared in the schema."""
    return {name: kind for name, (kind, _) in root_fields().items()}
