"""The main job's demo, as a newcomer runs it: deliveries of real Fineract events must appear."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.worker import REPO, free_port, worker_env

pytestmark = pytest.mark.integration


def test_demo_delivers_the_sample_events_and_exits_cleanly(
    kafka_bootstrap, fresh_database_url, avro_schema_dir, tmp_path
):
    env = worker_env(
        kafka_bootstrap=kafka_bootstrap,
        database_url=fresh_database_url,
        avro_schema_dir=avro_schema_dir,
        HUB_DATA_DIR=str(tmp_path),
        HUB_LOG_FORMAT="text",
    )
    done = subprocess.run(
        [sys.executable, "-m", "fineract_hub.demo", "--once", "--receiver-port", str(free_port())],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "delivery #1 to /" in output
    assert '"approvedAmount": "1000.50000000"' in output
    assert "type=loan.approved" in output
