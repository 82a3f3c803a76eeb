"""Overlap one batch's sinks with the next batch's decoding, without acking anything early.

Per batch the ingest agent decodes and publishes (CPU, then a wait for Kafka's acks) and then
hands the events to the sinks (a wait for PostgreSQL). Run in series, the worker idles during
both waits whenever its deliveries are done. So the sinks of batch N run in the background
while batch N+1 is decoded and published:

- sinks still see batches one at a time, in order (batch N+1's sinks start only after batch
  N's have returned), so ordered webhooks keep their order and nothing else changes for them;
- a batch's input records are acked only after its sinks have returned. Faust acks a batch
  when its loop moves on (``take_events``), even when the loop body raised, so the agent holds
  one more reference on each record's message from the moment it takes the batch (Faust
  commits a message when its last reference is released);
- a step that fails (a bug: decoding and sinks handle bad input and outages themselves) is
  retried where it stands, loudly, instead of letting later batches go on. Faust would commit
  past a single unacked record once the records after it are acked (its gap check is off by
  one, and skipped while a partition has no committed offset), and ordered webhooks would
  get later events first.

A crash or a stop with a batch in flight leaves its records unacked: they are read again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_RETRY_DELAY = 30.0


async def until_done(step: Callable[[], Awaitable[T]], what: str, first_delay: float = 0.5) -> T:
    """``step()``'s result, retrying with backoff for as long as it raises: a loud stall, the
    one safe answer to a failure nothing else handled (see the module docstring)."""
    delay = first_delay
    while True:
        try:
            return await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed; retrying in %.1fs", what, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_DELAY)


class Acknowledgeable(Protocol):
    """What Faust's ``Message`` offers for reference-counted acks."""

    def incref(self, n: int = 1) -> None: ...

    def ack(self, consumer: Any, n: int = 1) -> bool: ...


class OverlappedSinks:
    def __init__(
        self,
        sinks: Callable[[Sequence[Any]], Awaitable[None]],
        consumer: Any,
        retry_delay: float = 0.5,
    ) -> None:
        self.sinks = sinks
        self.consumer = consumer
        self.retry_delay = retry_delay
        self._pending: asyncio.Task[None] | None = None

    @staticmethod
    def hold(messages: Sequence[Acknowledgeable]) -> None:
        """Take a reference on each message: call it first thing in the loop body, before
        anything that can fail, since Faust releases its own when the loop moves on."""
        for message in messages:
            message.incref()

    async def submit(self, events: Sequence[Any], messages: Sequence[Acknowledgeable]) -> None:
        """Wait for the previous batch's sinks, then start this batch's in the background; the
        references ``hold`` took on ``messages`` are released when they have returned."""
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
        await until_done(
            lambda: self.sinks(events), "sinks of a batch (its records stay unacked)",
            self.retry_delay,
        )
        for message in messages:
            message.ack(self.consumer)
