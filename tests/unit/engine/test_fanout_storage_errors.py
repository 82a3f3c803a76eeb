"""What fan-out does when PostgreSQL does not take a batch: wait out outages, never stall on
rows it refuses (those events are dead-lettered, the rest of the batch is stored)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import asyncpg

from fineract_hub.delivery.fanout import WebhookFanout
from fineract_hub.delivery.registry import WebhookRegistry
from fineract_hub.metrics import Metrics
from fineract_hub.models.events import CanonicalEvent
from fineract_hub.models.webhooks import Webhook


def _webhook() -> Webhook:
    return Webhook(id="wh", name="wh", event_type="*", url="http://127.0.0.1:1/",
                   http_method="POST", content_type="application/json", headers={},
                   payload_template=None, is_active=True, retry_count=None,
                   retry_interval=None, timeout=5, ordered=False, secret_enc="x")


def _event(event_id: str) -> CanonicalEvent:
    return CanonicalEvent(id=event_id, type="client.created", fineract_type="T", category="c",
                          tenant="default", created_at="2024-03-01T00:00:00Z",
                          business_date=None, aggregate_id=1, data={})


class _Store:
    """Fails the first ``outages`` calls with a lost connection, and refuses event ``bad``;
    ``outage_at``: the call number at which one more outage happens."""

    def __init__(self, outages: int = 0, bad: str | None = None,
                 outage_at: int | None = None,
                 outage: BaseException | None = None) -> None:
        self.outages = outages
        self.bad = bad
        self.outage_at = outage_at
        self.outage = outage or ConnectionRefusedError(111, "Connection refused")
        self.calls = 0
        self.stored: list[str] = []

    async def insert_new_with_events(self, events: Any, deliveries: Any) -> Any:
        self.calls += 1
        if self.calls <= self.outages or self.calls == self.outage_at:
            raise self.outage
        if any(e[0] == self.bad for e in events):
            raise asyncpg.ForeignKeyViolationError("violates foreign key constraint")
        self.stored.extend(e[0] for e in events)
        return {d.id for d in deliveries}, {e[0] for e in events}

    async def insert_new(self, events: Any, deliveries: Any) -> set[str]:
        inserted, _ = await self.insert_new_with_events(events, deliveries)
        return inserted


class _Dispatcher:
    def __init__(self, room: int = 0) -> None:
        self.room = room  # 0: everything left to the scheduler, no HTTP in these tests
        self.jobs: list[Any] = []

    def room_for_new(self, webhook_id: str) -> int:
        return self.room

    def submit(self, job: Any) -> None:
        self.jobs.append(job)

    def mark_spilled(self, webhook_id: str) -> None:
        pass

    async def wait_for_room(self) -> None:
        pass


def _fanout(store: _Store, letters: list[tuple[str, str]],
            dispatcher: _Dispatcher | None = None) -> WebhookFanout:
    registry = WebhookRegistry({})
    registry.put(_webhook())

    async def dead_letter(event: CanonicalEvent, reason: str) -> None:
        letters.append((event.id, reason))

    return WebhookFanout(SimpleNamespace(delivery_lease_seconds=60), registry,  # type: ignore[arg-type]
                         store, dispatcher or _Dispatcher(), Metrics(),  # type: ignore[arg-type]
                         asyncio.Event(),
                         dead_letter=dead_letter)


async def test_an_outage_is_waited_out_and_the_batch_stored_whole() -> None:
    store, letters = _Store(outages=2), []
    stored = await _fanout(store, letters).handle([_event("e1"), _event("e2")])
    assert stored == 2 and letters == [] and store.calls == 3


async def test_a_refused_event_is_dead_lettered_and_the_rest_of_its_batch_stored() -> None:
    store, letters = _Store(bad="e2"), []
    stored = await asyncio.wait_for(
        _fanout(store, letters).handle([_event("e1"), _event("e2"), _event("e3")]), 5
    )
    assert stored == 2
    assert [event_id for event_id, _ in letters] == ["e2"]
    assert "foreign key" in letters[0][1]


async def test_an_outage_while_storing_event_by_event_settles_each_event_once() -> None:
    # Call 1: the batch is refused (e2); call 2: e1 stored; call 3: e2 refused; call 4: outage.
    store, letters = _Store(bad="e2", outage_at=4), []
    stored = await asyncio.wait_for(
        _fanout(store, letters).handle([_event("e1"), _event("e2"), _event("e3")]), 5
    )
    assert stored == 2
    assert store.stored == ["e1", "e3"]
    assert [event_id for event_id, _ in letters] == ["e2"]


async def test_a_read_only_database_during_a_failover_is_waited_out_not_dead_lettered() -> None:
    failover = asyncpg.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only "
                                                   "transaction")
    store, letters = _Store(outages=2, outage=failover), []
    stored = await _fanout(store, letters).handle([_event("e1"), _event("e2")])
    assert stored == 2 and letters == [] and store.calls == 3


async def test_leases_taken_before_an_outage_keep_their_time() -> None:
    # e1 is stored (leased) before the outage hits e3: its job must not believe its lease
    # began after the outage, or it could be sent after another worker took it over.
    store, letters, dispatcher = _Store(bad="e2", outage_at=4), [], _Dispatcher(room=10)
    await _fanout(store, letters, dispatcher).handle([_event("e1"), _event("e2"), _event("e3")])
    deadline = {job.event.id: job.lease_deadline for job in dispatcher.jobs}
    assert deadline["e3"] - deadline["e1"] >= 0.2  # the first backoff
