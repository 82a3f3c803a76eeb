"""Fineract's raw Kafka records → canonical events on our topic, or dead letters with a reason.

Never raises: an exception escaping a Faust agent acks the message and loses it, so every
decode problem becomes a dead letter and every Kafka send problem is retried until it works.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import faust

from fineract_hub.ingest.canonical import FineractDecoder
from fineract_hub.ingest.decode import DecodeError
from fineract_hub.metrics import Metrics
from fineract_hub.models import jsonexact

log = logging.getLogger(__name__)


async def send_until_accepted(
    topic: faust.TopicT, key: bytes | None, value: bytes, what: str
) -> None:
    """Kafka unavailable is temporary; giving up would lose the input, so back off and retry."""
    delay = 0.2
    while True:
        try:
            await topic.send(key=key, value=value)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error(
                "could not send %s to %s (%s); retrying in %.1fs",
                what,
                topic.get_topic_name(),
                exc,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


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
        events: faust.TopicT,
        dead_letters: faust.TopicT,
        metrics: Metrics,
        send: Callable[
            [faust.TopicT, bytes | None, bytes, str], Awaitable[None]
        ] = send_until_accepted,
    ) -> None:
        self.decoder = decoder
        self.events = events
        self.dead_letters = dead_letters
        self.metrics = metrics
        self.send = send

    async def handle(self, key: bytes | None, value: bytes | None, origin: dict[str, Any]) -> int:
        """Returns how many canonical events were published."""
        try:
            if value is None:
                raise DecodeError("not_single_object", "record has no value (tombstone)")
            events = self.decoder.to_canonical(key, value)
        except DecodeError as exc:
            await self._dead_letter(exc.code, str(exc), key, value, origin)
            return 0
        except Exception as exc:  # a bug on our side must not lose the record either
            log.exception("unexpected failure decoding a Fineract record", extra=origin)
            await self._dead_letter(
                "internal_error", f"{type(exc).__name__}: {exc}", key, value, origin
            )
            return 0
        for event in events:
            await self.send(self.events, event.partition_key(), event.to_json(), "event")
            self.metrics.ingested.labels(type=event.type).inc()
        return len(events)

    async def _dead_letter(
        self, code: str, reason: str, key: bytes | None, value: bytes | None, origin: dict[str, Any]
    ) -> None:
        log.warning("dead-lettering Fineract record: %s", reason, extra={**origin, "code": code})
        self.metrics.dead_letters.labels(reason=code).inc()
        await self.send(
            self.dead_letters, key, dead_letter(code, reason, key, value, origin), "dead letter"
        )
