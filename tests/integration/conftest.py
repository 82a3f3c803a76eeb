"""A worker subprocess shared by a test module, plus a loopback receiver per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.receiver import Receiver
from tests.support.worker import Worker, running_worker, worker_env


@pytest.fixture(scope="module")
def worker(
    kafka_bootstrap: str,
    module_database_url: str,
    avro_schema_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Worker]:
    env = worker_env(
        kafka_bootstrap=kafka_bootstrap,
        database_url=module_database_url,
        avro_schema_dir=avro_schema_dir,
    )
    with running_worker(env, tmp_path_factory.mktemp("worker")) as running:
        yield running


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    started = await Receiver().start()
    try:
        yield started
    finally:
        await started.stop()
