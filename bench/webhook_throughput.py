"""Webhook delivery throughput and latency, against a raw aiohttp POST loop in the same run.

Needs the local services (``scripts/services start``). Prints:
  * raw loop: signed POSTs/s from a bare aiohttp client to the loopback receiver (the baseline),
    with the very body the hub sends; three runs around the hub's (before, while the backlog is
    produced, after), median taken, because one run on a shared 2-core machine is noise. It runs
    in the bench's process, beside the receiver, so client and receiver share one core;
  * the same loop once more in a process of its own (a core to itself, as the hub's workers
    have), for comparison: it is not the baseline of the ratio, and it is printed so that
    nobody mistakes the baseline for the fastest a bare client gets;
  * hub: deliveries/s draining a backlog of Fineract Avro events already on Kafka to the same
    receiver (one webhook per event, Standard Webhooks signing on), measured from the first to
    the last delivery so that neither producing the events nor the worker's start-up counts;
    the ratio hub / raw; CPU per delivery of the worker(s) and of the receiver;
  * p50/p99 event-to-delivery latency with events produced at a fixed rate (default 500/s).

Usage: .venv/bin/python bench/webhook_throughput.py [--events 20000] [--rate 500] [--seconds 10]
       [--workers 2] [--set HUB_NAME=VALUE]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
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
        self.first = self.last = 0.0
        self.sample = b""
        #: Called at the first request after a reset (to take CPU readings when work starts).
        self.on_first: Callable[[], None] | None = None

    def reset(self, target: int) -> None:
        self.count, self.target = 0, target
        self.times.clear()
        self.done.clear()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        now = time.perf_counter()
        if self.count == 0:
            self.first, self.sample = now, body
            if self.on_first is not None:
                self.on_first()
        self.last = now
        self.count += 1
        self.times[request.headers.get("X-Fineract-Event-Id", str(self.count))] = time.time()
        if self.target and self.count >= self.target:
            self.done.set()
        return web.Response(text="ok")


async def serve(receiver: CountingReceiver) -> tuple[web.AppRunner, str]:
    """The receiver on a free loopback port; returns its runner (to clean up) and base URL."""
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


SMALL_BODY = b'{"event":"client.created","id":"x","data":{"id":1,"displayName":"Ada"}}'


async def raw_loop(url: str, total: int, concurrency: int, body: bytes = SMALL_BODY) -> float:
    """The baseline: the same number of signed JSON POSTs from a bare aiohttp client."""
    secret = os.urandom(32)
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


async def raw_loop_own_process(url: str, total: int, concurrency: int, body: bytes) -> float:
    """``raw_loop`` in a process of its own, so that the client does not share the receiver's
    core: what a bare client reaches when, like the hub's workers, it has a core to itself."""
    with tempfile.NamedTemporaryFile(suffix=".body") as body_file:
        body_file.write(body)
        body_file.flush()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--raw-client", url, str(total), str(concurrency),
            body_file.name, stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"raw client process failed with {proc.returncode}")
    return float(out.decode().strip())


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
    if len(sys.argv) == 6 and sys.argv[1] == "--raw-client":  # see raw_loop_own_process
        url, total, concurrency, body_path = sys.argv[2:]
        body = Path(body_path).read_bytes()
        rate = asyncio.run(raw_loop(url, int(total), int(concurrency), body))
        print(f"{rate:.1f}")
        return
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
    parser.add_argument("--profile", metavar="FILE",
                        help="py-spy raw profile of the first worker while it drains the backlog")
    args = parser.parse_args()

    bootstrap = services.kafka_bootstrap()
    services.require_kafka(bootstrap)
    admin = services.postgres_admin_url()
    with services.scratch_database(admin) as db_url:
        asyncio.run(run(args, bootstrap, db_url))


