"""The management operations on a running worker: rotation, replay, history, stats, limits."""

from __future__ import annotations

import asyncio
import json
import random
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from fineract_hub.delivery.signing import generate_secret
from tests.support.events import client_created, executions, webhook
from tests.support.receiver import Behaviour
from tests.support.services import produce_raw

pytestmark = pytest.mark.integration


def _verify(secret: str, request) -> None:
    StandardWebhook(secret).verify(
        request.body,
        {
            "webhook-id": request.headers["webhook-id"],
            "webhook-timestamp": request.headers["webhook-timestamp"],
            "webhook-signature": request.headers["webhook-signature"],
        },
    )


async def test_rotation_signs_with_both_secrets_during_the_grace_period(worker, receiver):
    async with webhook(worker, eventType="client.created", url=receiver.url("/rot")) as created:
        new_secret = generate_secret()
        rotated = await worker.ok(
            "rotateWebhookSecret",
            {"webhookId": created["id"], "secretKey": new_secret, "graceSeconds": 3600},
        )
        assert rotated["secret"] == new_secret
        assert rotated["previousSecretExpiresAt"]
        await worker.ok("testWebhook", {"webhookId": created["id"]})
        [request] = await receiver.wait_for("/rot", 1)
        assert len(request.headers["webhook-signature"].split(" ")) == 2
        _verify(new_secret, request)
        _verify(created["secret"], request)


async def test_rotation_without_grace_drops_the_old_secret_at_once(worker, receiver):
    async with webhook(worker, eventType="client.created", url=receiver.url("/rot0")) as created:
        rotated = await worker.ok(
            "rotateWebhookSecret", {"webhookId": created["id"], "graceSeconds": 0}
        )
        await worker.ok("testWebhook", {"webhookId": created["id"]})
        [request] = await receiver.wait_for("/rot0", 1)
        _verify(rotated["secret"], request)
        with pytest.raises(Exception):  # noqa: B017 - the library raises its own error type
            _verify(created["secret"], request)


async def test_the_secret_is_never_returned_by_queries(worker, receiver):
    async with webhook(worker, eventType="client.created", url=receiver.url("/s")) as created:
        listed = await worker.ok("getWebhooks", {"limit": 100})
        assert created["secret"] not in json.dumps(listed)
        mine = [w for w in listed["webhooks"] if w["id"] == created["id"]]
        assert mine[0]["hasSecret"] is True


async def test_replaying_an_execution_resends_it_with_the_same_webhook_id(worker, receiver):
    receiver.on("/replay", Behaviour(status=lambda n: 500 if n == 1 else 200))
    async with webhook(worker, eventType="client.created", url=receiver.url("/replay")) as created:
        result = await worker.ok("testWebhook", {"webhookId": created["id"]})
        assert result["success"] is False
        replay = await worker.ok("replayWebhookExecution", {"executionId": result["executionId"]})
        assert replay["count"] == 1
        first, second = await receiver.wait_for("/replay", 2)
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        assert first.body == second.body


async def test_replaying_failed_deliveries_in_a_range_sends_each_again(
    worker, receiver, kafka_bootstrap
):
    receiver.on("/range", Behaviour(status=lambda n: 500 if n <= 3 else 200))
    async with webhook(
        worker, eventType="client.created", url=receiver.url("/range"), retryCount=0
    ) as created:
        since = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
        records = [client_created(random.randint(10**7, 10**8)) for _ in range(3)]
        await produce_raw(
            kafka_bootstrap, worker.topics["fineract"], [(k, v) for k, v, _ in records]
        )
        await receiver.wait_for("/range", 3)
        await executions(worker, created["id"], 3, status="exhausted")
        replay = await worker.ok(
            "replayFailedWebhookDeliveries", {"webhookId": created["id"], "since": since}
        )
        assert replay["count"] == 3
        received = await receiver.wait_for("/range", 6)
        assert {json.loads(r.body)["id"] for r in received[3:]} == {i for _, _, i in records}
        deadline = time.monotonic() + 10
        while True:
            stats = await worker.ok("getWebhookStats", {"webhookId": created["id"]})
            if stats["delivered"] == 3 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert stats["delivered"] == 3
        assert stats["failed"] == 3


async def test_throttled_attempt_waits_for_retry_after(worker, receiver):
    receiver.on(
        "/busy", Behaviour(status=lambda n: 429 if n == 1 else 200, headers={"Retry-After": "3"})
    )
    async with webhook(
        worker, eventType="client.created", url=receiver.url("/busy"), retryCount=3, retryInterval=1
    ) as created:
        records = [client_created(random.randint(10**7, 10**8))]
        await produce_raw(
            worker_bootstrap(worker), worker.topics["fineract"], [(k, v) for k, v, _ in records]
        )
        first, second = await receiver.wait_for("/busy", 2, timeout=20)
        assert second.at - first.at >= 2.9
        history = await executions(worker, created["id"], 2)
        assert sorted(h["status"] for h in history["history"]) == ["retrying", "success"]


def worker_bootstrap(worker) -> str:
    return worker.env["HUB_KAFKA_BOOTSTRAP"]


