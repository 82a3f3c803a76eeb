"""Records fetched while Faust seeks after a rebalance reach the agents (the kill -9 stall).

Faust's end of recovery (``Recovery.on_recovery_completed``) sends ``on_rebalance_complete``,
resumes and seeks the stream partitions, then ``flow_control.resume()`` clears every agent queue.
These tests replay that sequence with Faust's real flow control and agent queue; a record handed
over "during the seek" is what the Conductor does for every fetched record.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
from types import SimpleNamespace

import faust
import pytest
from faust.tables.recovery import Recovery
from faust.transport.conductor import ConductorCompiler
from faust.types import TP

from fineract_hub.streams import rebalance
from fineract_hub.streams.rebalance import (
    hold_agent_input_during_seek,
    reposition_stream_partitions,
)


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    # The gate tests have no consumer to reposition; that part is tested on its own below.
    async def reposition(app):
        return {}

    monkeypatch.setattr(rebalance, "reposition_stream_partitions", reposition)


def _app(name: str) -> faust.App:
    return faust.App(name, broker="kafka://127.0.0.1:1", autodiscover=False)


async def _deliver(app: faust.App, queue: asyncio.Queue, record: str) -> None:
    # transport.Conductor's on_message: wait for the flow, then put into the agent's queue.
    await app.flow_control.acquire()
    queue.put_nowait(record)


async def _end_of_recovery(app: faust.App, queue: asyncio.Queue) -> asyncio.Future:
    app.flow_control.resume()  # table recovery opened the flow to read the changelog
    await app.on_rebalance_complete.send()  # step 1 of on_recovery_completed
    # steps 2-3: partitions resumed, seek in progress; the fetcher hands over a record
    delivery = asyncio.ensure_future(_deliver(app, queue, "record fetched during the seek"))
    await asyncio.sleep(0.01)
    app.flow_control.resume()  # step 4: clears the agents' queues, opens the flow
    await asyncio.wait_for(delivery, 1.0)
    return delivery


async def test_a_record_fetched_during_the_seek_survives_the_queue_clearing() -> None:
    app = _app("gate-on")
    hold_agent_input_during_seek(app)
    gc.collect()  # the receiver must be held strongly
    queue = app.FlowControlQueue(maxsize=10, clear_on_resume=True)  # as faust.Channel's
    await _end_of_recovery(app, queue)
    assert queue.get_nowait() == "record fetched during the seek"
    assert app.flow_control.is_active()


async def test_without_the_gate_faust_clears_the_record_it_already_handed_over() -> None:
    app = _app("gate-off")  # what happened before: the consumer had moved past it, so it was lost
    queue = app.FlowControlQueue(maxsize=10, clear_on_resume=True)
    await _end_of_recovery(app, queue)
    assert queue.empty()


async def test_the_gate_only_holds_until_faust_resumes_the_flow() -> None:
    app = _app("gate-held")
    hold_agent_input_during_seek(app)
    queue = app.FlowControlQueue(maxsize=10, clear_on_resume=True)
    app.flow_control.resume()
    await app.on_rebalance_complete.send()
    delivery = asyncio.ensure_future(_deliver(app, queue, "r"))
    await asyncio.sleep(0.01)
    assert not delivery.done() and queue.empty()  # held at the gate, not queued
    app.flow_control.resume()
    await asyncio.wait_for(delivery, 1.0)
    assert queue.qsize() == 1


def test_faust_still_signals_before_it_resumes_seeks_and_clears() -> None:
    """The fix relies on this order in Faust; a Faust upgrade that changes it must fail here."""
    source = inspect.getsource(Recovery.on_recovery_completed)
    steps = [
        "on_rebalance_complete.send()",
        "resume_partitions(",
        "perform_seek()",
        "flow_control.resume()",
    ]
    positions = [source.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "await acquire_flow_control()" in inspect.getsource(ConductorCompiler.build)


async def test_a_failing_reposition_keeps_the_gate_closed_and_is_only_logged(
    monkeypatch, caplog
) -> None:
    async def reposition(app):
        raise RuntimeError("rebalancing again")

    monkeypatch.setattr(rebalance, "reposition_stream_partitions", reposition)
    app = _app("gate-error")
    hold_agent_input_during_seek(app)
    app.flow_control.resume()
    with caplog.at_level(logging.WARNING, logger=rebalance.__name__):
        await app.on_rebalance_complete.send()
    assert not app.flow_control.is_active()  # Faust reopens it after its seek
    assert "rebalancing again" in caplog.text


class _Consumer:
    def __init__(self, committed, earliest, assigned=True):
        self.committed, self.earliest, self.assigned = committed, earliest, assigned
        self.sought_committed = False
        self.sought = None

    def assignment(self):
        return set(self.committed) if self.assigned else set()

    async def seek_to_committed(self):
        self.sought_committed = True
        return dict(self.committed)

    async def earliest_offsets(self, *tps):
        return {tp: self.earliest[tp] for tp in tps}

    async def seek_wait(self, partitions):
        self.sought = dict(partitions)


def _fake_app(consumer, reset="earliest"):
    return SimpleNamespace(
        consumer=consumer,
        conf=SimpleNamespace(consumer_auto_offset_reset=reset),
        tables=SimpleNamespace(changelog_topics={"app-webhooks-changelog"}),
        topics=SimpleNamespace(acks_enabled_for=lambda topic: topic != "app-__assignor-__leader"),
    )


IN0, IN1, IN2, EV0 = (TP("in", 0), TP("in", 1), TP("in", 2), TP("events", 0))
CHANGELOG = TP("app-webhooks-changelog", 0)
LEADER = TP("app-__assignor-__leader", 0)  # Faust's own topic, consumed without acks


async def test_partitions_without_a_committed_offset_go_back_to_their_earliest_offset() -> None:
    consumer = _Consumer(
        committed={IN0: 45, IN1: None, IN2: 0, EV0: None, CHANGELOG: None, LEADER: None},
        earliest={IN1: 0, IN2: 0, EV0: 7, CHANGELOG: 0, LEADER: 0},
    )
    moved = await reposition_stream_partitions(_fake_app(consumer))
    assert consumer.sought_committed  # IN0 goes back to 45 (seek_to_committed does that)
    # the changelog is the table's; topics without acks are not ours to rewind
    assert consumer.sought == moved == {IN1: 0, IN2: 0, EV0: 7}


async def test_nothing_moves_without_an_assignment_or_with_another_reset_policy() -> None:
    unassigned = _Consumer(committed={IN1: None}, earliest={IN1: 0}, assigned=False)
    assert await reposition_stream_partitions(_fake_app(unassigned)) == {}
    assert not unassigned.sought_committed
    latest = _Consumer(committed={IN1: None}, earliest={IN1: 0})
    assert await reposition_stream_partitions(_fake_app(latest, reset="latest")) == {}
    assert latest.sought is None


async def test_all_committed_means_no_extra_seek() -> None:
    consumer = _Consumer(committed={IN0: 45, IN1: 3}, earliest={})
    assert await reposition_stream_partitions(_fake_app(consumer)) == {}
    assert consumer.sought_committed and consumer.sought is None
