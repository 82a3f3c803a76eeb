"""Picks up due retries, deliveries a busy or ordered endpoint left for later, and expired leases.

Runs in every worker; ``FOR UPDATE SKIP LOCKED`` in the claim keeps workers from taking the same
rows, and the lease keeps a crashed worker's rows from being lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import asyncpg

from fineract_hub.config import Settings
from fineract_hub.delivery.dispatcher import DeliveryJob, Dispatcher
from fineract_hub.delivery.registry import WebhookRegistry
from fineract_hub.models.events import CanonicalEvent
from fineract_hub.storage.deliveries import DeliveryStore, DeliveryUpdate

log = logging.getLogger(__name__)

CLAIM_LIMIT = 500
#: Shortest pause between passes that found less than a full batch: a busy endpoint's spills
#: and drains wake the scheduler often, and each pass is an index scan in PostgreSQL.
MIN_PASS_INTERVAL = 0.05


class RetryScheduler:
    def __init__(
        self,
        settings: Settings,
        store: DeliveryStore,
        registry: WebhookRegistry,
        dispatcher: Dispatcher,
        wakeup: asyncio.Event,
    ) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry
        self.dispatcher = dispatcher
        self.wakeup = wakeup

    async def run_once(self) -> int:
        room = self.dispatcher.max_held - self.dispatcher.in_flight
        if room <= 0:
            return 0
        leased_at = time.monotonic()
        claimed = await self.store.claim_due(
            min(CLAIM_LIMIT, room),
            self.settings.delivery_lease_seconds,
            self.dispatcher.saturated_endpoints(),
        )
        closed: list[DeliveryUpdate] = []
        for row in claimed:
            webhook = self.registry.get(row.webhook_id)
            if webhook is None or not webhook.is_active:
                closed.append(
                    DeliveryUpdate(
                        row.id,
                        "endpoint_disabled",
                        row.attempts,
                        None,
                        "webhook disabled or deleted",
                    )
                )
                continue
            event = CanonicalEvent.from_json(row.event_body)
            self.dispatcher.submit(
                DeliveryJob(
                    row.id,
                    row.message_id,
                    webhook,
                    event,
                    row.attempts + 1,
                    is_test=row.is_test,
                    lease_deadline=leased_at + self.settings.delivery_lease_seconds,
                    event_stored=True,
                )
            )
        if closed:
            await self.store.record([], closed)
        return len(claimed)

    async def run_forever(self) -> None:
        while True:
            try:
                claimed = await self.run_once()
            except asyncio.CancelledError:
                raise
            except asyncpg.InterfaceError as exc:
                if "closing" in str(exc) or "closed" in str(exc):
                    return  # the worker is shutting down and closed the pool
                log.exception("retry scheduler pass failed")
                claimed = 0
            except Exception:
                log.exception("retry scheduler pass failed")
                claimed = 0
            if claimed >= CLAIM_LIMIT:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), self.settings.scheduler_interval_seconds)
            await asyncio.sleep(MIN_PASS_INTERVAL)
            self.wakeup.clear()
