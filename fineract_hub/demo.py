"""The newcomer's tour (``scripts/run``): worker + receiver + real Fineract-encoded events.

Starts the worker with its web server, a webhook receiver on loopback, registers the seed's
loan-approval webhook and a catch-all, feeds sample events encoded by Apache Avro's Java
implementation exactly as Fineract writes them, and prints every delivery as it arrives.
``--once`` exits after the sample's deliveries arrived (used by the test of this demo).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
SEED_TEMPLATE = """{
  "event": "{{type}}",
  "loanId": "{{data.id}}",
  "clientId": "{{data.clientId}}",
  "approvedAmount": "{{data.approvedPrincipal}}",
  "timestamp": "{{timestamp}}"
}"""


def _say(text: str) -> None:
    print(f"[demo] {text}", flush=True)


class DemoReceiver:
    def __init__(self) -> None:
        self.count = 0
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.count += 1
        headers = request.headers
        _say(f"delivery #{self.count} to {request.path}: webhook-id={headers.get('webhook-id')}"
             f" type={headers.get('X-Fineract-Event-Type')}")
        print("       " + body.decode(errors="replace").replace("\n", "\n       "), flush=True)
        self.arrived.set()
        return web.Response(text="ok")


async def _action(base: str, secret: str, name: str, arguments: dict[str, Any]) -> Any:
    body = {"action": {"name": name}, "input": arguments,
            "session_variables": {"x-hasura-role": "admin"}}
    async with aiohttp.ClientSession() as session, session.post(
            base + "/actions", json=body, headers={"x-hub-action-secret": secret}) as resp:
        payload = await resp.json()
        if resp.status != 200:
            raise RuntimeError(f"{name} failed ({resp.status}): {payload}")
        return payload


async def _register(base: str, secret: str, registration: dict[str, Any]) -> str:
    listed = await _action(base, secret, "getWebhooks",
                           {"eventType": registration["eventType"], "limit": 100})
    for existing in listed["webhooks"]:
        if existing["name"] == registration["name"]:
            await _action(base, secret, "deleteWebhook", {"webhookId": existing["id"]})
    created = await _action(base, secret, "registerWebhook", registration)
    return str(created["id"])


async def _unregister(
    base: str, secret: str, webhook_ids: list[str], worker: asyncio.subprocess.Process
) -> None:
    if worker.returncode is not None:
        return
    deleted = 0
    for webhook_id in webhook_ids:
        try:
            await asyncio.wait_for(
                _action(base, secret, "deleteWebhook", {"webhookId": webhook_id}), 10
            )
            deleted += 1
        except Exception as exc:  # the demo is ending anyway; say what is left behind
            _say(f"could not delete demo webhook {webhook_id}: {exc}")
    if webhook_ids:
        left = len(webhook_ids) - deleted
        _say(f"deleted {deleted} of the demo's {len(webhook_ids)} webhooks"
             + (f"; {left} left behind (the next run deletes them)" if left else ""))


def _terminate_with_parent() -> None:
    """In the worker's child process, before exec: SIGTERM when the demo dies (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


async def _wait_healthy(base: str, proc: asyncio.subprocess.Process, within: float) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}")
            try:
                async with session.get(base + "/health") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    raise RuntimeError("worker did not become healthy in time")


async def run(once: bool, receiver_port: int) -> int:
    env = dict(os.environ)
    base = f"http://127.0.0.1:{env.get('HUB_WEB_PORT', '6066')}"
    secret = env["HUB_ACTION_SECRET"]
    _say("starting the worker: python -m fineract_hub worker")
    # Its own session, so that a terminal's Ctrl-C (sent to the whole foreground process group)
    # reaches the demo only: the demo still needs the worker to delete its webhooks, then
    # stops it. Should the demo die without doing so, the kernel sends the worker SIGTERM.
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fineract_hub", "worker", "-l", "info",
        env=env, cwd=env.get("HUB_DATA_DIR", str(REPO / ".run")),
        start_new_session=True, preexec_fn=_terminate_with_parent)
    receiver = DemoReceiver()
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", receiver_port).start()
    registered: list[str] = []
    try:
        await _wait_healthy(base, worker, 120)
        _say(f"worker healthy at {base}; receiver on http://127.0.0.1:{receiver_port}")
        registered.append(await _register(base, secret, {
            "name": "Loan Approval Notification", "eventType": "loan.approved",
            "url": f"http://127.0.0.1:{receiver_port}/loan-approved", "httpMethod": "POST",
            "contentType": "application_json",
            "headers": {"Authorization": "Bearer your-token", "X-Custom-Header": "custom-value"},
            "payloadTemplate": SEED_TEMPLATE, "retryCount": 3, "retryInterval": 60}))
        registered.append(await _register(base, secret, {
            "name": "Everything (demo)", "eventType": "*",
            "url": f"http://127.0.0.1:{receiver_port}/all"}))
        _say("registered the seed's loan.approved webhook and a catch-all")
        topic = env.get("HUB_FINERACT_TOPIC", "external-events")
        _say(f"producing sample Fineract events (Java Avro) to {topic}")
        producer = await asyncio.create_subprocess_exec(
            str(REPO / "scripts" / "fixtures"), "produce",
            env.get("HUB_KAFKA_BOOTSTRAP", "127.0.0.1:19092"), topic, env=env)
        if await producer.wait() != 0:
            raise RuntimeError("producing the sample events failed (see above)")
        await asyncio.wait_for(receiver.arrived.wait(), 120)
        if once:
            await asyncio.sleep(3)
            _say(f"{receiver.count} deliveries arrived; stopping (--once)")
            return 0 if receiver.count else 1
        _say("watching deliveries; Ctrl-C to stop. Try the GraphQL explorer at "
             f"{base}/graphql (Authorization: Bearer <key from HUB_API_KEYS>)")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        return 0
    finally:
        # The demo's receiver goes away with it: webhooks left pointing at it would keep a
        # worker started later busy with retries to a closed port.
        await _unregister(base, secret, registered, worker)
        if worker.returncode is None:
            worker.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(worker.wait(), 30)
            except TimeoutError:
                worker.kill()
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--once", action="store_true", help="exit after the sample is delivered")
    parser.add_argument("--receiver-port", type=int, default=8099)
    args = parser.parse_args()
    os.makedirs(REPO / ".run", exist_ok=True)
    sys.exit(asyncio.run(run(args.once, args.receiver_port)))


if __name__ == "__main__":
    main()
