"""The PostgreSQL pool and the migrations the service applies to itself at start-up."""

from __future__ import annotations

import json
import logging
from importlib import resources

import asyncpg

log = logging.getLogger(__name__)

_MIGRATION_LOCK = 0x46494E48  # arbitrary advisory lock id ("FINH"): one migrator at a time


#: SQLSTATE classes that say the rows themselves are wrong: data exceptions (bad text, out of
#: range) and integrity constraint violations. Only these make the same rows fail forever.
_REFUSAL_CLASSES = frozenset({"22", "23"})


def rows_refused(exc: BaseException) -> bool:
    """Whether PostgreSQL refused these rows, as it would every time.

    Everything else is waited out, even when it looks permanent: a failover answers "read-only
    transaction" for a while, a revoked privilege comes back, and a bug of ours in a statement
    is better as a loud stall (events wait in Kafka) than as every event dead-lettered.
    """
    return isinstance(exc, asyncpg.PostgresError) and str(exc.sqlstate or "")[:2] in (
        _REFUSAL_CLASSES
    )


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=30
    )
    assert pool is not None
    return pool


def _migration_files() -> list[tuple[int, str, str]]:
    folder = resources.files("fineract_hub.storage") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text()))
    return sorted(found)


async def migrate(pool: asyncpg.Pool) -> list[str]:
    """Apply pending migrations in order, each in its own transaction; returns what was applied."""
    applied: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS hub_schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {
                r["version"] for r in await conn.fetch("SELECT version FROM hub_schema_migrations")
            }
            for version, name, sql in _migration_files():
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO hub_schema_migrations (version, name) VALUES ($1, $2)",
                        version,
                        name,
                    )
                log.info("applied migration %s", name)
                applied.append(name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied
