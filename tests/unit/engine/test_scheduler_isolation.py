"""The retry scheduler leaves a full endpoint's backlog in PostgreSQL (isolation)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from fineract_hub.delivery.scheduler import RetryScheduler


class _Store:
    def __init__(self) -> None:
        self.skipped: list[str] | None = None

    async def claim_due(self, limit: int, lease: float, skip_webhooks: Any = ()) -> list[Any]:
        self.skipped = list(skip_webhooks)
        return []


class _Dispatcher:
    max_held = 100
    in_flight = 0

    def saturated_endpoints(self) -> list[str]:
        return ["wh_slow"]


async def test_a_pass_skips_endpoints_whose_queue_is_full() -> None:
    store = _Store()
    scheduler = RetryScheduler(
        SimpleNamespace(delivery_lease_seconds=30),  # type: ignore[arg-type]
        store,  # type: ignore[arg-type]
        registry=None,  # type: ignore[arg-type]
        dispatcher=_Dispatcher(),  # type: ignore[arg-type]
        wakeup=asyncio.Event(),
    )
    await scheduler.run_once()
    assert store.skipped == ["wh_slow"]


async def test_the_dispatcher_reports_a_full_endpoint_and_wakes_the_scheduler_when_it_drains(
) -> None:
    from fineract_hub.delivery.dispatcher import DeliveryJob, Dispatcher

    settings = SimpleNamespace(
        delivery_concurrency=10, endpoint_concurrency=2, endpoint_queue_limit=4,
        webhook_max_timeout=5, delivery_lease_seconds=30,
    )
    room_freed = asyncio.Event()
    dispatcher = Dispatcher(
        settings, None, None, None, None,  # type: ignore[arg-type]
        on_disable=None, on_exhausted=None, on_outcomes=None,  # type: ignore[arg-type]
        room_freed=room_freed,
    )
    gate = asyncio.Event()

    async def attempt(job: Any) -> Any:
        await gate.wait()

    async def complete(job: Any, result: Any) -> None:
        return None

    dispatcher.attempt_now = attempt  # type: ignore[method-assign]
    dispatcher.complete = complete  # type: ignore[method-assign]
    webhook = SimpleNamespace(id="wh_1")
    for i in range(4):
        dispatcher.submit(DeliveryJob(f"d{i}", f"m{i}", webhook, None, 1))  # type: ignore[arg-type]

    assert dispatcher.saturated_endpoints() == ["wh_1"]
    assert not room_freed.is_set()
    gate.set()
    await asyncio.wait_for(room_freed.wait(), 1)
    await asyncio.sleep(0.01)
    assert dispatcher.saturated_endpoints() == []
