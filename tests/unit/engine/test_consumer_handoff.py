"""Records reach the streams without a race of tasks, and with Faust's race when they wait."""

from __future__ import annotations

import asyncio
import contextvars
import warnings

import faust
import mode
import pytest
from mode.utils.locks import Event

from fineract_hub.streams.consumer import (
    EAGER_TASKS,
    Consumer,
    EagerFirst,
    Transport,
    is_faust_handoff,
    step_once,
)


class _Consumer(EagerFirst, mode.Service):
    """Faust's consumer as far as ``wait_first`` is concerned; on Python 3.11 every delivery
    here is run as Faust's own hand-off is (``is_faust_handoff`` is tested on its own)."""

    eager_on_311 = staticmethod(lambda coro: True)

    def __init__(self) -> None:
        super().__init__()
        self.suspend_flow = Event()


def _tasks() -> int:
    return len(asyncio.all_tasks())


async def test_a_delivery_that_need_not_wait_runs_without_a_task() -> None:
    consumer, queue = _Consumer(), asyncio.Queue[int]()
    seen: list[int] = []

    async def deliver() -> str:
        seen.append(_tasks())
        await queue.put(1)  # room in the queue: no wait
        return "delivered"

    before = _tasks()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the unused suspend_flow.wait() must be closed
        result = await consumer.wait_first(deliver(), consumer.suspend_flow.wait())

    assert result.results == ["delivered"] and not result.stopped
    assert seen == [before + (1 if EAGER_TASKS else 0)]  # Faust's race: before + 4
    assert queue.qsize() == 1


async def test_a_delivery_that_waits_is_finished_with_its_result() -> None:
    consumer, queue = _Consumer(), asyncio.Queue[int](maxsize=1)
    queue.put_nowait(0)

    async def deliver() -> str:
        await queue.put(1)  # full: waits for the stream to take one
        return "delivered"

    async def stream_takes_one() -> None:
        await asyncio.sleep(0.01)
        queue.get_nowait()

    taker = asyncio.ensure_future(stream_takes_one())
    result = await consumer.wait_first(deliver(), consumer.suspend_flow.wait())
    await taker

    assert "delivered" in result.results
    assert queue.get_nowait() == 1


async def test_a_waiting_delivery_is_cancelled_when_the_flow_is_suspended() -> None:
    consumer, queue = _Consumer(), asyncio.Queue[int](maxsize=1)
    queue.put_nowait(0)
    outcome: list[str] = []

    async def deliver() -> None:
        try:
            await queue.put(1)
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    async def rebalance() -> None:
        await asyncio.sleep(0.01)
        consumer.suspend_flow.set()

    suspender = asyncio.ensure_future(rebalance())
    result = await consumer.wait_first(deliver(), consumer.suspend_flow.wait())
    await suspender
    await asyncio.sleep(0)

    assert outcome == ["cancelled"]
    assert queue.qsize() == 1  # the record did not enter the stream
    assert len(result.results) == 1  # suspend_flow won


async def test_with_the_flow_suspended_already_the_delivery_loses_the_race() -> None:
    consumer = _Consumer()
    consumer.suspend_flow.set()
    delivered: list[bool] = []

    async def deliver() -> None:
        await asyncio.sleep(0.05)
        delivered.append(True)

    result = await consumer.wait_first(deliver(), consumer.suspend_flow.wait())
    await asyncio.sleep(0.1)

    assert result.results == [True]  # suspend_flow.wait() won, as in Faust
    assert delivered == []  # and the delivery was cancelled


async def test_an_error_in_the_delivery_propagates_as_in_faust() -> None:
    consumer = _Consumer()

    async def deliver() -> None:
        raise LookupError("no callback for this partition")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(LookupError):
            await consumer.wait_first(deliver(), consumer.suspend_flow.wait())


async def test_a_stepped_coroutine_gets_results_exceptions_and_cancellation_through() -> None:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()

    async def work() -> int:
        value = await future
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            return value * 2
        return -1

    finished, rest = step_once(work())
    assert not finished
    task = asyncio.ensure_future(rest)
    await asyncio.sleep(0)
    future.set_result(21)
    await asyncio.sleep(0.01)
    task.cancel()

    assert await task == 42


def test_the_hubs_transport_makes_these_consumers() -> None:
    assert Transport.Consumer is Consumer
    assert issubclass(Consumer, EagerFirst)


class _FaustConsumer(EagerFirst, mode.Service):
    """With the hand-off rule the hub's consumer has (not the test double's above)."""

    def __init__(self) -> None:
        super().__init__()
        self.suspend_flow = Event()


async def _drain_one(consumer: mode.Service, coro: object) -> object:
    """One record as Faust's fetcher hands it over, in a task of its own."""
    drain = asyncio.ensure_future(
        consumer.wait_first(coro, consumer.suspend_flow.wait())  # type: ignore[attr-defined]
    )
    return await asyncio.wait_for(drain, 2)


async def test_fausts_own_hand_off_is_recognised_and_nothing_else() -> None:
    app = faust.App("handoff-test", broker="kafka://127.0.0.1:1")
    handler = app.topics._compile_message_handler()  # what the fetcher calls per record
    faust_coro = handler(None)

    async def other() -> None:
        return None

    other_coro = other()
    try:
        assert is_faust_handoff(faust_coro)
        assert not is_faust_handoff(other_coro)
    finally:
        faust_coro.close()
        other_coro.close()


async def test_a_timeout_in_a_delivery_that_waits_times_out_the_delivery_not_the_fetcher() -> None:
    queue = asyncio.Queue[int](maxsize=1)
    queue.put_nowait(0)

    async def deliver() -> str:
        try:
            async with asyncio.timeout(0.01):
                await queue.put(1)  # full: waits, then times out
        except TimeoutError:
            return "gave up"
        return "delivered"

    result = await _drain_one(_FaustConsumer(), deliver())

    assert result.results == ["gave up"]  # type: ignore[attr-defined]


async def test_a_failing_task_group_in_a_delivery_does_not_cancel_the_fetcher() -> None:
    async def child() -> None:
        await asyncio.sleep(0.01)
        raise KeyError("child")

    async def deliver() -> str:
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(child())
        except ExceptionGroup:
            return "child failed"
        return "ok"

    result = await _drain_one(_FaustConsumer(), deliver())

    assert result.results == ["child failed"]  # type: ignore[attr-defined]


_SEEN: contextvars.ContextVar[str] = contextvars.ContextVar("_SEEN", default="unset")


@pytest.mark.parametrize("consumer_type", [_Consumer, _FaustConsumer])
async def test_context_a_delivery_sets_stays_with_that_delivery(
    consumer_type: type[mode.Service],
) -> None:
    consumer = consumer_type()
    seen: list[str] = []

    async def deliver(n: int) -> None:
        seen.append(_SEEN.get())
        _SEEN.set(f"record {n}")

    async def fetcher() -> None:
        for n in range(2):
            await consumer.wait_first(  # type: ignore[attr-defined]
                deliver(n), consumer.suspend_flow.wait()  # type: ignore[attr-defined]
            )

    await asyncio.ensure_future(fetcher())

    assert seen == ["unset", "unset"]
