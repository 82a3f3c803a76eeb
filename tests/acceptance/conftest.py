"""A worker subprocess shared by the acceptance module, callable over /graphql and /actions.

Mirrors tests/integration/conftest.py, plus ``HUB_API_KEYS`` so ``/graphql`` can be called
without Hasura: ``ADMIN_KEY`` maps to role ``admin``, ``USER_KEY`` to role ``user``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.receiver import Receiver
from tests.support.worker import Worker, running_worker, worker_env

ADMIN_KEY = "acceptance-admin-key-0123456789"
USER_KEY = "acceptance-user-key-0123456789"


class GraphQLClient:
    """POST /graphql on a worker, as a caller without Hasura would."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        key: str | None = ADMIN_KEY,
        operation_name: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        if operation_name is not None:
            body["operationName"] = operation_name
        headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.worker.base_url + "/graphql", json=body, headers=headers) as resp,
        ):
            return resp.status, await resp.json()

    async def data(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> Any:
        """The ``data`` of a call that must succeed without errors."""
        status, body = await self.post(query, variables, **kw)
        assert status == 200 and "errors" not in body, (status, body)
        return body["data"]


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
        HUB_API_KEYS=f"admin:{ADMIN_KEY},user:{USER_KEY}",
    )
    with running_worker(env, tmp_path_factory.mktemp("worker")) as running:
        yield running


@pytest.fixture
def graphql(worker: Worker) -> GraphQLClient:
    return GraphQLClient(worker)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    started = await Receiver().start()
    try:
        yield started
    finally:
        await started.stop()
