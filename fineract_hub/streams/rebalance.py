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
again: a partition without a committed offset is not seeked at all, and a seeked one is re-read
from its committed offset only after the rest of the in-flight batch has moved the read offset
past the re-read records, which the consumer then drops as already seen. The result is either
a partition whose committed offset never moves again (the records behind it were dropped; the
worker looks idle) or, where nothing had been committed yet, an offset committed past records
that were never processed.

Closing Faust's own gate at step 1 makes steps 2-3 safe: a record fetched meanwhile waits in
the Conductor (``await flow_control.acquire()``) instead of entering a queue, and is delivered
after step 4 has cleared the queues and reopened the gate. This is what Faust already does when
it has no table to recover (the flow stays closed until after the seek). Nothing is acked
early: the held records are delivered, processed and acked as usual.
"""

from __future__ import annotations

from typing import Any

import faust


def hold_agent_input_during_seek(app: faust.App) -> None:
    """Close ``app.flow_control`` when Faust starts seeking; Faust reopens it after the seek."""

    @app.on_rebalance_complete.connect
    def close_agent_input(sender: Any, **kwargs: Any) -> None:
        app.flow_control.suspend()
