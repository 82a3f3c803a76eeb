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
from fineract_hub.storage.db import is_outage
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
        lease_deadline = leased_at + self.settings.delivery_lease_seconds
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
                    lease_deadline=lease_deadline,
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
    ) -> tuple[set[str], set[str], float]:
        """Delivery and event ids stored now, and the monotonic time before the leases began.

        Without the rows the batch must not be acked, so outages are waited out here. Rows the
        database refuses (bad data, a violated constraint) would be refused forever and stall
        the partition: then the batch is stored event by event and refused events are
        dead-lettered.
        """
        delay = 0.2
        one_by_one = False
        settled: dict[str, set[str]] = {}  # event id -> its deliveries stored (or {} refused)
        while True:
            leased_at = time.monotonic()
            try:
                if one_by_one:
                    await self._insert_each(stored, deliveries, events, settled)
                    return set().union(*settled.values()), set(), leased_at
                inserted, fresh = await self.store.insert_new_with_events(stored, deliveries)
                return inserted, fresh, leased_at
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not one_by_one and not is_outage(exc):
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
        settled: dict[str, set[str]],
    ) -> None:
        """Stores or dead-letters each event not in ``settled`` yet, and adds it there.

        Outages propagate: the caller waits and calls again, and events settled before the
        outage are neither stored nor dead-lettered twice."""
        by_id = {event.id: event for event in events}
        for row in stored:
            if row[0] in settled:
                continue
            mine = [d for d in deliveries if d.event_id == row[0]]
            try:
                settled[row[0]] = await self.store.insert_new([row], mine)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_outage(exc):
                    raise
                log.error("event refused by PostgreSQL, dead-lettering it: %s", exc)
                if self.dead_letter is not None:
                    await self.dead_letter(by_id[row[0]], f"not storable: {exc}")
                settled[row[0]] = set()
