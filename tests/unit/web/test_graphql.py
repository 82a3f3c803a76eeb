"""The built-in /graphql transport and its explorer page: fake handlers, the real schema."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from fineract_hub.errors import PermissionDenied
from fineract_hub.web.actions import ActionSpec
from fineract_hub.web.explorer import explorer_html
from fineract_hub.web.graphql import execute_graphql
from tests.support.fake_actions import Recorder, register

ADMIN_KEY = "admin-key-0123456789abcdef"
AUTH = {"authorization": f"Bearer {ADMIN_KEY}"}
USER_KEY = "user-key-0123456789abcdef"

REGISTER = """
mutation Register($headers: JSON) {
  registerWebhook(name: "n", eventType: "loan.approved", url: "https://x",
                  httpMethod: POST, contentType: application_json, headers: $headers) {
    id
    secret
  }
}
"""


def services() -> SimpleNamespace:
    return SimpleNamespace(
        settings=SimpleNamespace(
            action_secret="unused-here-0123456789", api_keys={ADMIN_KEY: "admin", USER_KEY: "user"}
        )
    )


async def post(
    query: str,
    variables: dict[str, Any] | None = None,
    key: str | None = ADMIN_KEY,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    if headers is None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = json.dumps({"query": query, "variables": variables}).encode()
    return await execute_graphql(services(), headers, body)


async def test_known_key_calls_with_its_role(registry: dict[str, ActionSpec]) -> None:
    handler = register(registry, "deleteWebhook", Recorder({"success": True}))
    await post('mutation { deleteWebhook(webhookId: "wh_1") { success } }', key=USER_KEY)
    ctx, _ = handler.calls[0]
    assert ctx.role == "user"


async def test_caller_id_is_a_key_fingerprint_not_the_key(registry: dict[str, ActionSpec]) -> None:
    handler = register(registry, "deleteWebhook", Recorder({"success": True}))
    await post('mutation { deleteWebhook(webhookId: "wh_1") { success } }')
    ctx, _ = handler.calls[0]
    assert ctx.user_id is not None and ctx.user_id.startswith("api-key:")
    assert ADMIN_KEY not in ctx.user_id


async def test_no_authorization_header_is_refused_before_parsing(
    registry: dict[str, ActionSpec],
) -> None:
    register(registry, "deleteWebhook", Recorder({"success": True}))
    status, body = await post('mutation { deleteWebhook(webhookId: "wh_1") { success } }', key=None)
    assert status == 401
    assert body["errors"][0]["extensions"]["code"] == "unauthenticated"


async def test_many_aliased_operations_are_refused(registry: dict[str, ActionSpec]) -> None:
    register(registry, "getWebhookEventTypes", Recorder([]))
    query = "{" + " ".join(f"a{i}: getWebhookEventTypes" for i in range(21)) + "}"
    status, body = await post(query)
    assert status == 400
    assert "at most 20" in body["errors"][0]["message"]


async def test_an_oversized_document_is_refused_by_the_token_limit(
    registry: dict[str, ActionSpec],
) -> None:
    query = "{ getWebhookEventTypes " + "__typename " * 6000 + "}"
    status, body = await post(query)
    assert status == 200
    assert "token" in body["errors"][0]["message"].lower()


async def test_unknown_bearer_key_is_401(registry: dict[str, ActionSpec]) -> None:
    status, body = await post("{ getWebhookEventTypes }", key="not-a-key-0123456789")
    assert status == 401
    assert body["errors"][0]["extensions"]["code"] == "unauthenticated"


async def test_non_bearer_authorization_is_401(registry: dict[str, ActionSpec]) -> None:
    status, _ = await post(
        "{ getWebhookEventTypes }", headers={"authorization": f"Basic {ADMIN_KEY}"}
    )
    assert status == 401


async def test_successful_query_returns_data(registry: dict[str, ActionSpec]) -> None:
    register(registry, "getWebhookEventTypes", Recorder(["loan.approved"]), kind="query")
    status, body = await post("{ getWebhookEventTypes }")
    assert (status, body) == (200, {"data": {"getWebhookEventTypes": ["loan.approved"]}})


async def test_enum_literals_reach_the_handler_as_their_names(
    registry: dict[str, ActionSpec],
) -> None:
    handler = register(registry, "registerWebhook", Recorder({"id": "wh_1", "secret": "s"}))
    await post(REGISTER)
    _, arguments = handler.calls[0]
    assert (arguments["httpMethod"], arguments["contentType"]) == ("POST", "application_json")


async def test_json_scalar_via_variables(registry: dict[str, ActionSpec]) -> None:
    handler = register(registry, "registerWebhook", Recorder({"id": "wh_1", "secret": "s"}))
    headers = {"Authorization": "Bearer your-token", "X-Custom-Header": "custom-value"}
    await post(REGISTER, {"headers": headers})
    _, arguments = handler.calls[0]
    assert arguments["headers"] == headers


async def test_json_scalar_literal_in_graphql_object_syntax(
    registry: dict[str, ActionSpec],
) -> None:
    handler = register(registry, "registerWebhook", Recorder({"id": "wh_1", "secret": "s"}))
    await post(
        'mutation { registerWebhook(name: "n", eventType: "e", url: "https://x",'
        ' headers: {Authorization: "x", retries: [1, 2.5, true, null]}) { id } }'
    )
    _, arguments = handler.calls[0]
    assert arguments["headers"] == {"Authorization": "x", "retries": [1, 2.5, True, None]}


async def test_json_literal_with_quoted_keys_is_a_syntax_error(
    registry: dict[str, ActionSpec],
) -> None:
    status, body = await post(
        'mutation { registerWebhook(name: "n", eventType: "e", url: "u",'
        ' headers: {"Authorization": "x"}) { id } }'
    )
    assert status == 200
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "validation_failed"


async def test_hub_error_becomes_an_error_entry_with_its_code(
    registry: dict[str, ActionSpec],
) -> None:
    register(registry, "deleteWebhook", Recorder(error=PermissionDenied("not yours")))
    status, body = await post('mutation { deleteWebhook(webhookId: "wh_1") { success } }')
    assert status == 200
    assert body["data"] is None
    assert body["errors"] == [
        {"message": "not yours", "extensions": {"code": "forbidden"}, "path": ["deleteWebhook"]}
    ]


async def test_unexpected_exception_is_hidden_and_logged(
    registry: dict[str, ActionSpec], caplog: pytest.LogCaptureFixture
) -> None:
    register(registry, "deleteWebhook", Recorder(error=RuntimeError("dsn=postgres://u:pw@db")))
    with caplog.at_level(logging.ERROR):
        _, body = await post('mutation { deleteWebhook(webhookId: "wh_1") { success } }')
    assert body["errors"][0]["message"] == "internal error"
    assert body["errors"][0]["extensions"] == {"code": "internal"}
    assert any(record.exc_info for record in caplog.records)


async def test_field_not_in_the_schema_is_rejected(registry: dict[str, ActionSpec]) -> None:
    register(registry, "getWebhook", Recorder({"secretKey": "x"}), kind="query")
    status, body = await post('{ getWebhook(webhookId: "wh_1") { secretKey } }')
    assert status == 200
    assert "data" not in body
    assert "secretKey" in body["errors"][0]["message"]


async def test_invalid_variable_is_reported_without_data(registry: dict[str, ActionSpec]) -> None:
    status, body = await post(
        "query Q($s: WebhookStatus) { getWebhookExecutions(status: $s) { total } }", {"s": "done"}
    )
    assert status == 200
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "validation_failed"


async def test_body_that_is_not_json_is_400(registry: dict[str, ActionSpec]) -> None:
    status, body = await execute_graphql(services(), AUTH, b"query { x }")
    assert status == 400
    assert body["errors"][0]["extensions"]["code"] == "bad_request"


async def test_missing_query_is_400(registry: dict[str, ActionSpec]) -> None:
    status, _ = await execute_graphql(services(), AUTH, json.dumps({"variables": {}}).encode())
    assert status == 400


async def test_explorer_page_posts_to_graphql() -> None:
    page = explorer_html()
    assert 'createFetcher({ url: "/graphql" })' in page


async def test_explorer_escapes_the_endpoint() -> None:
    page = explorer_html(endpoint="</script><script>alert(1)</script>")
    assert "</script><script>alert" not in page
