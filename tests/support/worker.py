"""Runs the real worker (``python -m fineract_hub worker``) as a subprocess for end-to-end tests.

A subprocess, not an in-process app, because that is what users run and because crash tests
need to ``kill -9`` it.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[2]
ACTION_SECRET = "test-action-secret-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: App ids handed out in this process; their topics are deleted when the session ends.
APP_IDS: list[str] = []


def worker_env(
    *,
    kafka_bootstrap: str,
    database_url: str,
    avro_schema_dir: Path,
    app_id: str | None = None,
    **overrides: str,
) -> dict[str, str]:
    app_id = app_id or f"hub-test-{uuid.uuid4().hex[:8]}"
    APP_IDS.append(app_id)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_APP_ID": app_id,
            "HUB_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "HUB_FINERACT_TOPIC": f"{app_id}-external-events",
            "HUB_EVENTS_TOPIC": f"{app_id}-events",
            "HUB_DEAD_LETTER_TOPIC": f"{app_id}-dead-letters",
            "HUB_OPERATIONAL_TOPIC": f"{app_id}-operational",
            "HUB_TOPIC_PARTITIONS": "4",
            "HUB_DATABASE_URL": database_url,
            "HUB_AVRO_SCHEMA_DIR": str(avro_schema_dir),
            "HUB_ACTION_SECRET": ACTION_SECRET,
            "HUB_ENCRYPTION_KEY": base64.b64encode(b"k" * 32).decode(),
            "HUB_SSRF_ALLOWLIST": "127.0.0.0/8",
            "HUB_WEB_PORT": str(free_port()),
            "HUB_LOG_FORMAT": "json",
            "HUB_SCHEDULER_INTERVAL_SECONDS": "0.2",
        }
    )
    env.update(overrides)
    return env


class Worker:
    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"worker-{env['HUB_WEB_PORT']}.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.env['HUB_WEB_PORT']}"

    @property
    def topics(self) -> dict[str, str]:
        return {
            "fineract": self.env["HUB_FINERACT_TOPIC"],
            "events": self.env["HUB_EVENTS_TOPIC"],
            "dead_letters": self.env["HUB_DEAD_LETTER_TOPIC"],
            "operational": self.env["HUB_OPERATIONAL_TOPIC"],
        }

    def start(self) -> Worker:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fineract_hub", "worker", "-l", "info"],
            cwd=self.workdir,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    async def wait_healthy(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        last: Any = None
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise AssertionError(
                        f"worker exited with {self.proc.returncode}:\n" + self.log_tail()
                    )
                try:
                    async with session.get(self.base_url + "/health") as resp:
                        last = await resp.json()
                        if resp.status == 200:
                            return
                except aiohttp.ClientError as exc:
                    last = exc
                await asyncio.sleep(0.5)
        raise AssertionError(
            f"worker not healthy after {timeout}s (last: {last}):\n" + self.log_tail()
        )

    def wait_healthy_sync(self, timeout: float = 90.0) -> None:
        asyncio.run(self.wait_healthy(timeout))

    async def action(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        role: str = "admin",
        secret: str = ACTION_SECRET,
    ) -> tuple[int, Any]:
        body = {
            "action": {"name": name},
            "input": arguments,
            "session_variables": {"x-hasura-role": role, "x-hasura-user-id": "42"},
            "request_query": "",
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                self.base_url + "/actions",
                json=body,
                headers={"x-hub-action-secret": secret},
            ) as resp,
        ):
            return resp.status, await resp.json()

    async def ok(self, name: str, arguments: dict[str, Any], **kw: Any) -> Any:
        status, body = await self.action(name, arguments, **kw)
        assert status == 200, (name, status, body)
        return body

    def kill(self, sig: int = signal.SIGKILL, grace: float = 30.0) -> None:
        """Send ``sig``; SIGKILL if the worker is still there after ``grace`` seconds."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


@contextmanager
def running_worker(env: dict[str, str], workdir: Path) -> Iterator[Worker]:
    """A started, healthy worker for the duration of the block (for module fixtures)."""
    running = Worker(env, workdir).start()
    try:
        running.wait_healthy_sync()
        yield running
    finally:
        running.stop()
