"""Agent: Fineract's external-events topic → canonical events → the sinks (webhooks).

Per batch, in this order, before the batch is acked: canonical events (or dead letters) are
accepted by Kafka, then every sink has made them durable (webhook deliveries in PostgreSQL).
A crash anywhere in between means the batch is read again: at-least-once, with stable ids.
A batch's sinks run while the next batch is decoded (``streams/overlap.py``).
"""

from __future__ import annotations

import functools
from typing import Any

import faust

from fineract_hub.hub import Hub
from fineract_hub.streams.ingest import IngestHandler
from fineract_hub.streams.overlap import OverlappedSinks, until_done
from fineract_hub.streams.publish import Publisher

INGEST_BATCH = 500
INGEST_WINDOW = 0.01  # seconds; batches only form under load, a lone event waits this long


def register(app: faust.App, hub: Hub) -> None:
    handler = IngestHandler(
        hub.decoder,
        Publisher(app.producer),
        hub.settings.events_topic,
        hub.settings.dead_letter_topic,
        hub.metrics,
    )

    @app.agent(hub.topics.fineract, name="fineract-ingest")
    async def ingest(stream: faust.StreamT) -> None:
        # Matching before the registry is reconciled with PostgreSQL would treat events for
        # existing webhooks as unmatched.
        await hub.started()
        await hub.ready.wait()
        # Before any new event: an ordered webhook gets an aggregate's older events first.
        await hub.fan_out_legacy_backlog()
        sinks = OverlappedSinks(hub.sinks.handle, app.consumer)
        try:
            async for events in stream.take_events(INGEST_BATCH, within=INGEST_WINDOW):
                messages = [e.message for e in events]
                sinks.hold(messages)  # first: nothing below may let Faust ack the batch
                step = functools.partial(handler.handle_batch, records(events))
                canonical = await until_done(step, "ingest of a batch (its records stay unacked)")
                await sinks.submit(canonical, messages)
            await sinks.wait()
        finally:
            sinks.cancel()


def records(
    events: list[faust.EventT],
) -> list[tuple[bytes | None, bytes | None, dict[str, Any]]]:
    """Key, value and where each came from (dead letters name the origin)."""
    return [
        (
            e.key,
            e.value,
            {
                "topic": e.message.topic,
                "partition": e.message.partition,
                "offset": e.message.offset,
            },
        )
        for e in events
    ]
