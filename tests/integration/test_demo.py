"""The main job's demo, as a newcomer runs it: deliveries of real Fineract events must appear."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import services
from tests.support.worker import REPO, free_port, worker_env

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo(
    kafka_bootstrap: str, postgres_admin_url: str, avro_schema_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[subprocess.CompletedProcess[str], str]]:
    """One run of ``python -m fineract_hub.demo --once`` and the database it used."""
    with services.scratch_database(postgres_admin_url) as database_url:
        env = worker_env(
            kafka_bootstrap=kafka_bootstrap,
            database_url=database_url,
            avro_schema_dir=avro_schema_dir,
            HUB_DATA_DIR=str(tmp_path_factory.mktemp("demo")),
            HUB_LOG_FORMAT="text",
        )
        done = subprocess.run(
            [sys.executable, "-m", "fineract_hub.demo", "--once",
             "--receiver-port", str(free_port())],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        yield done, database_url


def test_demo_delivers_the_sample_events_and_exits_cleanly(demo) -> None:
    done, _ = demo
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "delivery #1 to /" in output
    assert '"approvedAmount": "1000.50000000"' in output
    assert "type=loan.approved" in output


def test_demo_removes_its_webhooks_when_it_ends(demo) -> None:
    # Its receiver is gone: webhooks left behind would make a later worker retry into a
    # closed port.
    done, database_url = demo

    remaining = asyncio.run(services.fetchval(database_url, "SELECT count(*) FROM hub_webhooks"))
    assert remaining == 0, (done.stdout + done.stderr)[-2000:]


def test_ctrl_c_in_a_terminal_still_removes_the_webhooks_and_stops_the_worker(
    kafka_bootstrap: str, postgres_admin_url: str, avro_schema_dir: Path,
    tmp_path: Path,
) -> None:
    # A terminal sends SIGINT to the whole foreground process group: the worker must not get
    # it too, or it closes its database pool while the demo is still deleting its webhooks.
    with services.scratch_database(postgres_admin_url) as database_url:
        env = worker_env(
            kafka_bootstrap=kafka_bootstrap, database_url=database_url,
            avro_schema_dir=avro_schema_dir, HUB_DATA_DIR=str(tmp_path), HUB_LOG_FORMAT="text",
        )
        log_path = tmp_path / "demo.log"
        with log_path.open("w") as log:
            demo = subprocess.Popen(
                [sys.executable, "-u", "-m", "fineract_hub.demo",
                 "--receiver-port", str(free_port())],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group, like a shell's foreground job
            )
            try:
                deadline = time.monotonic() + 180
                while "watching deliveries" not in log_path.read_text():
                    assert demo.poll() is None, log_path.read_text()[-3000:]
                    assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                    time.sleep(0.5)
                time.sleep(3)  # a person reads the output first (and the race needs it)
                os.killpg(demo.pid, signal.SIGINT)
                assert demo.wait(timeout=60) == 0, log_path.read_text()[-3000:]
            finally:
                if demo.poll() is None:
                    os.killpg(demo.pid, signal.SIGKILL)
        output = log_path.read_text()
        assert "deleted 2 of the demo's 2 webhooks" in output, output[-3000:]
        count = services.fetchval(database_url, "SELECT count(*) FROM hub_webhooks")
        assert asyncio.run(count) == 0, output[-3000:]
        assert not services.tcp_reachable("127.0.0.1", int(env["HUB_WEB_PORT"]), timeout=1.0)