async def test_history_filters_and_pagination(worker, receiver):
    async with webhook(worker, eventType="client.created", url=receiver.url("/page")) as created:
        for _ in range(3):
            await worker.ok("testWebhook", {"webhookId": created["id"]})
        page = await worker.ok(
            "getWebhookExecutions", {"webhookId": created["id"], "limit": 2, "offset": 0}
        )
        rest = await worker.ok(
            "getWebhookExecutions", {"webhookId": created["id"], "limit": 2, "offset": 2}
        )
        assert page["total"] == 3
        assert len(page["history"]) == 2
        assert len(rest["history"]) == 1
        assert all(h["isTest"] and h["status"] == "success" for h in page["history"])
        none = await worker.ok(
            "getWebhookExecutions", {"webhookId": created["id"], "status": "exhausted"}
        )
        assert none["total"] == 0


async def test_an_oversized_body_is_a_render_error_not_a_crash(worker, receiver):
    async with webhook(worker, eventType="client.created", url=receiver.url("/big")) as created:
        result = await worker.ok(
            "testWebhook", {"webhookId": created["id"], "eventData": {"blob": "x" * 300_000}}
        )
        assert result["success"] is False
        assert "limit" in result["errorMessage"]
        assert receiver.at("/big") == []
        assert (await worker.ok("getWebhook", {"webhookId": created["id"]}))["isActive"]


async def test_update_and_disable_take_effect_for_new_events(worker, receiver, kafka_bootstrap):
    async with webhook(worker, eventType="client.created", url=receiver.url("/v1")) as created:
        await worker.ok(
            "updateWebhook", {"webhookId": created["id"], "updates": {"url": receiver.url("/v2")}}
        )
        await worker.ok("setWebhookActive", {"webhookId": created["id"], "isActive": False})
        key, value, _ = client_created(random.randint(10**7, 10**8))
        await produce_raw(kafka_bootstrap, worker.topics["fineract"], [(key, value)])
        await asyncio.sleep(2)
        assert receiver.at("/v2") == [] and receiver.at("/v1") == []
        await worker.ok("setWebhookActive", {"webhookId": created["id"], "isActive": True})
        key, value, _ = client_created(random.randint(10**7, 10**8))
        await produce_raw(kafka_bootstrap, worker.topics["fineract"], [(key, value)])
        await receiver.wait_for("/v2", 1)
        assert receiver.at("/v1") == []


async def test_metrics_and_health_are_served(worker):
    async with aiohttp.ClientSession() as session:
        async with session.get(worker.base_url + "/metrics") as resp:
            text = await resp.text()
            assert resp.status == 200
        async with session.get(worker.base_url + "/health") as resp:
            health = await resp.json()
            assert resp.status == 200
    for name in (
        "hub_events_ingested_total",
        "hub_webhook_attempts_total",
        "hub_webhook_attempt_seconds",
        "hub_dead_letters_total",
        "hub_webhook_backlog",
    ):
        assert name in text
    assert health["checks"]["kafka"]["ok"] and health["checks"]["database"]["ok"]


async def test_wrong_role_and_wrong_secret_are_refused(worker, receiver):
    status, body = await worker.action(
        "registerWebhook",
        {"name": "x", "eventType": "client.created", "url": receiver.url("/x")},
        role="user",
    )
    assert status == 403 and body["extensions"]["code"] == "forbidden"
    status, body = await worker.action("getWebhooks", {}, secret="wrong-secret-000000000")
    assert status == 401


async def test_a_response_body_with_nul_bytes_is_recorded_and_history_keeps_flowing(
        worker, receiver):
    receiver.on("/nul", Behaviour(body="ok\x00nul"))
    async with webhook(worker, eventType="client.created", url=receiver.url("/nul")) as created:
        first = await worker.ok("testWebhook", {"webhookId": created["id"]})
        second = await worker.ok("testWebhook", {"webhookId": created["id"]})
        assert first["success"] and second["success"]
        history = await executions(worker, created["id"], 2)
        assert history["total"] == 2
        assert "\ufffd" in history["history"][0]["responseBody"]


async def test_users_see_that_headers_exist_but_not_their_values(worker, receiver):
    async with webhook(worker, eventType="client.created", url=receiver.url("/h"),
                       headers={"Authorization": "Bearer receiver-token"}) as created:
        as_user = await worker.ok("getWebhook", {"webhookId": created["id"]}, role="user")
        as_admin = await worker.ok("getWebhook", {"webhookId": created["id"]})
        assert as_user["headers"] == {"Authorization": "[redacted]"}
        assert as_admin["headers"] == {"Authorization": "Bearer receiver-token"}


async def test_history_shows_the_exact_body_sent_on_first_attempts_and_retries(
    worker, receiver, kafka_bootstrap
):
    # The default JSON body is the stored event and is not written twice; the history must
    # still show it, byte for byte, for the inline attempt and for the scheduler's retry.
    receiver.on("/sent", Behaviour(status=lambda n: 500 if n == 1 else 200))
    async with webhook(
        worker, eventType="client.created", url=receiver.url("/sent"),
        retryCount=2, retryInterval=1,
    ) as created:
        key, value, _ = client_created(random.randint(10**7, 10**8))
        await produce_raw(kafka_bootstrap, worker.topics["fineract"], [(key, value)])
        first, second = await receiver.wait_for("/sent", 2)
        found = await executions(worker, created["id"], 2)
        payloads = {h["attempt"]: h["payload"] for h in found["history"]}
        assert payloads == {1: first.body.decode(), 2: second.body.decode()}
