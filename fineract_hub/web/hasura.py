"""The Hasura action endpoint (``POST /actions``): one URL for every action, dispatched by name.

Hasura has already checked its own permissions, but this endpoint is reachable without Hasura too,
so it trusts nothing it cannot verify: the shared secret Hasura adds as ``x-hub-action-secret``
(from ``HUB_ACTION_SECRET``) must match, and the role in ``session_variables`` is checked again by
the action registry. The ``input`` is coerced by executing a generated GraphQL document for the
action against the same schema ``/graphql`` uses, so Hasura callers and direct callers get the
same enum and scalar handling, the same missing-argument errors and the same output checks.

Responses (Hasura's action contract: 2xx carries the bare output value, 4xx the error object):

* 200 and the action's output (an object, a list or null, as the schema declares);
* 400 ``validation_failed`` for a malformed request, an unknown argument, or an argument that does
  not coerce to its declared type (the message names the argument);
* 401 ``unauthenticated`` when the secret is missing or wrong, or no ``x-hasura-role`` was sent;
* 403 ``forbidden`` when the role may not call the action (and any other ``HubError`` with its own
  status and code);
* 404 ``unknown_action`` when the schema declares no such operation (or no handler is registered
  for it);
* 500 ``internal`` for anything unexpected, logged with its traceback and never described.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    parse,
)

from fineract_hub.contract.schema import root_fields
from fineract_hub.errors import HubError, NotAuthenticated, NotFound, ValidationError
from fineract_hub.web import actions as registry
from fineract_hub.web.actions import ActionContext
from fineract_hub.web.graphql import (
    INTERNAL_ERROR,
    header,
    is_request_error,
    log_internal,
    run_document,
)

log = logging.getLogger(__name__)

SECRET_HEADER = "x-hub-action-secret"  # noqa: S105 - a header name, not a secret


class UnknownAction(NotFound):
    code = "unknown_action"


def _named_object(type_: GraphQLOutputType) -> GraphQLObjectType | None:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_ if isinstance(type_, GraphQLObjectType) else None


def selection_set(type_: GraphQLOutputType, seen: frozenset[str] = frozenset()) -> str:
    """Every field of the output type, recursively: Hasura applies the client's selection itself."""
    obj = _named_object(type_)
    if obj is None:
        return ""
    parts: list[str] = []
    for name, field in obj.fields.items():
        inner = _named_object(field.type)
        if inner is not None and inner.name in seen | {obj.name}:
            continue  # a recursive type cannot be selected exhaustively; Hasura has none of ours
        parts.append(name + selection_set(field.type, seen | {obj.name}))
    return " { " + " ".join(parts) + " }"


@cache
def action_document(name: str) -> DocumentNode:
    """``query|mutation ($arg: Type ...) { name(arg: $arg ...) { all fields } }`` for an action."""
    kind, field = root_fields()[name]
    return parse(_document_source(kind, name, field))


def _document_source(kind: str, name: str, field: GraphQLField) -> str:
    if field.args:
        definitions = ", ".join(f"${arg}: {spec.type}" for arg, spec in field.args.items())
        passing = ", ".join(f"{arg}: ${arg}" for arg in field.args)
        return (
            f"{kind} HasuraAction({definitions}) {{ {name}({passing}){selection_set(field.type)} }}"
        )
    return f"{kind} HasuraAction {{ {name}{selection_set(field.type)} }}"


def _verify_secret(services: Any, headers: Mapping[str, str]) -> None:
    expected = services.settings.action_secret or ""
    given = header(headers, SECRET_HEADER)
    # An unset secret must never match an absent header.
    if (
        not expected
        or given is None
        or not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
    ):
        raise NotAuthenticated(
            f"missing or wrong {SECRET_HEADER} header (Hasura sends HUB_ACTION_SECRET as it)"
        )


def _parse_payload(body: bytes) -> tuple[str, dict[str, Any], dict[str, str]]:
    try:
        payload = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(f"request body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise ValidationError("request body must be Hasura's action payload object")
    action = payload.get("action")
    name = action.get("name") if isinstance(action, dict) else None
    if not isinstance(name, str) or not name:
        raise ValidationError("action.name is missing")
    arguments = payload.get("input")
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise ValidationError("input must be an object of arguments")
    raw_session = payload.get("session_variables") or {}
    if not isinstance(raw_session, dict):
        raise ValidationError("session_variables must be an object")
    session: dict[str, str] = {}
    for key, value in raw_session.items():
        if value is None:
            continue
        lowered = str(key).lower()
        if lowered in session:
            # Two spellings of one variable (x-hasura-role and X-Hasura-Role): which one Hasura
            # meant is unknowable, so refuse rather than pick the more powerful.
            raise ValidationError(f"session variable {lowered!r} is given more than once")
        session[lowered] = str(value)
    return name, arguments, session


_VARIABLE = re.compile(r"""Variable ["']\$(\w+)["']""")


def _argument_error(messages: list[str]) -> ValidationError:
    """graphql-core names the variable; the caller only knows the argument, which has its name."""
    names = [m.group(1) for m in map(_VARIABLE.search, messages) if m]
    details = {"argument": names[0]} if names else {}
    text = "; ".join(_VARIABLE.sub(r'argument "\1"', message) for message in messages)
    return ValidationError(text, details=details)


async def execute_action(services: Any, headers: Mapping[str, str], body: bytes) -> tuple[int, Any]:
    """Handle one Hasura action call; returns (HTTP status, JSON body). See the module docstring."""
    name = "?"
    try:
        _verify_secret(services, headers)
        name, arguments, session = _parse_payload(body)
        declared = root_fields()
        if name not in declared:
            raise UnknownAction(f"unknown action {name!r}")
        if name not in registry.ACTIONS:
            raise UnknownAction(f"action {name!r} is declared but has no handler in this build")
        role = session.get("x-hasura-role")
        if not role:
            raise NotAuthenticated(
                "session_variables has no x-hasura-role; call actions through Hasura"
            )
        _, field = declared[name]
        unknown = sorted(set(arguments) - set(field.args))
        if unknown:
            raise ValidationError(
                f"{name} has no argument(s) {', '.join(unknown)}",
                details={"argument": unknown[0]},
            )
        ctx = ActionContext(
            role=role,
            user_id=session.get("x-hasura-user-id"),
            services=services,
            session_variables=session,
        )
        result = await run_document(action_document(name), ctx, arguments)
    except HubError as err:
        return err.status, err.to_body()
    except Exception:
        log.exception("action %s failed", name)
        return 500, INTERNAL_ERROR

    if not result.errors:
        assert result.data is not None
        return 200, result.data[name]
    error = result.errors[0]
    if isinstance(error.original_error, HubError):
        return error.original_error.status, error.original_error.to_body()
    if is_request_error(error):
        invalid = _argument_error([err.message for err in result.errors if is_request_error(err)])
        return invalid.status, invalid.to_body()
    log_internal(error, f"action {name}")
    return 500, INTERNAL_ERROR
