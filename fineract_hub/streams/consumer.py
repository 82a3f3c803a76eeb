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
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Coroutine, Generator
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.services import WaitResults

__all__ = ["Consumer", "Transport", "step_once"]


class _Pending:
    """What ``step_once`` returns for a coroutine that has to wait: finish it with ``rest()``."""

    __slots__ = ("awaiting", "coro")

    def __init__(self, coro: Coroutine[Any, Any, Any], awaiting: Any) -> None:
        self.coro = coro
        self.awaiting = awaiting

    async def rest(self) -> Any:
        return await _resume(self.coro, self.awaiting)


_DONE = object()


def step_once(coro: Coroutine[Any, Any, Any]) -> tuple[Any, Any]:
    """Run ``coro`` up to its first wait: ``(_DONE, result)`` if it finished (or raised: the
    exception propagates), else ``(pending, None)`` with ``pending.rest()`` to await."""
    try:
        awaiting = coro.send(None)
    except StopIteration as finished:
        return _DONE, finished.value
    return _Pending(coro, awaiting), None


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


class EagerFirst:
    """``wait_first`` for a ``mode.Service`` that runs the first awaitable up to its first wait
    before racing anything; mixed into Faust's consumer (see the module docstring)."""

    async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:  # noqa: ASYNC109 - mode.Service API
        first, rest = coros[0], coros[1:]
        race = super().wait_first  # type: ignore[misc]
        if timeout is not None or not inspect.iscoroutine(first) or self._must_race():
            return await race(*coros, timeout=timeout)
        try:
            pending, result = step_once(first)
        except BaseException:
            _close(rest)
            raise
        if pending is _DONE:
            _close(rest)
            return WaitResults([first], [result], False)
        return await race(pending.rest(), *rest)

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
