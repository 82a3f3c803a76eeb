"""Fineract's raw Kafka records → canonical events on our topic, or dead letters with a reason.

Never raises: an exception escaping a Faust agent acks the message and loses it, so every
decode problem becomes a dead letter and every Kafka send problem is retried until it works.
"""

from __future__ import annotations

import base64
import collections
import logging
import time
from typing import Any

import faust

from fineract_hub.ingest.canonical import FineractDecoder
from fineract_hub.ingest.decode import DecodeError
from fineract_hub.metrics import Metrics
from fineract_hub.models import jsonexact
from fineract_hub.models.events import CanonicalEvent
from fineract_hub.streams.publish import Outgoing, Publisher

log = logging.getLogger(__name__)


async def send_until_accepted(
    topic: faust.TopicT, key: bytes | None, value: bytes, what: str
) -> None:
    """One record, confirmed by the broker (see ``Publisher``)."""
    publisher = Publisher(topic.app.producer)
    await publisher.publish_all([Outgoing(topic.get_topic_name(), key, value)])


def dead_letter(
    code: str, reason: str, key: bytes | None, value: bytes | None, origin: dict[str, Any]
) -> bytes:
    return jsonexact.dumpb(
        {
            "code": code,
            "reason": reason,
            "origin": origin,
            "key": base64.b64encode(key).decode() if key is not None else None,
            "value": base64.b64encode(value).decode() if value is not None else None,
            "deadLetteredAt": time.time(),
        }
    )


class IngestHandler:
    def __init__(
        self,
        decoder: FineractDecoder,
        publisher: Publisher,
        events_topic: str,
        dead_letter_topic: str,
        metrics: Metrics,
    ) -> None:
        self.decoder = decoder
        self.publisher = publisher
        self.events_topic = events_topic
        self.dead_letter_topic = dead_letter_topic
        self.metrics = metrics

    def convert(
        self, key: bytes | None, value: bytes | None, origin: dict[str, Any]
    ) -> tuple[list[CanonicalEvent], Outgoing | None]:
        """One Fineract record → its canonical events, or a dead letter saying why not."""
        try:
            if value is None:
                raise DecodeError("not_single_object", "record has no value (tombstone)")
            events = self.decoder.to_canonical(key, value)
        except DecodeError as exc:
            return [], self._dead_letter(exc.code, str(exc), key, value, origin)
        except Exception as exc:  # a bug on our side must not lose the record either
            log.exception("unexpected failure decoding a Fineract record", extra=origin)
            return [], self._dead_letter(
                "internal_error", f"{type(exc).__name__}: {exc}", key, value, origin
            )
        return events, None

    async def handle_batch(
        self, records: list[tuple[bytes | None, bytes | None, dict[str, Any]]]
    ) -> list[CanonicalEvent]:
        """Publish a batch's canonical events and dead letters; returns the events once Kafka
        has accepted every record, in input order."""
        events: list[CanonicalEvent] = []
        outgoing: list[Outgoing] = []
        for key, value, origin in records:
            converted, letter = self.convert(key, value, origin)
            if letter is not None:
                outgoing.append(letter)
            for event in converted:
                events.append(event)
                outgoing.append(Outgoing(self.events_topic, event.partition_key(), event.to_json()))
        await self.publisher.publish_all(outgoing)
        # Per type and batch, not per event: labels() costs more than the increment.
        for event_type, count in collections.Counter(e.type for e in events).items():
            self.metrics.ingested.labels(type=event_type).inc(count)
        return events

    async def handle(
        self, key: bytes | None, value: bytes | None, origin: dict[str, Any]
    ) -> list[CanonicalEvent]:
        return await self.handle_batch([(key, value, origin)])

    def _dead_letter(
        self, code: str, reason: str, key: bytes | None, value: bytes | None, origin: dict[str, Any]
    ) -> Outgoing:
        log.warning("dead-lettering Fineract record: %s", reason, extra={**origin, "code": code})
        self.metrics.dead_letters.labels(reason=code).inc()
        return Outgoing(self.dead_letter_topic, key, dead_letter(code, reason, key, value, origin))
