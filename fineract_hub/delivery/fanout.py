"""Canonical events → webhook deliveries: match, persist under a lease, hand to the dispatcher.

The batch is durable in PostgreSQL before the Kafka offsets are committed, which is what makes
the whole path at-least-once: whatever happens to the HTTP attempts afterwards, the rows are
there for the scheduler.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from fineract_hub.config import Settings
from fineract_hub.delivery.dispatcher import DeliveryJob, Dispatcher
from fineract_hub.delivery.ids import message_id
from fineract_hub.delivery.registry import WebhookRegistry
from fineract_hub.metrics import Metrics
from fineract_hub.models.events import CanonicalEvent
from fineract_hub.models.webhooks import Webhook
from fineract_hub.storage.db import rows_refused
from fineract_hub.storage.deliveries import DeliveryStore, NewDelivery

log = logging.getLogger(__name__)


class WebhookFanout:
    name = "webhooks"

    def __init__(
        self,
        settings: Settings,
        registry: WebhookRegistry,
        store: DeliveryStore,
        dispatcher: Dispatcher,
        metrics: Metrics,
        kick_scheduler: asyncio.Event,
        dead_letter: Callable[[CanonicalEvent, str], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.store = store
        self.dispatcher = dispatcher
        self.metrics = metrics
        self.kick_scheduler = kick_scheduler
        self.dead_letter = dead_letter

    def plan(
        self, events: Sequence[CanonicalEvent]
    ) -> tuple[
        list[tuple[str, str, str]], list[NewDelivery], dict[str, tuple[Webhook, CanonicalEvent]]
    ]:
        """Pure: which deliveries a batch creates, and which may be attempted right away."""
        stored: dict[str, tuple[str, str, str]] = {}
        deliveries: list[NewDelivery] = []
        jobs: dict[str, tuple[Webhook, CanonicalEvent]] = {}
        budget: dict[str, int] = {}
        planned: set[str] = set()
        for event in events:
            matches = self.registry.matching(event)
            if not matches:
                self.metrics.unmatched.inc()
                continue
            stored.setdefault(event.id, (event.id, event.type, event.to_json().decode()))
            for webhook in matches:
                mid = message_id(event.id, webhook.id)
                if mid in planned:  # the same event twice in one batch (Fineract re-sent it)
                    continue
                planned.add(mid)
                room = budget.get(webhook.id)
                if room is None:
                    room = budget[webhook.id] = self.dispatcher.room_for_new(webhook.id)
                inline = not webhook.ordered and room > 0
                if not webhook.ordered and not inline:
                    self.dispatcher.mark_spilled(webhook.id)
                if inline:
                    budget[webhook.id] = room - 1
                    jobs[mid] = (webhook, event)
                deliveries.append(
                    NewDelivery(
                        id=mid,
                        message_id=mid,
                        webhook_id=webhook.id,
                        event_id=event.id,
                        event_type=event.type,
                        aggregate_id=event.aggregate_id,
                        ordered=webhook.ordered,
                        status="in_flight" if inline else "pending",
                        # Left for the scheduler (ordered, or the endpoint's queue is full): due
                        # now; the scheduler takes it once the endpoint has room again.
                        due_in=self.settings.delivery_lease_seconds if inline else 0.0,
                    )
                )
        return list(stored.values()), deliveries, jobs

    async def handle(self, events: Sequence[CanonicalEvent]) -> int:
        stored, deliveries, jobs = self.plan(events)
        if not deliveries:
            return 0
        inserted, fresh_events, leased_at = await self._insert_until_stored(
            stored, deliveries, events
        )
        lease = self.settings.delivery_lease_seconds
        self.metrics.deliveries_created.inc(len(inserted))
        self.metrics.duplicates.inc(len(deliveries) - len(inserted))
        for delivery in deliveries:
            if delivery.id not in inserted:
                continue
            job = jobs.get(delivery.id)
            if job is None:
                self.kick_scheduler.set()
                continue
            webhook, event = job
            self.dispatcher.submit(
                DeliveryJob(
                    delivery.id,
                    delivery.message_id,
                    webhook,
                    event,
                    1,
                    lease_deadline=leased_at[event.id] + lease,
                    event_stored=event.id in fresh_events,
                )
            )
        await self.dispatcher.wait_for_room()
        return len(inserted)

    async def _insert_until_stored(
        self,
        stored: list[tuple[str, str, str]],
        deliveries: list[NewDelivery],
        events: Sequence[CanonicalEvent],
    ) -> tuple[set[str], set[str], dict[str, float]]:
        """Delivery and event ids stored now, and per event the monotonic time just before
        its rows (and leases) were written.

        Without the rows the batch must not be acked, so failures are waited out here. Rows the
        database refuses (bad data, a violated constraint) would be refused forever and stall
        the partition: then the batch is stored event by event and refused events are
        dead-lettered.
        """
        delay = 0.2
        one_by_one = False
        settled: dict[str, tuple[set[str], float]] = {}  # event id -> deliveries stored, when
        while True:
            try:
                if one_by_one:
                    await self._insert_each(stored, deliveries, events, settled)
                    inserted = set().union(*(ids for ids, _ in settled.values()))
                    return inserted, set(), {eid: at for eid, (_, at) in settled.items()}
                leased_at = time.monotonic()
                inserted, fresh = await self.store.insert_new_with_events(stored, deliveries)
                return inserted, fresh, dict.fromkeys((row[0] for row in stored), leased_at)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not one_by_one and rows_refused(exc):
                    log.error("PostgreSQL refused a batch of deliveries (%s); storing event by "
                              "event", exc)
                    one_by_one = True
                    continue
                log.error("could not store deliveries (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _insert_each(
        self,
        stored: list[tuple[str, str, str]],
        deliveries: list[NewDelivery],
        events: Sequence[CanonicalEvent],
        settled: dict[str, tuple[set[str], float]],
    ) -> None:
        """Stores or dead-letters each event not in ``settled`` yet, and adds it there.

        Failures other than refusals propagate: the caller waits and calls again, and events
        settled before are neither stored nor dead-lettered twice (nor their leases dated
        later than they began)."""
        by_id = {event.id: event for event in events}
        for row in stored:
            if row[0] in settled:
                continue
            mine = [d for d in deliveries if d.event_id == row[0]]
            leased_at = time.monotonic()
            try:
                settled[row[0]] = (await self.store.insert_new([row], mine), leased_at)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not rows_refused(exc):
                    raise
                log.error("event refused by PostgreSQL, dead-lettering it: %s", exc)
                if self.dead_letter is not None:
                    await self.dead_letter(by_id[row[0]], f"not storable: {exc}")
                settled[row[0]] = (set(), leased_at)
