"""Crashes, restarts and scale-out: every accepted event still reaches the receiver."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support.events import client_created
from tests.support.kafka import committed_lag
from tests.support.receiver import Behaviour
from tests.support.services import produce_raw
from tests.support.tcp_proxy import TcpProxy
from tests.support.worker import Worker, worker_env

pytestmark = pytest.mark.integration


@pytest.fixture
def own_env(kafka_bootstrap, fresh_database_url, avro_schema_dir):
    # Each test here gets its own app id and topics (and kills its own workers).
    return worker_env(
        kafka_bootstrap=kafka_bootstrap,
        database_url=fresh_database_url,
        avro_schema_dir=avro_schema_dir,
        HUB_DELIVERY_LEASE_SECONDS="40",
        HUB_WEBHOOK_MAX_TIMEOUT="10",
        HUB_WEBHOOK_DEFAULT_TIMEOUT="5",
    )


def _events(n: int) -> list[tuple[bytes, bytes, str]]:
    base = random.randint(10_000_000, 20_000_000)
    return [client_created(base + i) for i in range(n)]


async def _feed(bootstrap: str, worker: Worker, events: list[tuple[bytes, bytes, str]]) -> None:
    """Put ``events`` on the worker's Fineract topic, as Fineract would."""
    await produce_raw(bootstrap, worker.topics["fineract"], [(k, v) for k, v, _ in events])


async def _successes(worker: Worker) -> int:
    import aiohttp

    async with (
        aiohttp.ClientSession() as session,
        session.get(worker.base_url + "/metrics") as resp,
    ):
        text = await resp.text()
    for line in text.splitlines():
        if line.startswith('hub_webhook_attempts_total{status="success"}'):
            return int(float(line.split()[-1]))
    return 0


async def _received_ids(receiver, path: str) -> set[str]:
    return {json.loads(r.body)["id"] for r in receiver.at(path)}


