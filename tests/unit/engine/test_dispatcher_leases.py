"""A job that waited in memory past its lease is not sent: the scheduler owns the row again."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

from fineract_hub.delivery.dispatcher import DeliveryJob, Dispatcher
from fineract_hub.metrics import Metrics


def _dispatcher() -> tuple[Dispatcher, list[str]]:
    settings = SimpleNamespace(
        delivery_concurrency=10, endpoint_concurrency=2, endpoint_queue_limit=100,
        webhook_max_timeout=5, delivery_lease_seconds=60,
    )
    dispatcher = Dispatcher(
        settings, None, None, None, Metrics(),  # type: ignore[arg-type]
        on_disable=None, on_exhausted=None, on_outcomes=None,  # type: ignore[arg-type]
    )
    sent: list[str] = []

    async def attempt(job: Any) -> Any:
        sent.append(job.delivery_id)

    async def complete(job: Any, result: Any) -> None:
        return None

    dispatcher.attempt_now = attempt  # type: ignore[method-assign]
    dispatcher.complete = complete  # type: ignore[method-assign]
    return dispatcher, sent


def _job(delivery_id: str, lease_left: float | None) -> DeliveryJob:
    webhook = SimpleNamespace(id="wh", timeout=10)
    deadline = None if lease_left is None else time.monotonic() + lease_left
    return DeliveryJob(delivery_id, delivery_id, webhook, None, 1,  # type: ignore[arg-type]
                       lease_deadline=deadline)


async def test_a_job_whose_lease_cannot_cover_the_attempt_is_not_sent() -> None:
    dispatcher, sent = _dispatcher()
    await dispatcher.submit(_job("late", lease_left=5))  # less than the 10 s timeout
    assert sent == []
    assert dispatcher.metrics.lease_expired_unsent._value.get() == 1
    assert dispatcher.queued("wh") == 0


async def test_a_job_with_lease_to_spare_is_sent() -> None:
    dispatcher, sent = _dispatcher()
    await dispatcher.submit(_job("fresh", lease_left=60))
    assert sent == ["fresh"]


async def test_a_job_without_a_lease_is_sent() -> None:
    dispatcher, sent = _dispatcher()
    await dispatcher.submit(_job("test", lease_left=None))
    assert sent == ["test"]


async def test_an_endpoint_that_completes_quickly_may_hold_more_in_memory() -> None:
    dispatcher, _ = _dispatcher()
    assert dispatcher.queue_limit("wh") == 4  # unmeasured: twice its concurrency
    started = time.monotonic()
    while time.monotonic() - started < 1.05:
        await asyncio.gather(*(dispatcher.submit(_job(f"d{i}", 60)) for i in range(20)))
    assert dispatcher.queue_limit("wh") == 100  # the ceiling, HUB_ENDPOINT_QUEUE_LIMIT


def test_one_endpoint_can_never_hold_the_whole_worker_budget() -> None:
    # Otherwise one fast endpoint that starts timing out after a burst holds back all ingest.
    dispatcher, _ = _dispatcher()
    dispatcher._rates["wh"] = SimpleNamespace(current=lambda now: 1e9)  # type: ignore[assignment]
    assert dispatcher.queue_limit("wh") == 100
    assert dispatcher.max_held >= 2 * dispatcher.queue_limit("wh")