def start_profiler(path: str, worker: Worker) -> subprocess.Popen[bytes]:
    """py-spy (not a project dependency: ``pip install py-spy``) on the first worker's drain."""
    assert worker.proc is not None
    return subprocess.Popen(
        ["py-spy", "record", "--nonblocking", "-r", "250", "-f", "raw", "-o", path,
         "--pid", str(worker.proc.pid)],
        stdout=subprocess.DEVNULL,
    )


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def machine_busy_seconds() -> float:
    """CPU time all processes have used (Linux /proc/stat: everything but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def stat_cpu_seconds(stat: str) -> float:
    """User + system CPU in the text of a /proc/<pid>/stat (threads included)."""
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    return stat_cpu_seconds(Path(f"/proc/{pid}/stat").read_text())


def cpu_seconds_named(*names: str) -> dict[str, float]:
    """User + system CPU so far of every process whose command is one of ``names`` (the
    Kafka broker is ``java``, PostgreSQL's server processes are ``postgres``)."""
    totals = dict.fromkeys(names, 0.0)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        if comm in totals:
            totals[comm] += stat_cpu_seconds(text)
    return totals


async def run(args: argparse.Namespace, bootstrap: str, db_url: str) -> None:
    receiver = CountingReceiver()
    runner, url = await serve(receiver)
    env = worker_env(
        kafka_bootstrap=bootstrap,
        database_url=db_url,
        avro_schema_dir=services.avro_schema_dir(),
        HUB_LOG_FORMAT="json",
        HUB_LOG_LEVEL="WARNING",
        **dict(item.split("=", 1) for item in args.set),
    )
    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    envs = [env] + [{**env, "HUB_WEB_PORT": str(free_port())} for _ in range(args.workers - 1)]
    workers: list[Worker] = []

    async def start_workers() -> None:
        workers[:] = [Worker(e, workdir).start() for e in envs]
        for running in workers:
            await running.wait_healthy()

    def stop_workers() -> None:
        for running in workers:
            running.stop()

    try:
        await start_workers()
        topic = workers[0].topics["fineract"]
        await workers[0].ok(
            "registerWebhook", {"name": "bench", "eventType": "client.created", "url": url + "/hub"}
        )
        # Warm up (consumer group, connections, template cache) and learn the body the hub sends.
        warm = [client_created(9_000_000 + i)[:2] for i in range(500)]
        receiver.reset(len(warm))
        await produce(bootstrap, topic, warm)
        await asyncio.wait_for(receiver.done.wait(), 120)
        body = receiver.sample
        raws = [await raw_loop(url + "/raw", args.events, args.concurrency, body)]

        # The backlog: produced while the workers are stopped, drained when they start.
        stop_workers()
        records = [client_created(10_000_000 + i)[:2] for i in range(args.events)]
        await produce(bootstrap, topic, records)
        raws.append(await raw_loop(url + "/raw", args.events, args.concurrency, body))
        receiver.reset(len(records))
        # CPU from the first delivery to the last, like the rate.
        readings: dict[str, float] = {}

        def read_cpu() -> None:
            readings["workers"] = sum(cpu_seconds(w.proc.pid) for w in workers if w.proc)
            readings["own"] = time.process_time()
            readings["machine"] = machine_busy_seconds()
            readings.update(cpu_seconds_named("java", "postgres"))

        receiver.on_first = read_cpu
        started = time.perf_counter()
        await start_workers()
        healthy = time.perf_counter() - started
        profiler = start_profiler(args.profile, workers[0]) if args.profile else None
        await asyncio.wait_for(receiver.done.wait(), 600)
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)
            profiler.wait(60)
        receiver.on_first = None
        worker_cpu = sum(cpu_seconds(w.proc.pid) for w in workers if w.proc) - readings["workers"]
        worker_rss = max(peak_rss_mib(w.proc.pid) for w in workers if w.proc)
        receiver_cpu = time.process_time() - readings["own"]
        machine_cpu = machine_busy_seconds() - readings["machine"]
        services_cpu = {
            name: seconds - readings[name]
            for name, seconds in cpu_seconds_named("java", "postgres").items()
        }
        elapsed = receiver.last - receiver.first
        to_first = receiver.first - started  # before the raw loops below reset the receiver
        hub_rate = (len(records) - 1) / elapsed
        raws.append(await raw_loop(url + "/raw", args.events, args.concurrency, body))
        raw = statistics.median(raws)
        receiver.reset(0)
        own = await raw_loop_own_process(url + "/raw", args.events, args.concurrency, body)

        print(
            f"raw aiohttp loop      : {raw:9.0f} POSTs/s (median of "
            f"{', '.join(f'{r:.0f}' for r in raws)}; {args.events} requests of {len(body)} B, "
            f"concurrency {args.concurrency})"
        )
        print(
            f"hub, {args.workers} worker(s)    : {hub_rate:9.0f} deliveries/s"
            f" ({len(records)} events of a backlog on Kafka, first to last delivery "
            f"{elapsed:.1f}s; {to_first:.1f}s from worker start to the first, "
            f"healthy after {healthy:.1f}s)"
        )
        print(f"ratio hub / raw       : {hub_rate / raw:9.2f}")
        print(
            f"raw loop, own process : {own:9.0f} POSTs/s (the same loop with a core to itself, "
            f"not sharing the receiver's; hub / this {hub_rate / own:.2f})"
        )
        print(
            f"CPU per delivery      : worker(s) {worker_cpu / len(records) * 1e6:.0f} µs, "
            f"receiver {receiver_cpu / len(records) * 1e6:.0f} µs (first to last delivery); "
            f"worker peak RSS {worker_rss:.0f} MiB"
        )
        print(
            f"                        whole machine {machine_cpu / len(records) * 1e6:.0f} µs "
            f"(worker(s), receiver, Kafka {services_cpu['java'] / len(records) * 1e6:.0f} µs, "
            f"PostgreSQL {services_cpu['postgres'] / len(records) * 1e6:.0f} µs)"
        )

        n = int(args.rate * args.seconds)
        paced = [client_created(30_000_000 + i) for i in range(n)]
        receiver.reset(n)
        sent_at = await produce(bootstrap, topic, [(k, v) for k, v, _ in paced], rate=args.rate)
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
        stop_workers()
        await runner.cleanup()
        app_id = env["HUB_APP_ID"]
        await asyncio.to_thread(services.delete_topics, bootstrap, [f"{app_id}-"])


if __name__ == "__main__":
    main()
