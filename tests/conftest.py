"""Session fixtures for integration tests against the services started by scripts/services.

A missing service fails the test (never skips) with a message that says how to start it.
Helpers live in tests/support/services.py.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import services
from tests.support.worker import APP_IDS


@pytest.fixture(scope="session")
def avro_schema_dir() -> Path:
    return services.avro_schema_dir()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    bootstrap = services.kafka_bootstrap()
    services.require_kafka(bootstrap)
    return bootstrap


@pytest.fixture(scope="session", autouse=True)
def delete_test_topics() -> Iterator[None]:
    """Topics of the apps this session ran are deleted at its end (see services.delete_topics)."""
    yield
    if APP_IDS:
        try:
            services.delete_topics(services.kafka_bootstrap(), [f"{a}-" for a in set(APP_IDS)])
        except Exception as exc:  # cleanup only: never fail or hide a run's real outcome
            warnings.warn(f"could not delete the session's Kafka topics: {exc!r}", stacklevel=1)


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    url = services.postgres_admin_url()
    services.require_postgres(url)
    return url


@pytest.fixture(scope="session")
def database_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, uniquely named database for this test session, dropped at the end."""
    with services.scratch_database(postgres_admin_url) as url:
        yield url


@pytest.fixture(scope="module")
def module_database_url(postgres_admin_url: str) -> Iterator[str]:
    """A database for one test module's shared worker, so modules cannot see each other's
    webhooks (a worker loads every registration in its database)."""
    with services.scratch_database(postgres_admin_url) as url:
        yield url


@pytest.fixture
def fresh_database_url(postgres_admin_url: str) -> Iterator[str]:
    """A database for one test that runs its own workers."""
    with services.scratch_database(postgres_admin_url) as url:
        yield url


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    url = services.rabbitmq_url()
    services.require_rabbitmq(url)
    return url


@pytest.fixture(scope="session")
def fineract_fixtures(
    avro_schema_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, services.FixtureEvent]:
    """Events built by Apache Avro's Java implementation.

    name -> FixtureEvent with .key and .value (raw Kafka bytes) and .manifest (manifest.json entry).
    """
    dest = tmp_path_factory.mktemp("fineract-fixtures")
    return services.write_fineract_fixtures(dest, avro_schema_dir)


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> Callable[..., str]:
    """unique_name("topic") -> "topic-<test>-<random>"; safe for Kafka topics and Faust app ids."""

    def make(prefix: str = "t") -> str:
        return services.unique(prefix, request.node.name)

    return make
