"""Overlap one batch's sinks with the next batch's decoding, without acking anything early.

Per batch the ingest agent decodes and publishes (CPU, then a wait for Kafka's acks) and then
hands the events to the sinks (a wait for PostgreSQL). Run in series, the worker idles during
both waits whenever its deliveries are done. So the sinks of batch N run in the background
while batch N+1 is decoded and published:

- sinks still see batches one at a time, in order (batch N+1's sinks start only after batch
  N's have returned), so ordered webhooks keep their order and nothing else changes for them;
- a batch's input records are acked only after its sinks have returned. Faust acks a batch
  when its loop moves on (``take_events``), so each record's message holds one more reference
  until then (Faust commits a message when its last reference is released).

A crash or a stop with sinks in flight leaves those records unacked: they are read again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Acknowledgeable(Protocol):
    """What Faust's ``Message`` offers for reference-counted acks."""

    def incref(self, n: int = 1) -> None: ...

    def ack(self, consumer: Any, n: int = 1) -> bool: ...


class OverlappedSinks:
    def __init__(self, sinks: Callable[[Sequence[Any]], Awaitable[None]], consumer: Any) -> None:
        self.sinks = sinks
        self.consumer = consumer
        self._pending: asyncio.Task[None] | None = None

    async def submit(self, events: Sequence[Any], messages: Sequence[Acknowledgeable]) -> None:
        """Hold ``messages``, wait for the previous batch's sinks, start this batch's.

        Call it before the agent's loop moves on (which releases Faust's own reference)."""
        for message in messages:
            message.incref()
        await self.wait()
        self._pending = asyncio.get_running_loop().create_task(self._run(events, messages))

    async def wait(self) -> None:
        """Until the batch in flight (if any) has gone through its sinks and been acked."""
        pending, self._pending = self._pending, None
        if pending is not None:
            await pending

    def cancel(self) -> None:
        """Stop the batch in flight without acking it (it is read again)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    async def _run(self, events: Sequence[Any], messages: Sequence[Acknowledgeable]) -> None:
        # Sinks never raise (they dead-letter what they cannot take and wait out outages), so
        # returning means durable. Were one to raise anyway, its records stay unacked (read
        # again after a restart) and the error is logged, not lost in a task nobody awaits.
        try:
            await self.sinks(events)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sinks raised on a batch; its records stay unacked", extra={
                "events": len(events)})
            return
        for message in messages:
            message.ack(self.consumer)
