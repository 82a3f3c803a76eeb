"""The USR2 task dump must reach the innermost await, even behind wrappers Faust uses."""

from __future__ import annotations

import asyncio

from fineract_hub.diagnostics import _await_chain


async def _innermost(gate: asyncio.Event) -> None:
    await gate.wait()


class _Awaitable:
    """Like an agent's actor: awaited through ``__await__`` (a coroutine_wrapper)."""

    def __init__(self, gate: asyncio.Event) -> None:
        self.gate = gate

    def __await__(self):  # type: ignore[no-untyped-def]
        return _innermost(self.gate).__await__()


async def _ticks(gate: asyncio.Event):  # type: ignore[no-untyped-def]
    while True:
        await _Awaitable(gate)
        yield 1


async def _agent_body(gate: asyncio.Event) -> None:
    async for _ in _ticks(gate):
        pass


async def test_await_chain_follows_coroutine_wrappers_and_async_generators() -> None:
    gate = asyncio.Event()
    task = asyncio.create_task(_agent_body(gate))
    await asyncio.sleep(0)
    try:
        chain = "\n".join(_await_chain(task.get_coro()))
        assert "_agent_body" in chain
        assert "_ticks" in chain
        assert "_innermost" in chain
    finally:
        task.cancel()
