"""/health: can this worker reach its broker and database, and has it loaded its registrations."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaClient

from fineract_hub.hub import Hub

CHECK_TIMEOUT = 3.0


async def _kafka(bootstrap: str) -> str | None:
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await asyncio.wait_for(client.bootstrap(), CHECK_TIMEOUT)
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        await client.close()


async def _database(hub: Hub) -> str | None:
    try:
        await asyncio.wait_for(hub.started(), CHECK_TIMEOUT)
        assert hub.pool is not None
        await asyncio.wait_for(hub.pool.fetchval("SELECT 1"), CHECK_TIMEOUT)
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def health(hub: Hub) -> tuple[int, dict[str, Any]]:
    started = time.monotonic()
    kafka, database = await asyncio.gather(_kafka(hub.settings.kafka_bootstrap), _database(hub))
    checks = {
        "kafka": {"ok": kafka is None, "error": kafka},
        "database": {"ok": database is None, "error": database},
        "registry": {
            "ok": hub.ready.is_set(),
            "error": None if hub.ready.is_set() else "webhook registry not loaded yet",
        },
    }
    ok = all(c["ok"] for c in checks.values())
    return (200 if ok else 503), {
        "status": "ok" if ok else "unavailable",
        "checks": checks,
        "tookMs": int((time.monotonic() - started) * 1000),
    }
