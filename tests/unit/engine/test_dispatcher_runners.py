"""Each endpoint's jobs are worked through by at most HUB_ENDPOINT_CONCURRENCY runners: a slow
endpoint is limited on its own, others go on, and no submitted job is ever left unrun."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from fineract_hub.delivery.dispatcher import DeliveryJob, Dispatcher
from fineract_hub.metrics import Metrics


class Endpoints:
    """Attempts that finish when their endpoint's gate opens; counts what is in flight."""

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.in_flight: dict[str, int] = {}
        self.most: dict[str, int] = {}
        self.sent: list[str] = []

    async def attempt(self, job: Any) -> Any:
        wid = job.webhook.id
        self.in_flight[wid] = self.in_flight.get(wid, 0) + 1
        self.most[wid] = max(self.most.get(wid, 0), self.in_flight[wid])
        await self.gates.setdefault(wid, asyncio.Event()).wait()
        self.in_flight[wid] -= 1
        self.sent.append(job.delivery_id)

    def open(self, wid: str) -> None:
        self.gates.setdefault(wid, asyncio.Event()).set()


def dispatcher(endpoints: Endpoints) -> Dispatcher:
    settings = SimpleNamespace(
        delivery_concurrency=100, endpoint_concurrency=3, endpoint_queue_limit=100,
        webhook_max_timeout=5, delivery_lease_seconds=60,
    )
    d = Dispatcher(
        settings, None, None, None, Metrics(),  # type: ignore[arg-type]
        on_disable=None, on_exhausted=None, on_outcomes=None,  # type: ignore[arg-type]
    )

    async def complete(job: Any, result: Any) -> None:
        return None

    d.attempt_now = endpoints.attempt  # type: ignore[method-assign]
    d.complete = complete  # type: ignore[method-assign]
    return d


def job(wid: str, n: int) -> DeliveryJob:
    webhook = SimpleNamespace(id=wid, timeout=10)
    return DeliveryJob(f"{wid}-{n}", f"{wid}-{n}", webhook, None, 1)  # type: ignore[arg-type]


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_an_endpoint_never_has_more_attempts_in_flight_than_its_concurrency() -> None:
    endpoints = Endpoints()
    d = dispatcher(endpoints)
    done = [d.submit(job("slow", n)) for n in range(10)]
    await settle()
    assert endpoints.in_flight["slow"] == 3
    assert d.in_flight == 10
    endpoints.open("slow")
    await asyncio.gather(*done)
    assert endpoints.most["slow"] == 3
    assert sorted(endpoints.sent) == sorted(f"slow-{n}" for n in range(10))
    assert d.in_flight == 0


async def test_a_slow_endpoint_does_not_hold_back_another() -> None:
    endpoints = Endpoints()
    d = dispatcher(endpoints)
    for n in range(10):
        d.submit(job("slow", n))
    endpoints.open("fast")
    await asyncio.wait_for(asyncio.gather(*(d.submit(job("fast", n)) for n in range(10))), 1)
    assert endpoints.in_flight["slow"] == 3
    endpoints.open("slow")
    await settle()


async def test_a_job_submitted_after_the_runners_finished_is_still_run() -> None:
    endpoints = Endpoints()
    endpoints.open("wh")
    d = dispatcher(endpoints)
    await d.submit(job("wh", 1))
    await settle()  # the runner has left
    await asyncio.wait_for(d.submit(job("wh", 2)), 1)
    assert endpoints.sent == ["wh-1", "wh-2"]
