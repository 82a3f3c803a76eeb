"""A batch's sinks run in the background while the next batch is decoded; its records are acked
only after them, and batches reach the sinks one at a time, in order."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from fineract_hub.streams.overlap import OverlappedSinks

CONSUMER = object()


class Message:
    """Faust's reference-counted ack: acked when the last reference is released."""

    def __init__(self) -> None:
        self.refcount = 1  # the stream's own reference, released when its loop moves on
        self.acked = False

    def incref(self, n: int = 1) -> None:
        self.refcount += n

    def ack(self, consumer: Any, n: int = 1) -> bool:
        assert consumer is CONSUMER
        self.refcount -= n
        if self.refcount == 0:
            self.acked = True
        return self.acked


class GatedSinks:
    """Sinks that finish a batch only when the test opens its gate."""

    def __init__(self) -> None:
        self.started: list[Sequence[Any]] = []
        self.finished: list[Sequence[Any]] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.fail: set[str] = set()

    async def __call__(self, events: Sequence[Any]) -> None:
        self.started.append(events)
        gate = self.gates.setdefault(events[0], asyncio.Event())
        await gate.wait()
        if events[0] in self.fail:
            raise RuntimeError("sink bug")
        self.finished.append(events)

    def open(self, name: str) -> None:
        self.gates.setdefault(name, asyncio.Event()).set()


def batch() -> list[Message]:
    return [Message(), Message()]


def release_stream_reference(messages: list[Message]) -> None:
    for message in messages:
        message.ack(CONSUMER)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_records_are_acked_only_after_their_sinks_returned() -> None:
    sinks = GatedSinks()
    overlap = OverlappedSinks(sinks, CONSUMER)
    first = batch()
    await overlap.submit(["a"], first)
    release_stream_reference(first)  # Faust's take_events acks as its loop moves on
    await settle()
    assert sinks.started == [["a"]]
    assert not any(m.acked for m in first)
    sinks.open("a")
    await overlap.wait()
    assert all(m.acked for m in first)


async def test_submit_returns_while_the_batch_is_still_in_its_sinks() -> None:
    sinks = GatedSinks()
    overlap = OverlappedSinks(sinks, CONSUMER)
    await asyncio.wait_for(overlap.submit(["a"], batch()), 1)
    assert sinks.finished == []
    overlap.cancel()


async def test_the_next_batch_reaches_the_sinks_only_after_the_previous_returned() -> None:
    sinks = GatedSinks()
    overlap = OverlappedSinks(sinks, CONSUMER)
    await overlap.submit(["a"], batch())
    second = asyncio.create_task(overlap.submit(["b"], batch()))
    await settle()
    assert sinks.started == [["a"]]
    assert not second.done()
    sinks.open("a")
    await second
    await settle()
    assert sinks.started == [["a"], ["b"]]
    sinks.open("b")
    await overlap.wait()
    assert sinks.finished == [["a"], ["b"]]


async def test_a_sink_that_raises_leaves_its_records_unacked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sinks = GatedSinks()
    sinks.fail.add("a")
    overlap = OverlappedSinks(sinks, CONSUMER)
    first = batch()
    await overlap.submit(["a"], first)
    release_stream_reference(first)
    sinks.open("a")
    await overlap.wait()
    assert not any(m.acked for m in first)
    assert "stay unacked" in caplog.text


async def test_cancel_leaves_the_batch_in_flight_unacked() -> None:
    sinks = GatedSinks()
    overlap = OverlappedSinks(sinks, CONSUMER)
    first = batch()
    await overlap.submit(["a"], first)
    release_stream_reference(first)
    await settle()
    overlap.cancel()
    sinks.open("a")
    await settle()
    assert sinks.finished == []
    assert not any(m.acked for m in first)
