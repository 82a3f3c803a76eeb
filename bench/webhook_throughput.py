"""Webhook delivery throughput and latency, against a raw aiohttp POST loop in the same run.

Needs the local services (``scripts/services start``). Prints:
  * raw loop: signed POSTs/s from a bare aiohttp client to the loopback receiver (the baseline);
  * hub: deliveries/s from Fineract Avro events on Kafka to the same receiver, one webhook per
    event, Standard Webhooks signing on; and the ratio hub / raw;
  * p50/p99 event-to-delivery latency with events produced at a fixed rate (default 500/s).

Usage: .venv/bin/python bench/webhook_throughput.py [--events 20000] [--rate 500] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
from aiohttp import web
from aiokafka import AIOKafkaProducer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support import services  # noqa: E402
from tests.support.events import client_created  # noqa: E402
from tests.support.worker import Worker, free_port, worker_env  # noqa: E402


class CountingReceiver:
    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.count = 0
        self.done = asyncio.Event()
        self.target = 0

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.count += 1
        self.times[request.headers.get("X-Fineract-Event-Id", str(self.count))] = time.time()
        if self.target and self.count >= self.target:
            self.done.set()
        return web.Response(text="ok")


async def raw_loop(url: str, total: int, concurrency: int) -> float:
    """The baseline: the same number of signed JSON POSTs from a bare aiohttp client."""
    secret = os.urandom(32)
    body = b'{"event":"client.created","id":"x","data":{"id":1,"displayName":"Ada"}}'
    sent = 0
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            nonlocal sent
            while sent < total:
                sent += 1
                ts = str(int(time.time()))
                mid = "msg_" + uuid.uuid4().hex
                sig = hmac.new(secret, f"{mid}.{ts}.".encode() + body, hashlib.sha256).digest()
                headers = {
                    "content-type": "application/json",
                    "webhook-id": mid,
                    "webhook-timestamp": ts,
                    "webhook-signature": "v1," + base64.b64encode(sig).decode(),
                }
                async with session.post(url, data=body, headers=headers) as resp:
                    await resp.read()

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(concurrency)))
        return total / (time.perf_counter() - started)


async def produce(
    bootstrap: str, topic: str, records: list[tuple[bytes, bytes]], rate: float | None = None
) -> dict[bytes, float]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks=1)
    await producer.start()
    sent_at: dict[bytes, float] = {}
    try:
        started = time.perf_counter()
        for index, (key, value) in enumerate(records):
            if rate:
                due = started + index / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            sent_at[value] = time.time()
            await producer.send(topic, value=value, key=key)
        await producer.flush()
    finally:
        await producer.stop()
    return sent_at


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (scale-out)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="HUB_NAME=VALUE",
        help="extra worker setting, e.g. --set HUB_ENDPOINT_CONCURRENCY=128 (repeatable)",
    )
    args = parser.parse_args()

    bootstrap = services.kafka_bootstrap()
    services.require_kafka(bootstrap)
    admin = services.postgres_admin_url()
    with services.scratch_database(admin) as db_url:
        asyncio.run(run(args, bootstrap, db_url))


async def run(args: argparse.Namespace, bootstrap: str, db_url: str) -> None:
    receiver = CountingReceiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    workers: list[Worker] = []
    try:
        baseline = await raw_loop(url + "/raw", args.events, args.concurrency)
        print(
            f"raw aiohttp loop      : {baseline:9.0f} POSTs/s ({args.events} requests, "
            f"concurrency {args.concurrency})"
        )

        env = worker_env(
            kafka_bootstrap=bootstrap,
            database_url=db_url,
            avro_schema_dir=services.avro_schema_dir(),
            HUB_LOG_FORMAT="json",
            HUB_LOG_LEVEL="WARNING",
            **dict(item.split("=", 1) for item in args.set),
        )
        workdir = Path(tempfile.mkdtemp(prefix="hub-bench-"))
        workers = [Worker(env, workdir).start()]
        for _ in range(args.workers - 1):
            workers.append(Worker({**env, "HUB_WEB_PORT": str(free_port())}, workdir).start())
        for running in workers:
            await running.wait_healthy()
        worker = workers[0]
        await worker.ok(
            "registerWebhook", {"name": "bench", "eventType": "client.created", "url": url + "/hub"}
        )
        records = [client_created(10_000_000 + i)[:2] for i in range(args.events)]
        receiver.count, receiver.target = 0, len(records)
        receiver.done.clear()
        started = time.perf_counter()
        await produce(bootstrap, worker.topics["fineract"], records)
        produced = time.perf_counter() - started
        await asyncio.wait_for(receiver.done.wait(), 600)
        elapsed = time.perf_counter() - started
        hub_rate = len(records) / elapsed
        print(
            f"hub, {args.workers} worker(s)    : {hub_rate:9.0f} deliveries/s"
            f" ({len(records)} events, "
            f"produced in {produced:.1f}s, delivered in {elapsed:.1f}s)"
        )
        print(f"ratio hub / raw       : {hub_rate / baseline:9.2f}")

        n = int(args.rate * args.seconds)
        paced = [client_created(30_000_000 + i) for i in range(n)]
        receiver.count, receiver.target = 0, n
        receiver.times.clear()
        receiver.done.clear()
        sent_at = await produce(
            bootstrap, worker.topics["fineract"], [(k, v) for k, v, _ in paced], rate=args.rate
        )
        await asyncio.wait_for(receiver.done.wait(), 120)
        latencies = sorted(
            (receiver.times[idem] - sent_at[value]) * 1000
            for _, value, idem in paced
            if idem in receiver.times
        )
        p50 = statistics.median(latencies)
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        print(
            f"latency at {args.rate:.0f} ev/s  : p50 {p50:.1f} ms, p99 {p99:.1f} ms "
            f"({len(latencies)} events)"
        )
    finally:
        for running in workers:
            running.stop()
        await runner.cleanup()


if __name__ == "__main__":
    main()
