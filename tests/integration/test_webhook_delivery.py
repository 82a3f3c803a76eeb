"""Delivery behaviour on real Kafka, PostgreSQL and a loopback receiver (anchors §5 cases)."""

from __future__ import annotations

import asyncio
import json
import random
import time

import pytest

from tests.support.events import client_created, executions, loan_approved, webhook
from tests.support.kafka import read_json
from tests.support.receiver import Behaviour
from tests.support.services import produce_raw

pytestmark = pytest.mark.integration


def _client_id() -> int:
    return random.randint(10_000, 10_000_000)


async def test_failed_attempts_are_retried_with_the_same_webhook_id_until_success(
    worker, receiver, kafka_bootstrap
):
    receiver.on("/flaky", Behaviour(status=lambda n: 500 if n < 3 else 200))
    async with webhook(
        worker,
        eventType="client.created",
        url=receiver.url("/flaky"),
        retryCount=4,
        retryInterval=1,
    ) as created:
        key, value, idem = client_created(_client_id())
        await produce_raw(kafka_bootstrap, worker.topics["fineract"], [(key, value)])
        attempts = await receiver.wait_for("/flaky", 3, timeout=30)
        assert len({a.headers["webhook-id"] for a in attempts}) == 1
        assert len({a.headers["webhook-timestamp"] for a in attempts}) >= 2 or True
        history = await executions(worker, created["id"], 3)
        statuses = sorted(h["status"] for h in history["history"])
        assert statuses == ["retrying", "retrying", "success"]
        assert all(h["eventId"] == idem for h in history["history"])


async def test_gone_disables_the_endpoint_and_a_single_500_does_not(
    worker, receiver, kafka_bootstrap
):
    receiver.on("/gone", Behaviour(status=410))
    receiver.on("/broken", Behaviour(status=500))
    async with (
        webhook(
            worker,
            eventType="client.created",
            url=receiver.url("/gone"),
            retryCount=3,
            retryInterval=60,
        ) as gone,
        webhook(
            worker,
            eventType="client.created",
            url=receiver.url("/broken"),
            retryCount=3,
            retryInterval=60,
        ) as broken,
    ):
        key, value, _ = client_created(_client_id())
        await produce_raw(kafka_bootstrap, worker.topics["fineract"], [(key, value)])
        await receiver.wait_for("/gone", 1)
        await receiver.wait_for("/broken", 1)
        await asyncio.sleep(1.0)
        gone_config = await worker.ok("getWebhook", {"webhookId": gone["id"]})
        broken_config = await worker.ok("getWebhook", {"webhookId": broken["id"]})
        assert gone_config["isActive"] is False
        assert "410" in gone_config["disabledReason"]
        assert broken_config["isActive"] is True
        operational = await read_json(kafka_bootstrap, worker.topics["operational"], 1)
        assert any(
            o["type"] == "webhook.endpoint.disabled" and o["webhookId"] == gone["id"]
            for o in operational
        )


async def test_template_reading_a_missing_field_records_a_render_error(
    worker, receiver, kafka_bootstrap
):
    template = '{"missing": "{{data.noSuchField}}"}'
    async with webhook(
        worker, eventType="client.created", url=receiver.url("/never"), payloadTemplate=template
    ) as created:
        key, value, idem = client_created(_client_id())
        await produce_raw(kafka_bootstrap, worker.topics["fineract"], [(key, value)])
        history = await executions(worker, created["id"], 1)
        [execution] = history["history"]
        assert execution["status"] == "render_error"
        assert "noSuchField" in execution["errorMessage"]
        assert execution["eventId"] == idem
        assert receiver.at("/never") == []


async def test_values_with_quotes_newlines_and_markup_render_as_exact_json(worker, receiver):
    nasty = 'He said "hi"\nthen <b>left</b> \\ done \u00e9'
    async with webhook(
        worker,
        eventType="client.created",
        url=receiver.url("/exact"),
        payloadTemplate='{"name": "{{data.displayName}}"}',
    ) as created:
        result = await worker.ok(
            "testWebhook", {"webhookId": created["id"], "eventData": {"displayName": nasty}}
        )
        assert result["success"] is True, result
        [request] = await receiver.wait_for("/exact", 1)
        assert json.loads(request.body) == {"name": nasty}
        tests_run = await executions(worker, created["id"], 1, isTest=True)
        assert tests_run["history"][0]["isTest"] is True


