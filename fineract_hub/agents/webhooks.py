"""Agents and tasks of the webhook capability: fan-out, retry scheduler, maintenance."""

from __future__ import annotations

import asyncio
import logging
import time

import faust

from fineract_hub.delivery.fanout import WebhookFanout
from fineract_hub.delivery.scheduler import RetryScheduler
from fineract_hub.hub import Hub
from fineract_hub.models.events import CanonicalEvent
from fineract_hub.streams.ingest import dead_letter, send_until_accepted

log = logging.getLogger(__name__)

FANOUT_BATCH = 500
FANOUT_WINDOW = 0.02  # seconds: small batches at low rates, large ones under load
MAINTENANCE_SECONDS = 30.0
RETENTION_SECONDS = 3600.0


def register(app: faust.App, hub: Hub) -> None:
    @app.agent(hub.topics.events, name="webhook-fanout")
    async def fanout(stream: faust.StreamT) -> None:
        await hub.started()
        await hub.ready.wait()
        handler = WebhookFanout(
            hub.settings,
            hub.registry,
            hub.delivery_store,
            hub.dispatcher,
            hub.metrics,
            hub.scheduler_wakeup,
            dead_letter=lambda raw, reason: send_until_accepted(
                hub.topics.dead_letters, None,
                dead_letter("not_storable", reason, None, raw,
                            {"topic": hub.settings.events_topic}),
                "dead letter"),
        )
        async for values in stream.take(FANOUT_BATCH, within=FANOUT_WINDOW):
            events = []
            for raw in values:
                try:
                    events.append(CanonicalEvent.from_json(raw))
                except Exception as exc:
                    hub.metrics.dead_letters.labels(reason="bad_canonical_event").inc()
                    await send_until_accepted(
                        hub.topics.dead_letters,
                        None,
                        dead_letter(
                            "bad_canonical_event",
                            f"{type(exc).__name__}: {exc}",
                            None,
                            raw,
                            {"topic": hub.settings.events_topic},
                        ),
                        "dead letter",
                    )
            await handler.handle(events)

    @app.task
    async def reconcile_registry() -> None:
        delay = 1.0
        while True:
            try:
                await hub.reconcile_registry()
                return
            except Exception:
                log.exception("could not load webhook registrations; retrying in %.0fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

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
