"""Agent: Fineract's external-events topic → canonical events (or dead letters)."""

from __future__ import annotations

import faust

from fineract_hub.hub import Hub
from fineract_hub.streams.ingest import IngestHandler


def register(app: faust.App, hub: Hub) -> None:
    handler = IngestHandler(hub.decoder, hub.topics.events, hub.topics.dead_letters, hub.metrics)

    @app.agent(hub.topics.fineract, name="fineract-ingest")
    async def ingest(stream: faust.StreamT) -> None:
        async for event in stream.events():
            message = event.message
            await handler.handle(
                event.key,
                event.value,
                {
                    "topic": message.topic,
                    "partition": message.partition,
                    "offset": message.offset,
                },
            )