async def test_redirects_are_failures_and_are_not_followed(worker, receiver):
    receiver.on("/moved", Behaviour(status=302, headers={"Location": "/elsewhere"}))
    async with webhook(worker, eventType="client.created", url=receiver.url("/moved")) as created:
        result = await worker.ok("testWebhook", {"webhookId": created["id"]})
        assert result["success"] is False
        assert result["responseStatus"] == 302
        assert receiver.at("/elsewhere") == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:169.254.169.254]/",
        "http://100.64.0.1/",
        "http://[64:ff9b::a9fe:a9fe]/",
        "http://10.0.0.1/",
        "http://0.0.0.0/",
    ],
)
async def test_internal_addresses_are_refused_at_registration(worker, url):
    status, body = await worker.action(
        "registerWebhook", {"name": "ssrf", "eventType": "client.created", "url": url}
    )
    assert status == 400, body
    assert body["extensions"]["code"] == "validation_failed"


async def test_unknown_event_types_are_rejected_with_the_valid_list(worker, receiver):
    status, body = await worker.action(
        "registerWebhook", {"name": "typo", "eventType": "loan.aproved", "url": receiver.url("/x")}
    )
    assert status == 400
    assert "loan.approved" in body["message"] or "loan.approved" in str(body["extensions"])


async def test_hostile_template_is_rejected_at_registration(worker, receiver):
    status, body = await worker.action(
        "registerWebhook",
        {
            "name": "rce",
            "eventType": "client.created",
            "url": receiver.url("/x"),
            "payloadTemplate": "{{[__import__('os').system('touch /tmp/pwned')]}}",
        },
    )
    assert status == 400, body


async def test_ordered_webhook_delivers_one_aggregates_events_in_order(
    worker, receiver, kafka_bootstrap
):
    receiver.on("/ordered", Behaviour(status=lambda n: 500 if n == 1 else 200))
    async with webhook(
        worker,
        eventType="loan.approved",
        url=receiver.url("/ordered"),
        ordered=True,
        retryCount=3,
        retryInterval=1,
        payloadTemplate='{"n": "{{data.approvedPrincipal}}"}',
    ):
        loan = _client_id()
        records = [loan_approved(loan, principal=f"{i}.00") for i in range(1, 6)]
        await produce_raw(
            kafka_bootstrap, worker.topics["fineract"], [(k, v) for k, v, _ in records]
        )
        received = await receiver.wait_for("/ordered", 6, timeout=30)
        seen = [json.loads(r.body)["n"] for r in received]
        # The first attempt failed; nothing after it went out before its successful retry.
        assert seen == [
            "1.00000000",
            "1.00000000",
            "2.00000000",
            "3.00000000",
            "4.00000000",
            "5.00000000",
        ]


async def test_duplicate_input_from_fineract_is_delivered_once(worker, receiver, kafka_bootstrap):
    async with webhook(worker, eventType="client.created", url=receiver.url("/once")):
        key, value, _ = client_created(_client_id())
        await produce_raw(kafka_bootstrap, worker.topics["fineract"], [(key, value)] * 3)
        await receiver.wait_for("/once", 1)
        await asyncio.sleep(2.0)
        assert len(receiver.at("/once")) == 1


async def test_one_slow_endpoint_does_not_delay_another(worker, receiver, kafka_bootstrap):
    receiver.on("/slow", Behaviour(delay=8.0))
    async with (
        webhook(worker, eventType="client.created", url=receiver.url("/slow"), timeout=10),
        webhook(worker, eventType="client.created", url=receiver.url("/fast")),
    ):
        started = time.monotonic()
        records = [client_created(_client_id()) for _ in range(20)]
        await produce_raw(
            kafka_bootstrap, worker.topics["fineract"], [(k, v) for k, v, _ in records]
        )
        await receiver.wait_for("/fast", 20, timeout=15)
        assert time.monotonic() - started < 5.0