async def _missing_after(receiver, path: str, expected: set[str], timeout: float) -> set[str]:
    """Event ids still not received at ``path`` once all came or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not expected <= await _received_ids(receiver, path):
        await asyncio.sleep(0.5)
    return expected - await _received_ids(receiver, path)


async def test_kill_9_under_load_loses_no_event(own_env, receiver, kafka_bootstrap, tmp_path):
    first = Worker(own_env, tmp_path / "a").start()
    try:
        await first.wait_healthy()
        await first.ok(
            "registerWebhook",
            {"name": "crash", "eventType": "client.created", "url": receiver.url("/crash")},
        )
        receiver.on("/crash", Behaviour(delay=0.01))
        events = _events(600)
        await _feed(kafka_bootstrap, first, events)
        await receiver.wait_for("/crash", 50, timeout=30)
    finally:
        first.kill(signal.SIGKILL)
    delivered_before_crash = len(receiver.at("/crash"))
    second = Worker(own_env, tmp_path / "b").start()
    try:
        await second.wait_healthy()
        expected = {idem for _, _, idem in events}
        missing = await _missing_after(receiver, "/crash", expected, 90)
        if missing and second.proc is not None:
            second.proc.send_signal(signal.SIGUSR2)  # the worker logs its tasks and offsets
            await asyncio.sleep(1.0)
        assert not missing, (
            f"{len(missing)} events lost after kill -9 "
            f"({delivered_before_crash} delivered before the crash)\n" + second.log_tail(400)
        )
        # Redelivered duplicates carry the same webhook-id, so receivers can drop them.
        by_event: dict[str, set[str]] = {}
        for request in receiver.at("/crash"):
            by_event.setdefault(json.loads(request.body)["id"], set()).add(
                request.headers["webhook-id"]
            )
        assert all(len(ids) == 1 for ids in by_event.values())
    finally:
        second.stop()


async def test_delivered_events_are_committed_including_the_last_batch(
    own_env, receiver, kafka_bootstrap, tmp_path
):
    # A batch's sinks run while the next batch is decoded and its records are acked only after
    # them: the last batch of a burst, with no batch after it, must be committed all the same.
    worker = Worker(own_env, tmp_path).start()
    try:
        await worker.wait_healthy()
        await worker.ok("registerWebhook", {"name": "commits", "eventType": "client.created",
                                            "url": receiver.url("/commits")})
        events = _events(1200)
        await _feed(kafka_bootstrap, worker, events)
        await receiver.wait_for("/commits", len(events), timeout=60)
        deadline = time.monotonic() + 20  # Faust commits every few seconds
        while True:
            total, lag = await committed_lag(kafka_bootstrap, own_env["HUB_APP_ID"],
                                             worker.topics["fineract"])
            if lag == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)
        assert total >= len(events)
        assert lag == 0, f"{lag} of {total} records delivered but not committed"
    finally:
        worker.kill(signal.SIGTERM)


async def test_retry_due_while_the_worker_was_down_fires_after_restart(
    own_env, receiver, kafka_bootstrap, tmp_path
):
    receiver.on("/later", Behaviour(status=lambda n: 503 if n == 1 else 200))
    first = Worker(own_env, tmp_path / "a").start()
    try:
        await first.wait_healthy()
        await first.ok(
            "registerWebhook",
            {
                "name": "later",
                "eventType": "client.created",
                "url": receiver.url("/later"),
                "retryCount": 2,
                "retryInterval": 3,
            },
        )
        events = _events(1)
        await _feed(kafka_bootstrap, first, events)
        await receiver.wait_for("/later", 1, timeout=30)
    finally:
        first.stop()
    await asyncio.sleep(4)  # the retry becomes due while no worker runs
    second = Worker(own_env, tmp_path / "b").start()
    try:
        await second.wait_healthy()
        # Either the stopping worker recorded the retry (due in ~3 s) or its in-flight attempt
        # is picked up when its lease (40 s here) expires: both end in the second attempt.
        [_, retried] = await receiver.wait_for("/later", 2, timeout=60)
        assert json.loads(retried.body)["id"] == events[0][2]
    finally:
        second.stop()


async def test_two_workers_share_the_load_without_losing_or_doubling(
    own_env, receiver, kafka_bootstrap, tmp_path
):
    from tests.support.worker import free_port

    one = Worker(own_env, tmp_path / "one").start()
    two = Worker({**own_env, "HUB_WEB_PORT": str(free_port())}, tmp_path / "two").start()
    try:
        await asyncio.gather(one.wait_healthy(), two.wait_healthy())
        await one.ok(
            "registerWebhook",
            {"name": "shared", "eventType": "client.created", "url": receiver.url("/shared")},
        )
        await asyncio.sleep(2)  # the registration reaches the other worker's table
        events = _events(400)
        await _feed(kafka_bootstrap, one, events)
        await receiver.wait_for("/shared", 400, timeout=60)
        await asyncio.sleep(2)
        ids = [json.loads(r.body)["id"] for r in receiver.at("/shared")]
        assert set(ids) == {idem for _, _, idem in events}
        assert len(ids) == len(set(ids)), "no duplicates without a crash"
        sent = [await _successes(worker) for worker in (one, two)]
        assert sum(sent) == 400
        assert all(count > 0 for count in sent), f"one worker did all the work: {sent}"
    finally:
        one.stop()
        two.stop()


async def test_an_endpoint_failing_past_the_window_is_disabled_and_announced(
    kafka_bootstrap, fresh_database_url, avro_schema_dir, receiver, tmp_path
):
    from tests.support.kafka import read_json

    env = worker_env(
        kafka_bootstrap=kafka_bootstrap,
        database_url=fresh_database_url,
        avro_schema_dir=avro_schema_dir,
        HUB_WEBHOOK_DISABLE_AFTER_SECONDS="2",
    )
    receiver.on("/down", Behaviour(status=500))
    worker = Worker(env, tmp_path).start()
    try:
        await worker.wait_healthy()
        created = await worker.ok(
            "registerWebhook",
            {
                "name": "down",
                "eventType": "client.created",
                "url": receiver.url("/down"),
                "retryCount": 20,
                "retryInterval": 1,
            },
        )
        events = _events(1)
        await _feed(kafka_bootstrap, worker, events)
        deadline = time.monotonic() + 30
        config = {}
        while time.monotonic() < deadline:
            config = await worker.ok("getWebhook", {"webhookId": created["id"]})
            if not config["isActive"]:
                break
            await asyncio.sleep(0.5)
        assert config["isActive"] is False
        assert "failed continuously" in config["disabledReason"]
        operational = await read_json(kafka_bootstrap, worker.topics["operational"], 1)
        assert operational[0]["type"] == "webhook.endpoint.disabled"
        assert operational[0]["webhookId"] == created["id"]
        history = await worker.ok("getWebhookExecutions", {"webhookId": created["id"]})
        assert history["total"] >= 2  # it kept retrying until the window closed
    finally:
        worker.stop()


def test_a_lease_shorter_than_the_http_timeout_refuses_to_start(own_env, tmp_path):
    import subprocess
    import sys

    env = {**own_env, "HUB_DELIVERY_LEASE_SECONDS": "10", "HUB_WEBHOOK_MAX_TIMEOUT": "30"}
    done = subprocess.run(
        [sys.executable, "-m", "fineract_hub", "worker"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "HUB_DELIVERY_LEASE_SECONDS" in done.stderr
    assert "delivered twice" in done.stderr


async def test_delivery_resumes_after_the_kafka_broker_restarts(
    own_env, receiver, kafka_bootstrap, tmp_path
):
    import subprocess

    from tests.support.worker import REPO

    worker = Worker(own_env, tmp_path).start()
    try:
        await worker.wait_healthy()
        await worker.ok(
            "registerWebhook",
            {"name": "restart", "eventType": "client.created", "url": receiver.url("/restart")},
        )
        before = _events(1)
        await _feed(kafka_bootstrap, worker, before)
        await receiver.wait_for("/restart", 1)
        services = str(REPO / "scripts" / "services")
        subprocess.run([services, "stop", "kafka"], check=True, timeout=120)
        await asyncio.sleep(3)
        subprocess.run([services, "start", "kafka"], check=True, timeout=180)
        after = _events(5)
        await _feed(kafka_bootstrap, worker, after)
        await receiver.wait_for("/restart", 6, timeout=90)
        assert {idem for _, _, idem in after} <= await _received_ids(receiver, "/restart")
        assert worker.proc is not None and worker.proc.poll() is None
    finally:
        worker.stop()


async def test_a_stop_while_postgres_is_down_loses_no_event(
    kafka_bootstrap, fresh_database_url, avro_schema_dir, receiver, tmp_path
):
    # Ingest waits for PostgreSQL inside a batch. A stop (SIGTERM) then waits for that batch,
    # and an orchestrator kills the worker after its grace period: the batch must not have
    # been committed, so the next worker reads it again.
    parts = urlsplit(fresh_database_url)
    proxy = await TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
    via_proxy = urlunsplit(parts._replace(
        netloc=f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}"))
    env = worker_env(kafka_bootstrap=kafka_bootstrap, database_url=via_proxy,
                     avro_schema_dir=avro_schema_dir, HUB_KAFKA_SESSION_TIMEOUT_SECONDS="6")
    first = Worker(env, tmp_path / "a").start()
    try:
        await first.wait_healthy()
        await first.ok("registerWebhook", {"name": "outage", "eventType": "client.created",
                                           "url": receiver.url("/outage")})
        warm = _events(1)
        await _feed(kafka_bootstrap, first, warm)
        await receiver.wait_for("/outage", 1)
        await asyncio.sleep(4)  # past Faust's commit interval: the warm-up is committed
        await proxy.cut()
        during = _events(20)
        await _feed(kafka_bootstrap, first, during)
        await asyncio.sleep(4)  # ingest has the batch and is waiting for the database
    finally:
        first.kill(signal.SIGTERM, grace=10)
    await proxy.start()
    second = Worker(env, tmp_path / "b").start()
    try:
        await second.wait_healthy()
        expected = {idem for _, _, idem in during}
        missing = await _missing_after(receiver, "/outage", expected, 60)
        assert not missing, f"{len(missing)} of {len(expected)} events lost\n" + first.log_tail(80)
    finally:
        second.stop()
