"""Events an earlier version left on the canonical topic, fanned out once after an upgrade.

Before fan-out ran inline in the ingest agent (``streams/sinks.py``), a second agent consumed the
canonical topic, and ingest acked Fineract's records as soon as they were on that topic. A worker
of that version stopped while its fan-out lagged (PostgreSQL slow or down) left events that were
acked at the source but had no deliveries yet. This version does not consume the canonical
topic, so before ingest starts it reads that gap once: from the offsets the old fan-out agent
committed in the worker's consumer group up to the end, through the same sinks. Deliveries that
already exist are skipped by their ids, so reading a little too much costs nothing but time.

One worker reads it (a PostgreSQL advisory lock); the others wait, because an ordered webhook
must get an aggregate's old events before its new ones. A marker row says it is done, so later
starts only look it up. No committed offsets for the canonical topic means no earlier version
fanned out here: nothing to do, and nothing is marked (the check is one admin request).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from fineract_hub.models.events import CanonicalEvent

log = logging.getLogger(__name__)

MARKER = "canonical-topic-backlog"
BATCH = 500
LOCK_WAIT_SECONDS = 6 * 3600.0
_LOCK = 0x46494E4C  # advisory lock id ("FINL"), distinct from the migrations' lock


async def committed_offsets(
    bootstrap: str, group: str, topic: str
) -> tuple[dict[int, int], set[int]]:
    """Offsets the group has committed on ``topic`` by partition, and the topic's partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=15000)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    committed = {
        tp.partition: meta.offset
        for tp, meta in offsets.items()
        if tp.topic == topic and meta.offset >= 0
    }
    partitions = {
        p["partition"]
        for t in described
        if t.get("topic") == topic and not t.get("error_code")
        for p in t.get("partitions", [])
    }
    return committed, partitions


class LegacyBacklog:
    def __init__(
        self,
        pool: asyncpg.Pool,
        bootstrap: str,
        group: str,
        topic: str,
        handle: Callable[[Sequence[CanonicalEvent]], Awaitable[None]],
        refuse: Callable[[str, bytes | None, bytes | None, dict[str, Any]], Awaitable[None]],
    ) -> None:
        self.pool = pool
        self.bootstrap = bootstrap
        self.group = group
        self.topic = topic
        self.handle = handle
        #: For a record that is not a canonical event: (reason, key, value, origin).
        self.refuse = refuse

    async def fan_out(self) -> int:
        """Events read from the gap (0 when there is none or it was read before)."""
        if await self._marked():
            return 0
        committed, partitions = await committed_offsets(self.bootstrap, self.group, self.topic)
        if not committed:
            return 0
        async with self.pool.acquire() as conn:
            # Another worker reading it holds the lock until it is done (or dies: the lock
            # goes with its session), beyond the pool's usual command timeout.
            await conn.execute("SELECT pg_advisory_lock($1)", _LOCK, timeout=LOCK_WAIT_SECONDS)
            try:
                if await self._marked(conn):
                    return 0
                read, ranges = await self._read(committed, partitions)
                await conn.execute(
                    "INSERT INTO hub_markers (name, detail) VALUES ($1, $2)"
                    " ON CONFLICT (name) DO NOTHING",
                    MARKER,
                    {"topic": self.topic, "read": read, "ranges": ranges},
                )
                return read
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK)

    async def _marked(self, db: asyncpg.Connection | asyncpg.Pool | None = None) -> bool:
        db = db if db is not None else self.pool
        return bool(await db.fetchval("SELECT 1 FROM hub_markers WHERE name = $1", MARKER))

    async def _read(
        self, committed: dict[int, int], partitions: set[int]
    ) -> tuple[int, dict[str, list[int]]]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,  # reads only: the group's own offsets are never touched
            enable_auto_commit=False,
            auto_offset_reset="earliest",  # records Kafka's retention removed are gone
        )
        await consumer.start()
        try:
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions | set(committed))]
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            # A partition the old agent never committed on was all backlog (it started from
            # the earliest record, Faust's default).
            starts = await consumer.beginning_offsets(tps)
            start = {tp: committed.get(tp.partition, starts[tp]) for tp in tps}
            todo = {tp: ends[tp] for tp in tps if start[tp] < ends[tp]}
            ranges = {str(tp.partition): [start[tp], end] for tp, end in todo.items()}
            if not todo:
                return 0, ranges
            log.warning(
                "fanning out events an earlier version left on the canonical topic",
                extra={"topic": self.topic, "ranges": ranges},
            )
            for tp in todo:
                consumer.seek(tp, start[tp])
            read = 0
            while todo:
                fetched = await consumer.getmany(*todo, timeout_ms=1000, max_records=BATCH)
                batch: list[CanonicalEvent] = []
                for tp, records in fetched.items():
                    for record in records:
                        if record.offset >= todo.get(tp, -1):
                            continue
                        event = await self._event(record)
                        if event is not None:
                            batch.append(event)
                for tp in list(todo):
                    if await consumer.position(tp) >= todo[tp]:
                        del todo[tp]
                if batch:
                    await self.handle(batch)
                    read += len(batch)
            log.warning("earlier version's canonical backlog fanned out", extra={"events": read})
            return read, ranges
        finally:
            await consumer.stop()

    async def _event(self, record: Any) -> CanonicalEvent | None:
        try:
            return CanonicalEvent.from_json(record.value)
        except Exception as exc:
            origin = {"topic": record.topic, "partition": record.partition,
                      "offset": record.offset}
            await self.refuse(f"not a canonical event: {type(exc).__name__}: {exc}",
                              record.key, record.value, origin)
            return None
