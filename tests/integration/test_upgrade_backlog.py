"""Upgrading from the two-agent version: events it left on the canonical topic, acked at the
source but not yet fanned out when it stopped, are fanned out once by the new version."""

from __future__ import annotations

import asyncio
import json
import random

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from fineract_hub.models.events import CanonicalEvent
from tests.support.kafka import find_json
from tests.support.services import fetchval, produce_raw
from tests.support.worker import Worker, worker_env

pytestmark = pytest.mark.integration


def _canonical(client_id: int) -> CanonicalEvent:
    return CanonicalEvent(
        id=f"legacy-{client_id}", type="client.created",
        fineract_type="ClientCreateBusinessEvent", category="Client", tenant="default",
        created_at="2026-12-01T00:00:00.000000Z", business_date="2026-12-01",
        aggregate_id=client_id, data={"id": client_id, "displayName": "Ada"},
    )


async def _commit(bootstrap: str, group: str, topic: str, offset: int) -> None:
    """What the old fan-out agent had committed when it stopped (the group is empty now)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.commit({TopicPartition(topic, 0): offset})
    finally:
        await consumer.stop()


async def _marker(database_url: str) -> dict | None:
    detail = await fetchval(
        database_url, "SELECT detail FROM hub_markers WHERE name = 'canonical-topic-backlog'")
    return json.loads(detail) if isinstance(detail, str) else detail


async def test_the_canonical_backlog_of_an_earlier_version_is_fanned_out_once(
    kafka_bootstrap, fresh_database_url, avro_schema_dir, receiver, tmp_path
):
    env = worker_env(kafka_bootstrap=kafka_bootstrap, database_url=fresh_database_url,
                     avro_schema_dir=avro_schema_dir)
    topic = env["HUB_EVENTS_TOPIC"]
    worker = Worker(env, tmp_path / "w").start()
    await worker.wait_healthy()
    await worker.ok("registerWebhook",
                    {"name": "all", "eventType": "*", "url": receiver.url("/up")})
    worker.stop()

    # The old version's state: ten events in partition 0, the first four fanned out
    # (committed), one record in the gap that is not a canonical event; two events in
    # partition 1, where the old agent never committed anything.
    base = random.randint(10_000_000, 20_000_000)
    events = [_canonical(base + i) for i in range(10)]
    sent = await produce_raw(kafka_bootstrap, topic,
                             [(b"k", e.to_json()) for e in events[:7]] + [(b"k", b"junk")]
                             + [(b"k", e.to_json()) for e in events[7:]], partition=0)
    first = sent[0].offset
    uncommitted = [_canonical(base + 100 + i) for i in range(2)]
    await produce_raw(kafka_bootstrap, topic, [(b"k", e.to_json()) for e in uncommitted],
                      partition=1)
    await _commit(kafka_bootstrap, env["HUB_APP_ID"], topic, first + 4)

    worker = Worker(env, tmp_path / "w").start()
    try:
        await worker.wait_healthy()
        backlog = events[4:] + uncommitted
        received = await receiver.wait_for("/up", len(backlog))
        assert sorted(json.loads(r.body)["id"] for r in received) == sorted(
            e.id for e in backlog)
        letter = await find_json(kafka_bootstrap, env["HUB_DEAD_LETTER_TOPIC"],
                                 lambda letter: letter["code"] == "not_canonical")
        assert "not a canonical event" in letter["reason"]
        marker = await _marker(fresh_database_url)
        assert marker is not None and marker["read"] == len(backlog)
    finally:
        worker.stop()

    worker = Worker(env, tmp_path / "w").start()  # started again: the backlog is not re-read
    try:
        await worker.wait_healthy()
        await asyncio.sleep(3)
        assert len(receiver.at("/up")) == len(backlog)
    finally:
        worker.stop()
