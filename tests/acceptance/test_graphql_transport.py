"""The two transports' edges around the seed's webhook example: keys, roles, secret, explorer."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from tests.acceptance.conftest import USER_KEY, GraphQLClient
from tests.support.receiver import Receiver
from tests.support.seed_examples import (
    hasura_input,
    lift_json_literals,
    load_examples,
    substitute_url,
)
from tests.support.worker import ACTION_SECRET, Worker

pytestmark = pytest.mark.integration

SEED_WEBHOOK_URL = "https://example.com/webhooks/loan-approved"
WEBHOOK = next(e for e in load_examples() if e.root_field == "registerWebhook")


def _resolves(host: str) -> bool:
    try:
        return bool(socket.getaddrinfo(host, 443))
    except OSError:
        return False


async def test_json_argument_as_a_valid_graphql_literal_works_too(
    graphql: GraphQLClient, receiver: Receiver
):
    data = await graphql.data(
        'mutation { registerWebhook(name: "literal headers", eventType: "loan.approved",'
        f' url: "{receiver.url("/literal")}", headers: {{Authorization: "Bearer x"}})'
        " { id secret } }"
    )
    registered = data["registerWebhook"]
    assert registered["id"] and registered["secret"]
    got = await graphql.data(
        "query ($id: String!) { getWebhook(webhookId: $id) { headers httpMethod contentType } }",
        {"id": registered["id"]},
    )
    assert got["getWebhook"] == {
        "headers": {"Authorization": "Bearer x"},
        "httpMethod": "POST",
        "contentType": "application_json",
    }


async def test_graphql_caller_may_select_the_secret_we_add(
    graphql: GraphQLClient, receiver: Receiver
):
    source = substitute_url(WEBHOOK.source, SEED_WEBHOOK_URL, receiver.url("/secret"))
    valid = lift_json_literals(source.replace("    id\n", "    id\n    secret\n"))
    data = await graphql.data(
        valid.query.replace('"Loan Approval Notification"', '"secret selection"'),
        valid.variables,
    )
    assert set(data["registerWebhook"]) == {"id", "secret"}
    assert data["registerWebhook"]["secret"]


async def test_role_user_may_list_but_not_register(
    worker: Worker, graphql: GraphQLClient, receiver: Receiver
):
    source = substitute_url(WEBHOOK.source, SEED_WEBHOOK_URL, receiver.url("/user"))
    valid = lift_json_literals(source)

    status, body = await worker.action("registerWebhook", hasura_input(valid), role="user")
    assert status == 403 and body["extensions"]["code"] == "forbidden", body
    status, body = await graphql.post(valid.query, valid.variables, key=USER_KEY)
    assert status == 200
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "forbidden"
    assert error["path"] == ["registerWebhook"]

    listed = await worker.ok("getWebhooks", {}, role="user")
    assert "webhooks" in listed and "total" in listed
    data = await graphql.data("{ getWebhooks { total webhooks { id } } }", key=USER_KEY)
    assert data["getWebhooks"]["total"] == listed["total"]


async def test_anonymous_and_unknown_keys_on_graphql(graphql: GraphQLClient):
    status, body = await graphql.post("{ getWebhooks { total } }", key=None)
    assert status == 401 and body["errors"][0]["extensions"]["code"] == "unauthenticated", body
    status, body = await graphql.post("{ getWebhooks { total } }", key="not-a-known-key-000000")
    assert status == 401 and body["errors"][0]["extensions"]["code"] == "unauthenticated", body


@pytest.mark.parametrize("secret", [None, "wrong-secret", ""], ids=["missing", "wrong", "empty"])
async def test_actions_without_the_shared_secret_are_401(worker: Worker, secret: str | None):
    payload = {
        "action": {"name": "getWebhooks"},
        "input": {},
        "session_variables": {"x-hasura-role": "admin"},
    }
    headers = {} if secret is None else {"x-hub-action-secret": secret}
    async with (
        aiohttp.ClientSession() as session,
        session.post(worker.base_url + "/actions", json=payload, headers=headers) as resp,
    ):
        body = await resp.json()
        assert resp.status == 401, body
    assert body["extensions"]["code"] == "unauthenticated"
    # The same request with the secret works: the secret was the only problem.
    status, _ = await worker.action("getWebhooks", {}, secret=ACTION_SECRET)
    assert status == 200


async def test_the_explorer_page(worker: Worker):
    async with (
        aiohttp.ClientSession() as session,
        session.get(worker.base_url + "/graphql") as resp,
    ):
        text = await resp.text()
        assert resp.status == 200
        assert resp.content_type == "text/html"
    assert "<html" in text.lower()
    assert "/graphql" in text


async def test_the_seed_url_unchanged(worker: Worker, graphql: GraphQLClient):
    """What the seed's own URL does here: refused unless example.com resolves.

    Registration checks the host against the SSRF policy, which needs its addresses; a host that
    does not resolve (as in an offline sandbox) is refused with a reason, never stored blindly.
    """
    valid = lift_json_literals(WEBHOOK.source)
    status, body = await graphql.post(
        valid.query.replace('"Loan Approval Notification"', '"seed url as written"'),
        valid.variables,
    )
    assert status == 200
    if _resolves("example.com"):
        assert "errors" not in body, body
        await worker.ok("deleteWebhook", {"webhookId": body["data"]["registerWebhook"]["id"]})
    else:
        [error] = body["errors"]
        assert error["extensions"]["code"] == "validation_failed", error
        assert "'example.com' could not be resolved" in error["message"]
        status, action_body = await worker.action("registerWebhook", hasura_input(valid))
        assert status == 400, action_body
        assert action_body["extensions"]["code"] == "validation_failed"
        assert "'example.com' could not be resolved" in action_body["message"]
