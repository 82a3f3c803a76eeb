"""The built-in ``POST /graphql`` endpoint, and the execution path the Hasura transport shares.

Callers without Hasura authenticate with ``Authorization: Bearer <key>`` (``HUB_API_KEYS`` maps each
key to a role); no header means role ``anonymous``, which the registry refuses for every operation
that does not list it. Status codes follow GraphQL-over-HTTP for ``application/json`` responses:

* 200 for every well-formed request, whatever GraphQL errors it produced: syntax, validation and
  variable errors (``errors`` and no ``data``), handler errors (``data`` with nulls where the
  failing fields were, ``errors[].extensions.code`` from ``HubError``: ``forbidden``,
  ``not_found``, ``validation_failed``...);
* 400 when the HTTP body is not a JSON object with a string ``query`` (code ``bad_request``);
* 401 when an ``Authorization`` header is present but not a known bearer key (code
  ``unauthenticated``): a wrong key is a transport failure, not an anonymous call, so a typo in a
  key never silently degrades to the anonymous role.

An exception that is not a ``HubError`` is logged with its traceback and reported only as
``internal error`` with code ``internal``, so handler internals never reach a client.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from inspect import isawaitable
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    execute,
    parse,
    validate,
)

from fineract_hub.contract.schema import hub_schema
from fineract_hub.errors import HubError, NotAuthenticated, ValidationError
from fineract_hub.web.actions import ActionContext
from fineract_hub.web.explorer import explorer_html

__all__ = ["execute_graphql", "explorer_html", "run_document"]

log = logging.getLogger(__name__)

INTERNAL_ERROR: dict[str, Any] = {"message": "internal error", "extensions": {"code": "internal"}}


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup that works for plain dicts as well as multidicts."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


async def run_document(
    document: DocumentNode,
    ctx: ActionContext,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> ExecutionResult:
    """Execute a parsed and validated document against the hub schema."""
    result = execute(
        hub_schema(),
        document,
        context_value=ctx,
        variable_values=dict(variables) if variables is not None else None,
        operation_name=operation_name,
    )
    if isawaitable(result):
        result = await result
    return result


def is_request_error(error: GraphQLError) -> bool:
    """Errors found before any resolver ran (syntax, validation, variable coercion) have no path.

    graphql-core 3.3 chains the underlying coercion GraphQLError as ``original_error``; any other
    original error came from a resolver.
    """
    return error.path is None and (
        error.original_error is None or isinstance(error.original_error, GraphQLError)
    )


def log_internal(error: GraphQLError, where: str) -> None:
    original = error.original_error or error
    log.error(
        "%s failed: %s",
        where,
        error.message,
        exc_info=(type(original), original, original.__traceback__),
    )


def error_entry(error: GraphQLError, where: str) -> dict[str, Any]:
    """One ``errors[]`` entry: HubError's own shape, request errors as-is, anything else hidden."""
    original = error.original_error
    if isinstance(original, HubError):
        entry = original.to_body()
    elif is_request_error(error):
        entry = {"message": error.message, "extensions": {"code": "validation_failed"}}
        if error.locations:
            entry["locations"] = [loc.formatted for loc in error.locations]
    else:
        log_internal(error, where)
        entry = {
            "message": INTERNAL_ERROR["message"],
            "extensions": dict(INTERNAL_ERROR["extensions"]),
        }
    if error.path is not None:
        entry["path"] = list(error.path)
    return entry


def key_fingerprint(key: str) -> str:
    """A stable, non-reversible id for an API key, recorded as the caller (createdBy)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def caller_from_bearer(
    api_keys: Mapping[str, str], authorization: str | None
) -> tuple[str, str | None]:
    """(role, user id) for an Authorization header; raises NotAuthenticated for an unknown key."""
    if authorization is None:
        return "anonymous", None
    scheme, _, key = authorization.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise NotAuthenticated("Authorization must be 'Bearer <api key>'")
    role: str | None = None
    # Compare against every key so the time taken does not reveal how many keys were tried.
    for known, known_role in api_keys.items():
        if hmac.compare_digest(known.encode("utf-8"), key.encode("utf-8")):
            role = known_role
    if role is None:
        raise NotAuthenticated("unknown API key")
    return role, f"api-key:{key_fingerprint(key)}"


def _parse_request(body: bytes) -> tuple[str, dict[str, Any] | None, str | None]:
    try:
        payload = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(f"request body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise ValidationError(
            "request body must be a JSON object {query, variables, operationName}"
        )
    query = payload.get("query")
    variables = payload.get("variables")
    operation_name = payload.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise ValidationError("'query' must be a non-empty string")
    if variables is not None and not isinstance(variables, dict):
        raise ValidationError("'variables' must be a JSON object")
    if operation_name is not None and not isinstance(operation_name, str):
        raise ValidationError("'operationName' must be a string")
    return query, variables, operation_name


def _bad_request(err: HubError) -> dict[str, Any]:
    body = err.to_body()
    if isinstance(err, ValidationError):
        body["extensions"]["code"] = "bad_request"
    return {"errors": [body]}


#: Limits on what one request may make the worker do (parsing is on the event loop).
MAX_TOKENS = 5000
MAX_ROOT_FIELDS = 20


def _root_field_count(document: Any) -> int:
    count = 0
    for definition in document.definitions:
        selection_set = getattr(definition, "selection_set", None)
        if selection_set is not None:
            count += len(selection_set.selections)
    return count


async def execute_graphql(
    services: Any, headers: Mapping[str, str], body: bytes
) -> tuple[int, dict[str, Any]]:
    """Handle one ``POST /graphql``; returns (HTTP status, JSON body). See the module docstring."""
    try:
        role, user_id = caller_from_bearer(
            services.settings.api_keys, header(headers, "authorization")
        )
    except NotAuthenticated as err:
        return err.status, {"errors": [err.to_body()]}
    if role == "anonymous":
        # No operation is open to anonymous callers, so nothing is parsed for them: parsing
        # and validating a hostile document is where the work (and a DoS) would be.
        err = NotAuthenticated("send Authorization: Bearer <API key> (see HUB_API_KEYS)")
        return err.status, {"errors": [err.to_body()]}
    try:
        query, variables, operation_name = _parse_request(body)
    except ValidationError as err:
        return 400, _bad_request(err)

    try:
        document = parse(query, max_tokens=MAX_TOKENS)
    except GraphQLError as err:
        return 200, {"errors": [error_entry(err, "graphql")]}
    fields = _root_field_count(document)
    if fields > MAX_ROOT_FIELDS:
        err = ValidationError(f"a request may ask for at most {MAX_ROOT_FIELDS} operations "
                              f"(aliases included); this one asks for {fields}")
        return 400, {"errors": [err.to_body()]}
    problems = validate(hub_schema(), document)
    if problems:
        return 200, {"errors": [error_entry(err, "graphql") for err in problems]}

    ctx = ActionContext(role=role, user_id=user_id, services=services, session_variables={})
    try:
        result = await run_document(document, ctx, variables, operation_name)
    except Exception:
        log.exception("graphql execution failed")
        return 500, {"errors": [INTERNAL_ERROR]}
    response: dict[str, Any] = {}
    if result.errors:
        response["errors"] = [error_entry(err, "graphql") for err in result.errors]
    rejected_before_execution = (
        result.data is None
        and bool(result.errors)
        and all(is_request_error(err) for err in result.errors or ())
    )
    if not rejected_before_execution:
        response["data"] = result.data
    return 200, response
