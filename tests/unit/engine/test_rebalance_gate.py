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

import faust
from faust.tables.recovery import Recovery
from faust.transport.conductor import ConductorCompiler

from fineract_hub.streams.rebalance import hold_agent_input_during_seek


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
