"""Ingest throughput: Fineract Avro records on Kafka → canonical events on our topic.

Baseline in the same run: a bare aiokafka consume → produce copy of the same records between
two topics (no decoding), i.e. what moving the bytes through Kafka costs in Python at all.
Prints both rates and their ratio. Needs the local services (``scripts/services start``).

Usage: .venv/bin/python bench/ingest_throughput.py [--events 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.webhook_throughput import produce  # noqa: E402
from tests.support import services  # noqa: E402
from tests.support.events import client_created, loan_approved  # noqa: E402
from tests.support.worker import Worker, worker_env  # noqa: E402

PARTITIONS = 4


async def _wait_for_records(bootstrap: str, topic: str, count: int, timeout: float) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ends = await consumer.end_offsets(partitions)
            if sum(ends.values()) >= count:
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"{topic} did not reach {count} records")
    finally:
        await consumer.stop()


async def raw_copy(bootstrap: str, records: list[tuple[bytes, bytes]]) -> float:
    source, target = f"bench-src-{uuid.uuid4().hex[:6]}", f"bench-dst-{uuid.uuid4().hex[:6]}"
    await produce(bootstrap, source, records)
    consumer = AIOKafkaConsumer(source, bootstrap_servers=bootstrap, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await consumer.start()
    await producer.start()
    copied = 0
    started = time.perf_counter()
    try:
        while copied < len(records):
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            futures = [await producer.send(target, value=m.value, key=m.key)
                       for messages in batch.values() for m in messages]
            await asyncio.gather(*futures)
            copied += len(futures)
    finally:
        await consumer.stop()
        await producer.stop()
    return len(records) / (time.perf_counter() - started)


async def run(args: argparse.Namespace, bootstrap: str, db_url: str) -> None:
    kinds = {"client": lambda i: client_created(10_000_000 + i)[:2],
             "loan": lambda i: loan_approved(20_000_000 + i)[:2]}
    env = worker_env(kafka_bootstrap=bootstrap, database_url=db_url,
                     avro_schema_dir=services.avro_schema_dir(), HUB_LOG_LEVEL="WARNING",
                     HUB_TOPIC_PARTITIONS=str(PARTITIONS))
    worker = Worker(env, Path(tempfile.mkdtemp(prefix="hub-bench-"))).start()
    try:
        await worker.wait_healthy()
        produced = 0
        for name, make in kinds.items():
            records = [make(i) for i in range(args.events)]
            baseline = await raw_copy(bootstrap, records)
            started = time.perf_counter()
            await produce(bootstrap, worker.topics["fineract"], records)
            produced += len(records)
            await _wait_for_records(bootstrap, worker.topics["events"], produced, 300)
            rate = len(records) / (time.perf_counter() - started)
            size = sum(len(v) for _, v in records) / len(records)
            print(f"{name:6} events ({size:5.0f} B): raw copy {baseline:7.0f}/s, "
                  f"hub ingest {rate:7.0f}/s, ratio {rate / baseline:.2f}")
    finally:
        worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()
    bootstrap = services.kafka_bootstrap()
    services.require_kafka(bootstrap)
    admin = services.postgres_admin_url()
    with services.scratch_database(admin) as db_url:
        asyncio.run(run(args, bootstrap, db_url))


if __name__ == "__main__":
    main()
