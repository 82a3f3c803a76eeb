"""``kill -USR2 <worker pid>`` logs where every asyncio task is waiting.

A worker that stops making progress without an error (a stuck await) shows nothing in thread
dumps; the task stacks say which await it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import logging
import signal
from typing import Any

log = logging.getLogger(__name__)


_consumer_state: Any = None  # set by install(): a callable describing the Kafka consumer


def dump_tasks() -> None:
    tasks = asyncio.all_tasks()
    out = io.StringIO()
    if _consumer_state is not None:
        try:
            out.write(f"consumer: {_consumer_state()}\n")
        except Exception as exc:  # diagnostics must never take the worker down
            out.write(f"consumer: unavailable ({exc!r})\n")
    for task in sorted(tasks, key=lambda t: t.get_name()):
        out.write(f"--- {task.get_name()}\n")
        for where in _await_chain(task.get_coro()):
            out.write(f"    {where}\n")
    log.warning("asyncio tasks (%d):\n%s", len(tasks), out.getvalue())


def _await_chain(awaitable: Any, depth: int = 40) -> list[str]:
    """Follow coroutine/async-generator awaits down to the innermost one."""
    chain: list[str] = []
    current = awaitable
    while current is not None and depth > 0:
        depth -= 1
        frame = getattr(current, "cr_frame", None) or getattr(current, "ag_frame", None)
        if frame is not None:
            chain.append(f"{frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
        else:
            chain.append(repr(current)[:200])
        if frame is None:
            # coroutine_wrapper / async_generator_asend hide the coroutine they drive; the
            # garbage collector still knows it (an agent's body sits behind one of these).
            current = next(
                (r for r in gc.get_referents(current)
                 if hasattr(r, "cr_frame") or hasattr(r, "ag_frame")),
                None,
            )
        else:
            current = getattr(current, "cr_await", None) or getattr(current, "ag_await", None)
    return chain


def consumer_state(app: Any) -> str:
    """Assignment, paused partitions and fetch positions of the worker's Kafka consumer."""
    consumer = app.consumer._thread._ensure_consumer()
    assigned = sorted(consumer.assignment(), key=str)
    paused = sorted(consumer.paused(), key=str)
    state = consumer._fetcher._subscriptions.subscription.assignment
    positions = {
        f"{tp.topic}[{tp.partition}]": state.state_value(tp).position
        if state.state_value(tp) is not None else None
        for tp in assigned
    }
    faust_consumer = app.consumer
    read = {f"{tp.topic}[{tp.partition}]": o for tp, o in faust_consumer._read_offset.items()}
    committed = {
        f"{tp.topic}[{tp.partition}]": o for tp, o in faust_consumer._committed_offset.items()
    }
    return (
        f"assigned={len(assigned)} paused={[str(t) for t in paused]} positions={positions} "
        f"read_offsets={read} committed={committed} "
        f"unacked={len(faust_consumer._unacked_messages)}"
    )


def install(app: Any = None) -> None:
    global _consumer_state
    if app is not None:
        _consumer_state = lambda: consumer_state(app)  # noqa: E731
    with contextlib.suppress(NotImplementedError, RuntimeError):  # no loop / platform
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, dump_tasks)
