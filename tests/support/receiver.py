"""A real HTTP receiver on loopback that records what it gets and answers as a test scripts it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Behaviour:
    """Per-path answer: a status (or a callable of the request count), optional delay, headers."""

    status: int | Callable[[int], int] = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "ok"


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.behaviours: dict[str, Behaviour] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0
        self._changed = asyncio.Condition()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    async def start(self) -> Receiver:
        app = web.Application(client_max_size=10 * 2**20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def on(self, path: str, behaviour: Behaviour) -> None:
        self.behaviours[path] = behaviour

    def at(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        received = Received(request.method, request.path, dict(request.headers), body, time.time())
        behaviour = self.behaviours.get(request.path, Behaviour())
        count = len(self.at(request.path)) + 1
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        async with self._changed:
            self.requests.append(received)
            self._changed.notify_all()
        status = behaviour.status(count) if callable(behaviour.status) else behaviour.status
        return web.Response(status=status, text=behaviour.body, headers=behaviour.headers)

    async def wait_for(self, path: str, count: int, timeout: float = 30.0) -> list[Received]:
        async def enough() -> list[Received]:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.at(path)) >= count)
            return self.at(path)

        try:
            return await asyncio.wait_for(enough(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"receiver got {len(self.at(path))} of {count} requests on {path} within {timeout}s"
            ) from None
