"""Where canonical events go inside the worker once Kafka has them on the canonical topic.

The agent that turns input into canonical events (ingest, for Fineract's topic) hands each batch
to the sinks before its input offsets are acked. A sink makes the batch durable on its own terms
(webhooks: deliveries in PostgreSQL) and returns; it retries outages itself, because returning is
what lets the input be acked.

Why here and not in an agent reading the canonical topic: a second Faust consumer of every
event costs as much CPU as all of the webhook work (``bench/pipeline_floor.py``: one Faust hop
delivers about twice as fast as two). The canonical topic stays the record of every event for
other consumers and later capabilities; it is written before any sink sees the batch.

A sink that raises (a bug, not an outage) must not stall the partition nor lose the batch: its
events go to the dead-letter topic with the reason, and the batch is acked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from fineract_hub.models.events import CanonicalEvent

log = logging.getLogger(__name__)


class Sink(Protocol):
    name: str

    async def handle(self, events: Sequence[CanonicalEvent]) -> Any: ...


DeadLetter = Callable[[str, str, CanonicalEvent], Awaitable[None]]


class Sinks:
    def __init__(self, sinks: Sequence[Sink], dead_letter: DeadLetter) -> None:
        self.sinks = list(sinks)
        self.dead_letter = dead_letter

    async def handle(self, events: Sequence[CanonicalEvent]) -> None:
        if not events:
            return
        for sink in self.sinks:
            try:
                await sink.handle(events)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception(
                    "sink failed on a batch; dead-lettering its events",
                    extra={"sink": sink.name, "events": len(events)},
                )
                reason = f"{sink.name} failed: {type(exc).__name__}: {exc}"
                for event in events:
                    await self.dead_letter("sink_failed", reason, event)
