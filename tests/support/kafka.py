"""Reading what the worker wrote to its topics."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from fineract_hub.streams.legacy_backlog import committed_offsets


async def read_topic(
    bootstrap: str,
    topic: str,
    count: int,
    timeout: float = 30.0,
) -> list[tuple[bytes | None, bytes]]:
    """Read at least ``count`` records from the beginning of ``topic`` (all partitions)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    records: list[tuple[bytes | None, bytes]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                records.extend((m.key, m.value) for m in messages)
    finally:
        await consumer.stop()
    if len(records) < count:
        raise AssertionError(f"read {len(records)} of {count} records from {topic} in {timeout}s")
    return records


async def find_json(
    bootstrap: str,
    topic: str,
    wanted: Callable[[dict[str, Any]], bool],
    timeout: float = 30.0,
) -> dict[str, Any]:
    """The first JSON record in ``topic`` that ``wanted`` accepts, whatever else is there (a
    topic shared by a module's tests holds other tests' records, in any partition order)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
        enable_auto_commit=False, group_id=None,
    )
    await consumer.start()
    seen = 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for message in messages:
                    seen += 1
                    record = json.loads(message.value)
                    if wanted(record):
                        return record
    finally:
        await consumer.stop()
    raise AssertionError(f"no wanted record among the {seen} read from {topic} in {timeout}s")


async def read_json(
    bootstrap: str,
    topic: str,
    count: int,
    timeout: float = 30.0,
) -> list[dict[str, Any]]:
    return [json.loads(v) for _, v in await read_topic(bootstrap, topic, count, timeout)]



async def committed_lag(bootstrap: str, group: str, topic: str) -> tuple[int, int]:
    """(records in ``topic``, of those not yet committed by ``group``), over all partitions."""
    committed, partitions = await committed_offsets(bootstrap, group, topic)
    if not partitions:
        raise AssertionError(f"topic {topic} has no partitions")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
    finally:
        await consumer.stop()
    total = sum(ends.values())
    return total, total - sum(committed.get(tp.partition, 0) for tp in ends)
