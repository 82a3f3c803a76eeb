"""How fast can the fixed shape go with no hub logic at all? The ceiling for webhook_throughput.

The webhook target compares the hub with a raw aiohttp POST loop. The hub's shape is fixed
(Kafka in, Faust agents, aiohttp out), so this measures, in one run and against the same
receiver, what that shape costs before any of our work (no Avro decoding, no PostgreSQL, no
signing, no templates):

  * raw aiohttp loop                 — the baseline of webhook_throughput (median of 3 runs);
  * aiokafka consumer -> POST        — Kafka in, aiohttp out, no Faust;
  * Faust agent -> POST              — one Faust agent (take batches) posting each record;
  * Faust agent -> topic -> agent -> POST — the hub's two hops (ingest to the canonical topic,
    then fan-out), still doing nothing else.

Each pipeline runs in its own process (like the worker) with uvloop and posts with 64
concurrent requests per process, the hub's per-endpoint concurrency.

Usage: .venv/bin/python bench/pipeline_floor.py [--events 30000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.webhook_throughput import CountingReceiver, raw_loop, serve  # noqa: E402
from tests.support import services  # noqa: E402
from tests.support.events import client_created  # noqa: E402

CONCURRENCY = 64
PIPELINES = ("aiokafka", "faust", "faust-2hop")


# -- the pipelines, each run in a child process --------------------------------------------------
class Poster:
    """POSTs with bounded concurrency, like the dispatcher's per-endpoint limit."""

    def __init__(self, url: str) -> None:
        import aiohttp

        self.url = url
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY))
        self.slots = asyncio.Semaphore(CONCURRENCY)
        self.tasks: set[asyncio.Task[None]] = set()
        self.room = asyncio.Event()

    def submit(self, body: bytes) -> None:
        task = asyncio.get_running_loop().create_task(self._post(body))
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if len(self.tasks) < 1024:
            self.room.set()

    async def wait_for_room(self) -> None:
        while len(self.tasks) >= 1024:
            self.room.clear()
            await self.room.wait()

    async def _post(self, body: bytes) -> None:
        async with self.slots, self.session.post(
            self.url, data=body, headers={"content-type": "application/json"}
        ) as response:
            await response.read()


def serve_aiokafka(bootstrap: str, topic: str, url: str) -> None:
    import uvloop
    from aiokafka import AIOKafkaConsumer

    async def main() -> None:
        poster = Poster(url)
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, group_id=f"floor-{uuid.uuid4().hex[:6]}",
            auto_offset_reset="earliest", enable_auto_commit=True,
        )
        await consumer.start()
        while True:
            batches = await consumer.getmany(timeout_ms=20, max_records=500)
            for records in batches.values():
                for record in records:
                    poster.submit(record.value)
            await poster.wait_for_room()

    uvloop.run(main())


def serve_faust(bootstrap: str, topic: str, url: str, two_hops: bool) -> None:
    os.environ["F_LOOP"] = "uvloop"
    import faust

    app = faust.App(
        f"floor-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{bootstrap}",
        web_enabled=False,
        topic_partitions=4,
        producer_acks=-1,
        datadir=tempfile.mkdtemp(prefix="floor-"),
    )
    source = app.topic(topic, value_type=bytes, key_type=bytes, value_serializer="raw",
                       key_serializer="raw")
    hop = app.topic(topic + "-hop", value_type=bytes, key_type=bytes, value_serializer="raw",
                    key_serializer="raw")
    poster: list[Poster] = []

    async def post_all(stream: faust.StreamT) -> None:
        if not poster:
            poster.append(Poster(url))
        async for values in stream.take(500, within=0.02):
            for value in values:
                poster[0].submit(value)
            await poster[0].wait_for_room()

    if two_hops:

        @app.agent(source, name="copy")
        async def copy(stream: faust.StreamT) -> None:
            async for events in stream.take_events(500, within=0.01):
                # Straight to the producer, as the hub's ingest does (Topic.send costs more).
                futures = [
                    await app.producer.send(hop.get_topic_name(), e.key, e.value, None, None, None)
                    for e in events
                ]
                await asyncio.gather(*futures)

        app.agent(hop, name="post")(post_all)
    else:
        app.agent(source, name="post")(post_all)
    sys.argv = [sys.argv[0], "worker", "-l", "warn"]
    app.main()


# -- the driver -----------------------------------------------------------------------------------
async def create_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, num_partitions=4, replication_factor=1)
                                   for n in names])
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks=1)
    await producer.start()
    try:
        for key, value in records:
            await producer.send(topic, value=value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def measure(pipeline: str, bootstrap: str, url: str, receiver: CountingReceiver,
                  records: list[tuple[bytes, bytes]]) -> float:
    topic = f"floor-{pipeline}-{uuid.uuid4().hex[:8]}"
    await create_topics(bootstrap, [topic, topic + "-hop"])
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", pipeline, "--bootstrap", bootstrap,
         "--topic", topic, "--url", url],
        stdout=subprocess.DEVNULL,
    )
    try:
        # Warm up: the first records wait for the consumer group to form.
        warm = records[:200]
        receiver.count, receiver.target = 0, len(warm)
        receiver.done.clear()
        await produce(bootstrap, topic, warm)
        await asyncio.wait_for(receiver.done.wait(), 120)
        receiver.count, receiver.target = 0, len(records)
        receiver.done.clear()
        started = time.perf_counter()
        await produce(bootstrap, topic, records)
        await asyncio.wait_for(receiver.done.wait(), 600)
        return len(records) / (time.perf_counter() - started)
    finally:
        child.terminate()
        child.wait(30)


async def run(args: argparse.Namespace, bootstrap: str) -> None:
    receiver = CountingReceiver()
    runner, base = await serve(receiver)
    url = base + "/floor"
    try:
        raws = [await raw_loop(url, args.events, CONCURRENCY) for _ in range(3)]
        raw = statistics.median(raws)
        print(f"raw aiohttp loop                 : {raw:7.0f} POSTs/s "
              f"(median of {', '.join(f'{r:.0f}' for r in raws)})")
        records = [client_created(50_000_000 + i)[:2] for i in range(args.events)]
        for pipeline in args.only or PIPELINES:
            rate = await measure(pipeline, bootstrap, url, receiver, records)
            print(f"{pipeline + ' -> POST':33s}: {rate:7.0f} records/s   ratio {rate / raw:.2f}")
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=30000)
    parser.add_argument("--only", choices=PIPELINES, action="append",
                        help="measure only these pipelines (repeatable)")
    parser.add_argument("--serve", choices=PIPELINES)
    parser.add_argument("--bootstrap")
    parser.add_argument("--topic")
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.serve == "aiokafka":
        serve_aiokafka(args.bootstrap, args.topic, args.url)
    elif args.serve:
        serve_faust(args.bootstrap, args.topic, args.url, two_hops=args.serve == "faust-2hop")
    else:
        bootstrap = services.kafka_bootstrap()
        services.require_kafka(bootstrap)
        asyncio.run(run(args, bootstrap))


if __name__ == "__main__":
    main()
