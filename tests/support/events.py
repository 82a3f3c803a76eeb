"""Fresh Fineract-format records for behaviour tests (unique idempotency keys per call).

The wire format itself is proven by the Java-built fixtures; these let each test have its own
events without colliding with other tests' deliveries.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import cache
from typing import Any

from fineract_hub.ingest.schemas import SchemaRegistry
from tests.support import avro_encode
from tests.support.worker import Worker


@cache
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(avro_encode.schema_dir())


def client_created(client_id: int, **payload: Any) -> tuple[bytes, bytes, str]:
    data = avro_encode.client_payload(client_id)
    data.update(payload)
    idem = str(uuid.uuid4())
    value = avro_encode.event(
        registry(),
        "ClientCreateBusinessEvent",
        "Client",
        avro_encode.CLIENT,
        data,
        idempotency_key=idem,
    )
    return avro_encode.key(client_id), value, idem


def loan_approved(loan_id: int, principal: str = "1000.50") -> tuple[bytes, bytes, str]:
    data = avro_encode.loan_account_payload(loan_id, periods=2)
    data["approvedPrincipal"] = Decimal(principal)
    idem = str(uuid.uuid4())
    value = avro_encode.event(
        registry(),
        "LoanApprovedBusinessEvent",
        "Loan",
        avro_encode.LOAN_ACCOUNT,
        data,
        idempotency_key=idem,
    )
    return avro_encode.key(loan_id), value, idem


@asynccontextmanager
async def webhook(worker: Worker, **registration: Any) -> AsyncIterator[dict[str, Any]]:
    """Register a webhook for the duration of a test, so tests sharing a worker stay apart."""
    registration.setdefault("name", f"test-{uuid.uuid4().hex[:8]}")
    created = await worker.ok("registerWebhook", registration)
    try:
        yield created
    finally:
        await worker.action("deleteWebhook", {"webhookId": created["id"]})


async def executions(
    worker: Worker, webhook_id: str, count: int, timeout: float = 20.0, **filters: Any
) -> dict[str, Any]:
    """getWebhookExecutions, polled until ``count`` rows exist (history is written in batches)."""
    deadline = time.monotonic() + timeout
    while True:
        found = await worker.ok("getWebhookExecutions", {"webhookId": webhook_id, **filters})
        if found["total"] >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.3)
