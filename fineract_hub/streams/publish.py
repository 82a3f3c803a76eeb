"""Sending records to our own topics with a broker acknowledgement before the input is acked.

Faust flushes its producer before committing offsets, but a record the broker finally rejects
(broker down past the delivery timeout) would still be committed past. So a batch's sends are
awaited to their acknowledgement and failed ones are sent again, until all are accepted:
at-least-once by construction, whatever Faust's flush does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from typing import Any, NamedTuple, Protocol

log = logging.getLogger(__name__)


# Made for every event or delivery: NamedTuples are as immutable as frozen dataclasses and
# several times cheaper to create (a frozen dataclass sets each field via object.__setattr__).
class Outgoing(NamedTuple):
    topic: str
    key: bytes | None
    value: bytes


class ProducerLike(Protocol):
    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
    ) -> Awaitable[Any]: ...


class Publisher:
    def __init__(self, producer: ProducerLike, *, max_delay: float = 10.0) -> None:
        self.producer = producer
        self.max_delay = max_delay

    async def publish_all(self, records: Sequence[Outgoing]) -> None:
        pending = list(records)
        delay = 0.2
        while pending:
            futures: list[Awaitable[Any] | BaseException] = []
            for record in pending:
                try:
                    futures.append(
                        await self.producer.send(
                            record.topic, record.key, record.value, None, None, None
                        )
                    )
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    futures.append(exc)
            results = await asyncio.gather(
                *(f for f in futures if not isinstance(f, BaseException)), return_exceptions=True
            )
            outcomes = iter(results)
            failed: list[Outgoing] = []
            errors: list[BaseException] = []
            for record, future in zip(pending, futures, strict=True):
                outcome = future if isinstance(future, BaseException) else next(outcomes)
                if isinstance(outcome, BaseException):
                    failed.append(record)
                    errors.append(outcome)
            if not failed:
                return
            log.error(
                "%d of %d records not accepted by Kafka (%s); retrying in %.1fs",
                len(failed),
                len(pending),
                errors[0],
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_delay)
            pending = failed
