"""A delivery left in PostgreSQL (its endpoint's queue was full) is taken while new events keep
arriving: new events may fill only half an endpoint's queue, the rest is the scheduler's.
(Found in review: when new events could fill the whole queue, the scheduler, which skips full
endpoints, never got to the older delivery.)"""
from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from fineract_hub.delivery.dispatcher import DeliveryJob, Dispatcher
from fineract_hub.delivery.fanout import WebhookFanout
from fineract_hub.delivery.scheduler import RetryScheduler
from fineract_hub.models.events import CanonicalEvent

LIMIT = 4


def _event(i: int) -> CanonicalEvent:
    return CanonicalEvent(id=f"e{i}", type="t", fineract_type="T", category="c", tenant="d",
                          created_at="2024-01-01T00:00:00Z", business_date=None, aggregate_id=i,
                          data={})


class _Store:
    def __init__(self) -> None:
        self.pending: dict[str, Any] = {}  # delivery id -> row

    async def claim_due(self, limit: int, lease: float, skip: Any = ()) -> list[Any]:
        rows = [r for r in self.pending.values() if r.webhook_id not in set(skip)][:limit]
        for r in rows:
            del self.pending[r.id]
        return rows


async def test_a_delivery_left_in_the_database_is_taken_while_new_events_keep_coming() -> None:
    settings = SimpleNamespace(delivery_concurrency=10, endpoint_concurrency=LIMIT,
                               endpoint_queue_limit=LIMIT, webhook_max_timeout=5,
                               delivery_lease_seconds=30, scheduler_interval_seconds=1)
    wakeup = asyncio.Event()
    store = _Store()
    dispatcher = Dispatcher(
        settings, store, None, None, None,  # type: ignore[arg-type]
        on_disable=None, on_exhausted=None, on_outcomes=None,  # type: ignore[arg-type]
        room_freed=wakeup,
    )
    gates: dict[str, asyncio.Event] = {}
    sent: list[str] = []

    async def attempt(job: Any) -> Any:
        gates[job.delivery_id] = asyncio.Event()
        await gates[job.delivery_id].wait()
        sent.append(job.delivery_id)

    async def complete(job: Any, result: Any) -> None:
        return None

    dispatcher.attempt_now = attempt  # type: ignore[method-assign]
    dispatcher.complete = complete  # type: ignore[method-assign]
    webhook = SimpleNamespace(id="wh", ordered=False, is_active=True)
    registry = SimpleNamespace(matching=lambda e: [webhook], get=lambda wid: webhook)
    fanout = WebhookFanout(settings, registry, store, dispatcher,  # type: ignore[arg-type]
                           SimpleNamespace(unmatched=None), wakeup)  # type: ignore[arg-type]
    scheduler = RetryScheduler(
        settings, store, registry, dispatcher, wakeup  # type: ignore[arg-type]
    )

    def fan(events: list[CanonicalEvent]) -> None:  # what WebhookFanout.handle does after insert
        _, deliveries, jobs = fanout.plan(events)
        for d in deliveries:
            if d.id in jobs:
                job = DeliveryJob(d.id, d.message_id, webhook, jobs[d.id][1], 1)  # type: ignore[arg-type]
                dispatcher.submit(job)
            else:
                store.pending[d.id] = SimpleNamespace(id=d.id, message_id=d.id, webhook_id="wh",
                                                      attempts=0, is_test=False,
                                                      event_body=_event(0).to_json())
                wakeup.set()

    fan([_event(i) for i in range(LIMIT + 1)])  # queue full, one delivery spilled
    await asyncio.sleep(0)
    spilled = next(iter(store.pending))
    for n in range(200):  # steady load: one delivery finishes, one new event arrives
        next(iter(g for g in gates.values() if not g.is_set())).set()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        fan([_event(1000 + n)])
        await scheduler.run_once()  # the scheduler runs after the batch (it was kicked)
        await asyncio.sleep(0)
    assert spilled not in store.pending, (
        f"{len(sent)} later deliveries went out; {spilled} still pending; "
        f"room_freed={wakeup.is_set()}")
