"""The Hasura action transport, with fake handlers behind the real schema."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from fineract_hub.errors import NotFound
from fineract_hub.web.actions import ActionSpec
from fineract_hub.web.hasura import execute_action
from tests.support.fake_actions import Recorder, register

SECRET = "s3cret-action-key-0123456789"

WEBHOOK = {
    "id": "wh_1",
    "name": "Loan approvals",
    "eventType": "loan.approved",
    "url": "https://example.com/hook",
    "httpMethod": "POST",
    "contentType": "application_json",
    "headers": {"X-A": "1"},
    "isActive": True,
    "timeout": 15,
    "ordered": False,
    "hasSecret": True,
    "createdDate": "2024-01-01T00:00:00Z",
}


def services() -> SimpleNamespace:
    return SimpleNamespace(settings=SimpleNamespace(action_secret=SECRET, api_keys={}))


def payload(
    name: str, arguments: dict[str, Any] | None = None, role: str | None = "admin", **session: str
) -> bytes:
    variables = {"x-hasura-user-id": "42", **session}
    if role is not None:
        variables["x-hasura-role"] = role
    return json.dumps(
        {
            "action": {"name": name},
            "input": arguments or {},
            "session_variables": variables,
            "request_query": "mutation { ... }",
        }
    ).encode()


async def call(body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    return await execute_action(
        services(), {"x-hub-action-secret": SECRET} if headers is None else headers, body
    )


async def test_missing_secret_header_is_401(registry: dict[str, ActionSpec]) -> None:
    register(registry, "deleteWebhook", Recorder({"success": True}))
    status, body = await call(payload("deleteWebhook", {"webhookId": "wh_1"}), headers={})
    assert status == 401
    assert body["extensions"]["code"] == "unauthenticated"


async def test_wrong_secret_is_401_and_handler_not_called(registry: dict[str, ActionSpec]) -> None:
    handler = register(registry, "deleteWebhook", Recorder({"success": True}))
    status, _ = await call(
        payload("deleteWebhook", {"webhookId": "wh_1"}), headers={"x-hub-action-secret": "nope"}
    )
    assert status == 401
    assert handler.calls == []


async def test_secret_header_name_is_case_insensitive(registry: dict[str, ActionSpec]) -> None:
    register(registry, "deleteWebhook", Recorder({"success": True}))
    status, _ = await call(
        payload("deleteWebhook", {"webhookId": "wh_1"}), headers={"X-Hub-Action-Secret": SECRET}
    )
    assert status == 200


async def test_empty_configured_secret_rejects_everything(registry: dict[str, ActionSpec]) -> None:
    register(registry, "deleteWebhook", Recorder({"success": True}))
    unset = SimpleNamespace(settings=SimpleNamespace(action_secret="", api_keys={}))
    status, _ = await execute_action(
        unset, {"x-hub-action-secret": ""}, payload("deleteWebhook", {"webhookId": "wh_1"})
    )
    assert status == 401


async def test_missing_role_is_401_naming_the_session_variable(
    registry: dict[str, ActionSpec],
) -> None:
    register(registry, "deleteWebhook", Recorder({"success": True}))
    status, body = await call(payload("deleteWebhook", {"webhookId": "wh_1"}, role=None))
    assert status == 401
    assert "x-hasura-role" in body["message"]


async def test_role_not_allowed_is_403_forbidden(registry: dict[str, ActionSpec]) -> None:
    handler = register(
        registry, "deleteWebhook", Recorder({"success": True}), roles=frozenset({"admin"})
    )
    status, body = await call(payload("deleteWebhook", {"webhookId": "wh_1"}, role="user"))
    assert status == 403
    assert body["extensions"]["code"] == "forbidden"
    assert handler.calls == []


async def test_unknown_action_is_404_unknown_action(registry: dict[str, ActionSpec]) -> None:
    status, body = await call(payload("mineBitcoin"))
    assert status == 404
    assert body == {
        "message": "unknown action 'mineBitcoin'",
        "extensions": {"code": "unknown_action"},
    }


async def test_declared_action_without_handler_is_404(registry: dict[str, ActionSpec]) -> None:
    status, body = await call(payload("deleteWebhook", {"webhookId": "wh_1"}))
    assert status == 404
    assert body["extensions"]["code"] == "unknown_action"


async def test_success_returns_the_bare_output_object(registry: dict[str, ActionSpec]) -> None:
    register(registry, "registerWebhook", Recorder({"id": "wh_1", "secret": "whsec_x"}))
    status, body = await call(
        payload("registerWebhook", {"name": "n", "eventType": "loan.approved", "url": "https://x"})
    )
    assert (status, body) == (200, {"id": "wh_1", "secret": "whsec_x"})


async def test_enum_arguments_reach_the_handler_as_their_names(
    registry: dict[str, ActionSpec],
) -> None:
    handler = register(registry, "registerWebhook", Recorder({"id": "wh_1", "secret": "s"}))
    await call(
        payload(
            "registerWebhook",
            {
                "name": "n",
                "eventType": "loan.approved",
                "url": "https://x",
                "httpMethod": "POST",
                "contentType": "application_json",
            },
        )
    )
    _, arguments = handler.calls[0]
    assert (arguments["httpMethod"], arguments["contentType"]) == ("POST", "application_json")


async def test_omitted_optional_arguments_are_absent(registry: dict[str, ActionSpec]) -> None:
    handler = register(registry, "registerWebhook", Recorder({"id": "wh_1", "secret": "s"}))
    await call(payload("registerWebhook", {"name": "n", "eventType": "e", "url": "https://x"}))
    _, arguments = handler.calls[0]
    assert arguments == {"name": "n", "eventType": "e", "url": "https://x"}


async def test_enum_value_outside_the_enum_is_400_naming_the_argument(
    registry: dict[str, ActionSpec],
) -> None:
    handler = register(registry, "registerWebhook", Recorder({"id": "wh_1", "secret": "s"}))
    status, body = await call(
        payload(
            "registerWebhook",
            {"name": "n", "eventType": "e", "url": "https://x", "contentType": "application/json"},
        )
    )
    assert status == 400
    assert body["extensions"] == {"code": "validation_failed", "argument": "contentType"}
    assert handler.calls == []


async def test_missing_required_argument_is_400_naming_it(registry: dict[str, ActionSpec]) -> None:
    register(registry, "deleteWebhook", Recorder({"success": True}))
    status, body = await call(payload("deleteWebhook", {}))
    assert status == 400
    assert body["extensions"]["code"] == "validation_failed"
    assert 'argument "webhookId"' in body["message"]


async def test_unknown_argument_is_400(registry: dict[str, ActionSpec]) -> None:
    register(registry, "deleteWebhook", Recorder({"success": True}))
    status, body = await call(payload("deleteWebhook", {"webhookId": "wh_1", "force": True}))
    assert status == 400
    assert body["extensions"] == {"code": "validation_failed", "argument": "force"}


async def test_json_argument_reaches_the_handler_unchanged(registry: dict[str, ActionSpec]) -> None:
    handler = register(registry, "testWebhook", Recorder(None))
    handler.result = {
        "success": True,
        "webhookId": "wh_1",
        "eventType": "loan.approved",
        "executionTimeMs": 3,
    }
    event = {"id": 7, "amount": "10.50", "tags": ["a", None], "nested": {"ok": True}}
    await call(payload("testWebhook", {"webhookId": "wh_1", "eventData": event}))
    _, arguments = handler.calls[0]
    assert arguments["eventData"] == event


async def test_input_object_argument_is_coerced(registry: dict[str, ActionSpec]) -> None:
    handler = register(registry, "updateWebhook", Recorder(WEBHOOK))
    await call(
        payload(
            "updateWebhook", {"webhookId": "wh_1", "updates": {"httpMethod": "PUT", "timeout": 5}}
        )
    )
    _, arguments = handler.calls[0]
    assert arguments["updates"] == {"httpMethod": "PUT", "timeout": 5}


async def test_list_output_is_returned_bare(registry: dict[str, ActionSpec]) -> None:
    register(
        registry,
        "getWebhookEventTypes",
        Recorder(["loan.approved", "client.created"]),
        kind="query",
    )
    status, body = await call(payload("getWebhookEventTypes"))
    assert (status, body) == (200, ["loan.approved", "client.created"])


async def test_nullable_output_may_be_null(registry: dict[str, ActionSpec]) -> None:
    register(registry, "getWebhook", Recorder(None), kind="query")
    status, body = await call(payload("getWebhook", {"webhookId": "wh_missing"}))
    assert (status, body) == (200, None)


async def test_output_keeps_json_fields_and_enum_names(registry: dict[str, ActionSpec]) -> None:
    register(registry, "getWebhook", Recorder(WEBHOOK), kind="query")
    _, body = await call(payload("getWebhook", {"webhookId": "wh_1"}))
    assert (body["httpMethod"], body["contentType"], body["headers"]) == (
        "POST",
        "application_json",
        {"X-A": "1"},
    )


async def test_undeclared_output_keys_fail_the_call_and_never_reach_the_caller(
    registry: dict[str, ActionSpec],
) -> None:
    register(registry, "getWebhook", Recorder({**WEBHOOK, "secretKey": "leak"}), kind="query")
    status, body = await call(payload("getWebhook", {"webhookId": "wh_1"}))
    assert status == 500
    assert "leak" not in json.dumps(body)


async def test_hub_error_keeps_its_status_and_body(registry: dict[str, ActionSpec]) -> None:
    register(
        registry,
        "deleteWebhook",
        Recorder(error=NotFound("webhook wh_9 not found", details={"webhookId": "wh_9"})),
    )
    status, body = await call(payload("deleteWebhook", {"webhookId": "wh_9"}))
    assert status == 404
    assert body == {
        "message": "webhook wh_9 not found",
        "extensions": {"code": "not_found", "webhookId": "wh_9"},
    }


async def test_unexpected_exception_is_500_without_internals(
    registry: dict[str, ActionSpec], caplog: pytest.LogCaptureFixture
) -> None:
    register(registry, "deleteWebhook", Recorder(error=RuntimeError("password=hunter2 at db:5432")))
    with caplog.at_level(logging.ERROR):
        status, body = await call(payload("deleteWebhook", {"webhookId": "wh_1"}))
    assert (status, body) == (
        500,
        {"message": "internal error", "extensions": {"code": "internal"}},
    )
    assert any(
        record.exc_info and "hunter2" in str(record.exc_info[1]) for record in caplog.records
    )


async def test_output_missing_a_required_field_is_500(registry: dict[str, ActionSpec]) -> None:
    register(registry, "registerWebhook", Recorder({"id": "wh_1"}))
    status, body = await call(
        payload("registerWebhook", {"name": "n", "eventType": "e", "url": "https://x"})
    )
    assert status == 500
    assert body["extensions"]["code"] == "internal"


async def test_session_and_user_reach_the_handler(registry: dict[str, ActionSpec]) -> None:
    handler = register(registry, "deleteWebhook", Recorder({"success": True}))
    body = json.dumps(
        {
            "action": {"name": "deleteWebhook"},
            "input": {"webhookId": "wh_1"},
            "session_variables": {"X-Hasura-Role": "user", "X-Hasura-User-Id": "17"},
        }
    ).encode()
    await call(body)
    ctx, _ = handler.calls[0]
    assert (ctx.role, ctx.user_id, ctx.session_variables["x-hasura-role"]) == ("user", "17", "user")


async def test_body_that_is_not_json_is_400(registry: dict[str, ActionSpec]) -> None:
    status, body = await call(b"{not json")
    assert status == 400
    assert body["extensions"]["code"] == "validation_failed"


async def test_missing_action_name_is_400(registry: dict[str, ActionSpec]) -> None:
    status, _ = await call(json.dumps({"input": {}, "session_variables": {}}).encode())
    assert status == 400


async def test_a_handler_returning_an_undeclared_field_is_an_internal_error(
    registry: dict[str, ActionSpec], caplog: pytest.LogCaptureFixture
) -> None:
    register(registry, "deleteWebhook", Recorder({"success": True, "secretKey": "leak"}))
    status, body = await call(payload("deleteWebhook", {"webhookId": "wh_1"}))
    assert status == 500
    assert body["extensions"]["code"] == "internal"
    assert "secretKey" in caplog.text
