"""Every example of the seed, run as written against a real worker through both transports.

Each example is read from the seed, made valid GraphQL by ``lift_json_literals`` (quoted-key and
``$``-key object literals become JSON variables; nothing else changes), then sent

* to ``POST /graphql`` as the query, with the lifted values as variables, and
* to ``POST /actions`` in Hasura's action request format, with the root field's arguments as
  ``input``,

and must return the fields the example selects. Examples whose operation the contract does not
declare yet are strict xfails ("capability not implemented yet: <op>"): the day the operation is
added to ``fineract_hub/contract/schema.graphql`` the test runs for real and is red until the
example works, with at most a named substitution here (``PREPARE``) for values the seed leaves
as placeholders.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from fineract_hub.contract.schema import root_fields
from tests.acceptance.conftest import GraphQLClient
from tests.support.receiver import Receiver
from tests.support.seed_examples import (
    SeedExample,
    ValidExample,
    capability_params,
    hasura_input,
    lift_json_literals,
    load_examples,
    missing_fields,
    selection,
    substitute_url,
)
from tests.support.services import FixtureEvent, produce_raw
from tests.support.worker import Worker

pytestmark = pytest.mark.integration

EXAMPLES = load_examples()
TRANSPORTS = ("graphql", "actions")

#: The webhook example's target. The worker under test only reaches loopback
#: (HUB_SSRF_ALLOWLIST=127.0.0.0/8), so it is replaced by a receiver's URL with the same path.
SEED_WEBHOOK_URL = "https://example.com/webhooks/loan-approved"
SEED_WEBHOOK_PATH = "/webhooks/loan-approved"


def schema_type(field: str, argument: str) -> str:
    """The declared type of an argument, so a lifted variable fits a required (``JSON!``) one."""
    declared = root_fields().get(field)
    if declared is not None and argument in declared[1].args:
        return str(declared[1].args[argument].type)
    return "JSON"


@dataclass
class Run:
    """What one example run has at hand: its transport and the shared fixtures."""

    transport: str
    worker: Worker
    graphql: GraphQLClient
    receiver: Receiver
    request: pytest.FixtureRequest

    async def call(self, field: str, example: ValidExample) -> Any:
        """The root field's result through this run's transport; fails on any error."""
        if self.transport == "graphql":
            data = await self.graphql.data(example.query, example.variables)
            return data[field]
        return await self.worker.ok(field, hasura_input(example))


def _prepare_webhook(source: str, run: Run) -> str:
    return substitute_url(source, SEED_WEBHOOK_URL, run.receiver.url(SEED_WEBHOOK_PATH))


async def _webhook_registered(example: ValidExample, result: dict[str, Any], run: Run) -> None:
    """The registration is listed as documented, and the seed template reaches the receiver.

    The webhook is deleted afterwards: names are unique per event type, and the next transport
    registers the very same example.
    """
    assert result["id"]
    try:
        await _check_webhook(example, result, run)
    finally:
        await run.worker.ok("deleteWebhook", {"webhookId": result["id"]})


async def _check_webhook(example: ValidExample, result: dict[str, Any], run: Run) -> None:
    if run.transport == "actions":  # Hasura receives every field; the secret is ours to add
        assert isinstance(result["secret"], str) and result["secret"]

    listed = await run.call(
        "getWebhooks",
        lift_json_literals(
            'query { getWebhooks(eventType: "loan.approved", limit: 100)'
            " { total webhooks { id name url httpMethod contentType headers payloadTemplate } } }"
        ),
    )
    [mine] = [w for w in listed["webhooks"] if w["id"] == result["id"]]
    arguments = hasura_input(example)
    assert mine["httpMethod"] == "POST"
    assert mine["contentType"] == "application_json"
    assert mine["name"] == "Loan Approval Notification"
    assert mine["url"] == run.receiver.url(SEED_WEBHOOK_PATH)
    assert mine["headers"] == {
        "Authorization": "Bearer your-token",
        "X-Custom-Header": "custom-value",
    }
    assert mine["payloadTemplate"] == arguments["payloadTemplate"]

    fixture: FixtureEvent = run.request.getfixturevalue("fineract_fixtures")["loan_approved"]
    bootstrap: str = run.request.getfixturevalue("kafka_bootstrap")
    # The same Fineract event for each transport: every new webhook gets its own delivery.
    await produce_raw(bootstrap, run.worker.topics["fineract"], [(fixture.key, fixture.value)])
    [received] = await run.receiver.wait_for(SEED_WEBHOOK_PATH, 1)

    created_at = fixture.manifest["createdAt"]
    timestamp = created_at if created_at.endswith("Z") else created_at + "Z"
    rendered = (
        arguments["payloadTemplate"]
        .replace("{{type}}", "loan.approved")
        .replace("{{data.id}}", "42")
        .replace("{{data.clientId}}", "7")
        .replace("{{data.approvedPrincipal}}", "1000.50000000")
        .replace("{{timestamp}}", timestamp)
    )
    assert received.body.decode() == rendered
    assert json.loads(received.body) == {
        "event": "loan.approved",
        "loanId": "42",
        "clientId": "7",
        "approvedAmount": "1000.50000000",
        "timestamp": timestamp,
    }
    headers = {k.lower(): v for k, v in received.headers.items()}
    assert received.method == "POST"
    assert headers["content-type"] == "application/json"
    assert headers["authorization"] == "Bearer your-token"
    assert headers["x-custom-header"] == "custom-value"
    if run.transport == "actions":
        StandardWebhook(result["secret"]).verify(
            received.body,
            {k: headers[k] for k in ("webhook-id", "webhook-timestamp", "webhook-signature")},
        )


#: Per operation: a named substitution of the example's text before it runs (placeholders the
#: test environment cannot honour), and a check after it returned. Add one when a capability
#: lands and its example needs it (e.g. generateToken needs a registered client's credentials).
PREPARE: dict[str, Callable[[str, Run], str]] = {"registerWebhook": _prepare_webhook}
CHECK: dict[str, Callable[[ValidExample, Any, Run], Awaitable[None]]] = {
    "registerWebhook": _webhook_registered
}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("example", capability_params(EXAMPLES, frozenset(root_fields())))
async def test_seed_example(
    example: SeedExample,
    transport: str,
    worker: Worker,
    graphql: GraphQLClient,
    receiver: Receiver,
    request: pytest.FixtureRequest,
) -> None:
    run = Run(transport, worker, graphql, receiver, request)
    source = example.source
    if example.root_field in PREPARE:
        source = PREPARE[example.root_field](source, run)
    valid = lift_json_literals(source, schema_type)
    wanted = selection(valid)

    if transport == "graphql":
        status, body = await graphql.post(
            valid.query, valid.variables, operation_name=example.operation_name
        )
        assert status == 200 and "errors" not in body, (str(example), body)
        result = body["data"][example.root_field]
        assert isinstance(result, dict) and set(result) == set(wanted), result
    else:
        status, result = await worker.action(example.root_field, hasura_input(valid))
        assert status == 200, (str(example), status, result)
    assert missing_fields(result, wanted) == [], (str(example), result)

    if example.root_field in CHECK:
        await CHECK[example.root_field](valid, result, run)
