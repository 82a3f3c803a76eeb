"""The local services that ``scripts/services`` starts, as seen from tests.

Integration tests must *fail* (never skip) when a service is missing, with a message that says
how to start it. Defaults match scripts/services; environment variables override them:

- ``HUB_KAFKA_BOOTSTRAP``      Kafka bootstrap servers (default ``127.0.0.1:19092``)
- ``HUB_POSTGRES_ADMIN_URL``   a role allowed to CREATE/DROP DATABASE
  (default ``postgresql://fineract_hub:fineract_hub@127.0.0.1:5432/postgres?sslmode=disable``)
- ``HUB_RABBITMQ_URL``         AMQP URL (default ``amqp://guest:guest@127.0.0.1:5672/``)
- ``HUB_AVRO_SCHEMA_DIR``      Fineract .avsc folder
  (default ``<repo>/../shared/fineract-avro-schemas``)
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
START_HINT = "start it with `scripts/services start {name}` (scripts/test does this for you)"

DEFAULT_KAFKA_BOOTSTRAP = "127.0.0.1:19092"
DEFAULT_POSTGRES_ADMIN_URL = (
    "postgresql://fineract_hub:fineract_hub@127.0.0.1:5432/postgres?sslmode=disable"
)
DEFAULT_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"


def kafka_bootstrap() -> str:
    return os.environ.get("HUB_KAFKA_BOOTSTRAP") or DEFAULT_KAFKA_BOOTSTRAP


def postgres_admin_url() -> str:
    return os.environ.get("HUB_POSTGRES_ADMIN_URL") or DEFAULT_POSTGRES_ADMIN_URL


def rabbitmq_url() -> str:
    return os.environ.get("HUB_RABBITMQ_URL") or DEFAULT_RABBITMQ_URL


def avro_schema_dir() -> Path:
    configured = os.environ.get("HUB_AVRO_SCHEMA_DIR")
    path = Path(configured) if configured else REPO_ROOT.parent / "shared" / "fineract-avro-schemas"
    path = path.resolve()
    if not (path / "MessageV1.avsc").is_file():
        pytest.fail(
            f"Fineract Avro schemas not found at {path} (no MessageV1.avsc). "
            "Set HUB_AVRO_SCHEMA_DIR or place shared/fineract-avro-schemas beside the repository.",
            pytrace=False,
        )
    return path


# ------------------------------------------------------------------------- reachability


def tcp_reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _host_port(hostport: str) -> tuple[str, int]:
    host, _, port = hostport.rpartition(":")
    return host.strip("[]"), int(port)


def require_kafka(bootstrap: str) -> None:
    """Fails the test unless a Kafka broker answers a metadata request at ``bootstrap``."""
    first = bootstrap.split(",")[0]
    host, port = _host_port(first)
    if not tcp_reachable(host, port):
        pytest.fail(
            f"Kafka is not reachable at {bootstrap}: {START_HINT.format(name='kafka')}",
            pytrace=False,
        )

    async def metadata() -> None:
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        try:
            await producer.start()
        finally:
            await producer.stop()

    problem = None
    try:
        asyncio.run(asyncio.wait_for(metadata(), 20))
    except Exception as exc:
        problem = repr(exc)
    if problem:  # failed outside the except block, so the report has no chained traceback
        pytest.fail(
            f"Kafka at {bootstrap} accepts TCP but does not answer metadata requests ({problem}); "
            "check .run/kafka/logs/server.log",
            pytrace=False,
        )


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def delete_topics(bootstrap: str, prefixes: Iterable[str]) -> int:
    """Delete the topics whose names start with one of ``prefixes``; returns how many.

    Every test app (and bench run) gets its own topics; without this a developer's broker
    gains hundreds of partitions per run, and its metadata and rebalances slow down."""
    wanted = tuple(prefixes)
    if not wanted:
        return 0

    async def run() -> int:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            doomed = [t for t in await admin.list_topics() if t.startswith(wanted)]
            for start in range(0, len(doomed), 100):
                await admin.delete_topics(doomed[start : start + 100])
            return len(doomed)
        finally:
            await admin.close()

    return asyncio.run(run())


async def fetchval(database_url: str, query: str, *args: Any) -> Any:
    """One value from a test's database, on a connection of its own (not the worker's)."""
    import asyncpg

    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


def require_postgres(url: str) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5432
    if not tcp_reachable(host, port):
        pytest.fail(
            f"PostgreSQL is not reachable at {host}:{port}: {START_HINT.format(name='postgres')}",
            pytrace=False,
        )

    async def probe() -> None:
        import asyncpg

        conn = await asyncpg.connect(url, timeout=10)
        await conn.close()

    problem = None
    try:
        asyncio.run(probe())
    except Exception as exc:
        problem = repr(exc)
    if problem:
        pytest.fail(f"cannot log in to PostgreSQL as {_redact(url)}: {problem}", pytrace=False)


def require_rabbitmq(url: str) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5672
    if not tcp_reachable(host, port):
        pytest.fail(
            f"RabbitMQ is not reachable at {host}:{port}: {START_HINT.format(name='rabbitmq')}",
            pytrace=False,
        )


# ---------------------------------------------------------------------------- databases


def _with_database(url: str, dbname: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + dbname))


def create_database(admin_url: str, prefix: str = "fineract_hub_test") -> tuple[str, str]:
    """Creates a fresh database owned by the admin URL's role; returns (name, url)."""
    import asyncpg

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"

    async def run() -> None:
        conn = await asyncpg.connect(admin_url, timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(run())
    return name, _with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(admin_url, timeout=10)
        try:
            for attempt in range(10):
                try:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    return
                except asyncpg.InsufficientPrivilegeError:
                    # An autovacuum worker (a superuser backend) is in the database and FORCE
                    # may not end it; it leaves within moments.
                    if attempt == 9:
                        print(f"note: test database {name} left behind (autovacuum busy)")
                        return
                    await asyncio.sleep(0.5)
        finally:
            await conn.close()

    asyncio.run(run())


# -------------------------------------------------------------------------------- Kafka


async def produce_raw(
    bootstrap: str,
    topic: str,
    records: Iterable[tuple[bytes | None, bytes | None]],
    *,
    partition: int | None = None,
) -> list[Any]:
    """Sends raw (key, value) byte pairs like Fineract's producer (no headers); returns metadata."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value=value, key=key, partition=partition)
            for key, value in records
        ]
        return [await f for f in futures]
    finally:
        await producer.stop()


_NAME_OK = re.compile(r"[^a-zA-Z0-9._-]+")


def unique(prefix: str, hint: str = "") -> str:
    """A Kafka-topic/Faust-app safe unique name: ``prefix-hint-<random>``."""
    hint = _NAME_OK.sub("-", hint).strip("-")[:60]
    parts = [p for p in (_NAME_OK.sub("-", prefix), hint, uuid.uuid4().hex[:10]) if p]
    return "-".join(parts)


# ----------------------------------------------------------------------- Java fixtures


@dataclass(frozen=True)
class FixtureEvent:
    """One event written by ``scripts/fixtures write``: raw Kafka key/value plus manifest entry."""

    name: str
    key: bytes
    value: bytes
    manifest: dict[str, Any] = field(repr=False)

    @property
    def key_id(self) -> int:
        return int.from_bytes(self.key, "big", signed=True)


def write_fineract_fixtures(dest: Path, schema_dir: Path) -> dict[str, FixtureEvent]:
    """Runs ``scripts/fixtures write dest`` (builds the Java project once) and loads the result."""
    env = dict(os.environ, HUB_AVRO_SCHEMA_DIR=str(schema_dir))
    proc, problem = None, None
    try:
        proc = subprocess.run(
            [str(REPO_ROOT / "scripts" / "fixtures"), "write", str(dest)],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        problem = repr(exc)
    if proc is None:
        pytest.fail(f"scripts/fixtures write could not run: {problem}", pytrace=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        pytest.fail(
            f"scripts/fixtures write failed (exit {proc.returncode}); "
            f"Java 17 and Maven are needed:\n{tail}",
            pytrace=False,
        )
    manifest = json.loads((dest / "manifest.json").read_text())
    events: dict[str, FixtureEvent] = {}
    for entry in manifest["events"]:
        events[entry["name"]] = FixtureEvent(
            name=entry["name"],
            key=(dest / entry["keyFile"]).read_bytes(),
            value=(dest / entry["valueFile"]).read_bytes(),
            manifest=entry,
        )
    return events


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """A uniquely named database for as long as the block runs."""
    name, url = create_database(admin_url)
    try:
        yield url
    finally:
        drop_database(admin_url, name)
