"""Agents take no input while Faust moves the stream partitions back to their committed offsets.

With a table (our ``webhooks`` GlobalTable) Faust ends every rebalance, including a worker's
start, in ``Recovery.on_recovery_completed``:

1. ``app.on_rebalance_complete`` is sent;
2. the stream partitions are resumed;
3. ``consumer.perform_seek()`` seeks them to their committed offsets (one broker round trip per
   partition: tens to hundreds of milliseconds) and resets the consumer's read offsets;
4. ``app.flow_control.resume()`` clears every agent's input queue and opens the flow.

Steps 2 and 3 run while records still flow: table recovery opened the flow to read the changelog
and never closed it. So records fetched during the seek are handed to the agents' queues and the
consumer's read offsets move past them, then step 4 throws them away. Nothing fetches them
again: a seeked partition is re-read from its committed offset only after the rest of the
in-flight batch has moved the read offset past the re-read records (dropped as already seen),
and a partition without a committed offset (``None`` or 0) is not seeked at all. The result is
either a partition whose committed offset never moves again (the worker looks idle) or, where
nothing had been committed yet, an offset later committed past unprocessed records.

So at step 1, before the stream partitions are resumed:

- Faust's own gate (``app.flow_control``) is closed: a record fetched during steps 2-3 waits in
  the Conductor (``await flow_control.acquire()``) instead of entering a queue, and is delivered
  after step 4 has cleared the queues and reopened the gate (what Faust already does when it has
  no table to recover);
- every stream partition is moved to its first unprocessed record before it is resumed: its
  committed offset, or its earliest offset when nothing was committed (Faust's seek skips those;
  ``auto_offset_reset=earliest`` starts there too), so records fetched and dropped before step 1
  are read again rather than skipped for good.

Nothing is acked early; at worst records are processed twice (at-least-once).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust

log = logging.getLogger(__name__)

REPOSITION_TIMEOUT_SECONDS = 30.0


def hold_agent_input_during_seek(app: faust.App) -> None:
    """Connect the step-1 receiver described in the module docstring."""

    @app.on_rebalance_complete.connect
    async def before_stream_partitions_resume(sender: Any, **kwargs: Any) -> None:
        app.flow_control.suspend()  # Faust reopens it after its own seek (step 4)
        try:
            # aiokafka retries a committed-offset fetch for as long as the coordinator is
            # unavailable; Faust's own seek gives up after the broker request timeout, so do we.
            await asyncio.wait_for(
                reposition_stream_partitions(app), timeout=REPOSITION_TIMEOUT_SECONDS
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # e.g. rebalancing again: Faust starts over, and so do we
            log.warning("could not reposition stream partitions after a rebalance: %r", exc)


async def reposition_stream_partitions(app: faust.App) -> dict[Any, int]:
    """Seek assigned stream partitions to their committed offset, or the earliest without one.

    Returns the partitions without a committed offset and where they were moved.
    """
    consumer = app.consumer
    if app.conf.consumer_auto_offset_reset != "earliest" or not consumer.assignment():
        return {}
    committed = await consumer.seek_to_committed()  # seeks those with a committed offset > 0
    changelogs = app.tables.changelog_topics
    acked_topic = app.topics.acks_enabled_for
    uncommitted = [
        tp
        for tp, offset in committed.items()
        if not offset and tp.topic not in changelogs and acked_topic(tp.topic)
    ]
    if not uncommitted:
        return {}
    earliest = await consumer.earliest_offsets(*uncommitted)
    targets = {tp: earliest[tp] for tp in uncommitted if earliest.get(tp) is not None}
    if targets:
        await consumer.seek_wait(targets)
    return targets
