"""Tasks of the webhook capability: registry reconciliation, retry scheduler, maintenance.

New events reach webhooks through the ingest agent's sinks (``streams/sinks.py``); what is left
for later (retries, busy or ordered endpoints, expired leases) the scheduler takes from
PostgreSQL.
"""

from __future__ import annotations

import logging
import time

import faust

from fineract_hub.delivery.scheduler import RetryScheduler
from fineract_hub.hub import Hub
from fineract_hub.streams.overlap import until_done

log = logging.getLogger(__name__)

MAINTENANCE_SECONDS = 30.0
RETENTION_SECONDS = 3600.0


def register(app: faust.App, hub: Hub) -> None:
    @app.task
    async def reconcile_registry() -> None:
        await until_done(hub.reconcile_registry, "loading webhook registrations", first_delay=1.0)

    @app.task
    async def retry_scheduler() -> None:
        await hub.started()
        await hub.ready.wait()
        scheduler = RetryScheduler(
            hub.settings, hub.delivery_store, hub.registry, hub.dispatcher, hub.scheduler_wakeup
        )
        await scheduler.run_forever()

    last_purge = [0.0]

    @app.timer(MAINTENANCE_SECONDS)
    async def maintenance() -> None:
        if not hub.ready.is_set():
            return
        try:
            await hub.webhooks.disable_long_failing()
            hub.metrics.backlog.set(await hub.delivery_store.backlog())
            hub.metrics.in_flight.set(hub.dispatcher.in_flight)
            if time.monotonic() - last_purge[0] > RETENTION_SECONDS:
                last_purge[0] = time.monotonic()
                attempts, deliveries = await hub.delivery_store.purge_older_than(
                    hub.settings.history_retention_days
                )
                if attempts or deliveries:
                    log.info(
                        "history retention",
                        extra={"attempts_deleted": attempts, "deliveries_deleted": deliveries},
                    )
        except Exception:
            log.exception("webhook maintenance failed")
