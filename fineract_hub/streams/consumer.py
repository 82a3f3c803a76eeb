"""Faust's Kafka transport with one change: a record reaches the agents without four tasks.

Faust's consumer hands every record to the streams as ``wait_first(deliver(record),
suspend_flow.wait())``: it races the delivery against a rebalance suspending the flow (and
against the consumer stopping or crashing) by wrapping each in a task, waiting for the first and
cancelling the others. That costs 26 µs per record on uvloop (``bench/consumer_handoff.py``), a
tenth of a webhook delivery's CPU, for a race that matters only while the delivery waits: for
room in a full stream buffer, or for the flow gate to open.

So the delivery first runs on its own up to its first wait. Most records go into the stream's
queue without waiting and are done. A delivery that has to wait is finished in a task raced
exactly as Faust races it, so a rebalance still cancels it where it stands. Whatever happens to
a record is what Faust does with it; only the tasks are saved.

Running "on its own" must not change who the current task is: ``asyncio.timeout``, task groups
and (from Python 3.12) ``asyncio.wait_for`` cancel the current task when they expire, and one
entered during the first step must cancel the delivery, not Faust's fetcher. From Python 3.12
the first step runs as an eagerly started task of its own, which is exact for any delivery.
Python 3.11 has no eager tasks: there only Faust's own hand-off (``Conductor.on_message``:
the flow gate, the producer-buffer check, whose ``wait_for`` on 3.11 does not use the current
task, and the channel queues) is run this way, in a context of its own, and anything else gets
Faust's race.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import sys
import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.services import WaitResults

__all__ = ["EAGER_TASKS", "Consumer", "Transport", "is_faust_handoff", "step_once"]


def step_once(coro: Coroutine[Any, Any, Any]) -> tuple[bool, Any]:
    """Run ``coro`` up to its first wait: ``(True, result)`` if it finished (if it raised, the
    exception propagates), else ``(False, rest)`` with ``rest`` a coroutine that finishes it."""
    try:
        awaiting = coro.send(None)
    except StopIteration as finished:
        return True, finished.value
    return False, _finish(coro, awaiting)


async def _finish(coro: Coroutine[Any, Any, Any], awaiting: Any) -> Any:
    return await _resume(coro, awaiting)


@types.coroutine
def _resume(coro: Coroutine[Any, Any, Any], awaiting: Any) -> Generator[Any, Any, Any]:
    """Go on with a coroutine stepped outside any task, which yielded ``awaiting`` (what an
    awaited future yields to its task); the task running this waits for it in its place, and
    passes results, exceptions and cancellation through."""
    while True:
        try:
            sent = yield awaiting
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # thrown in by the task: cancellation
            try:
                awaiting = coro.throw(exc)
            except StopIteration as finished:
                return finished.value
        else:
            try:
                awaiting = coro.send(sent)
            except StopIteration as finished:
                return finished.value


def _close(coros: tuple[Any, ...]) -> None:
    """Coroutines never started: nothing to wait for or cancel (and no "never awaited")."""
    for coro in coros:
        if inspect.iscoroutine(coro):
            coro.close()


#: Python 3.12+: ``asyncio.Task(..., eager_start=True)`` runs the first step as its own task.
EAGER_TASKS = sys.version_info >= (3, 12)
_HANDOFF = ("Conductor._compile_message_handler.<locals>.on_message",
            "faust/transport/conductor.py")


def is_faust_handoff(coro: Any) -> bool:
    """Whether ``coro`` is Faust's ``Conductor.on_message``, the one delivery whose first step
    is known not to depend on the current task (Python 3.11, see the module docstring)."""
    code = getattr(coro, "cr_code", None)
    return (
        code is not None
        and code.co_qualname == _HANDOFF[0]
        and code.co_filename.replace("\\", "/").endswith(_HANDOFF[1])
    )


class EagerFirst:
    """``wait_first`` for a ``mode.Service`` that runs the first awaitable up to its first wait
    before racing anything; mixed into Faust's consumer (see the module docstring)."""

    #: Python 3.11: which first awaitables may run outside a task of their own.
    eager_on_311: Callable[[Any], bool] = staticmethod(is_faust_handoff)

    async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:  # noqa: ASYNC109 - mode.Service API
        first, rest = coros[0], coros[1:]
        race = super().wait_first  # type: ignore[misc]
        if timeout is not None or not inspect.iscoroutine(first) or self._must_race():
            return await race(*coros, timeout=timeout)
        loop = asyncio.get_running_loop()
        if EAGER_TASKS:
            task = asyncio.Task(first, loop=loop, eager_start=True)  # type: ignore[call-arg]
            if not task.done():
                return await race(task, *rest)
            _close(rest)
            return WaitResults([first], [task.result()], False)
        if not self.eager_on_311(first):
            return await race(*coros)
        context = contextvars.copy_context()
        try:
            finished, outcome = context.run(step_once, first)
        except BaseException:
            _close(rest)
            raise
        if finished:
            _close(rest)
            return WaitResults([first], [outcome], False)
        return await race(loop.create_task(outcome, context=context), *rest)

    def _must_race(self) -> bool:
        """The race is decided already (stopping, crashed, flow suspended): let Faust judge."""
        suspend_flow = getattr(self, "suspend_flow", None)
        return bool(
            self.should_stop  # type: ignore[attr-defined]
            or (suspend_flow is not None and suspend_flow.is_set())
        )


class Consumer(EagerFirst, faust_aiokafka.Consumer):
    """Faust's aiokafka consumer, handing records over as described in the module docstring."""


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer
