"""Faust web routes: Hasura actions, /graphql, /health, /metrics. Each route is a thin adapter."""

from __future__ import annotations

import faust
from aiohttp import web

from fineract_hub.hub import Hub
from fineract_hub.models import jsonexact
from fineract_hub.web.graphql import execute_graphql, explorer_html
from fineract_hub.web.hasura import execute_action
from fineract_hub.web.health import health


def _json(view: faust.web.View, status: int, body: object) -> faust.web.Response:
    return view.bytes(jsonexact.dumpb(body), content_type="application/json", status=status)


def register(app: faust.App, hub: Hub) -> None:
    @app.page("/actions")
    class Actions(faust.web.View):
        """Hasura action handler: one URL, dispatched on ``action.name``."""

        async def post(self, request: web.Request) -> faust.web.Response:
            status, body = await execute_action(hub, request.headers, await request.read())
            return _json(self, status, body)

    @app.page("/graphql")
    class GraphQL(faust.web.View):
        async def get(self, request: web.Request) -> faust.web.Response:
            return self.html(explorer_html())

        async def post(self, request: web.Request) -> faust.web.Response:
            status, body = await execute_graphql(hub, request.headers, await request.read())
            return _json(self, status, body)

    @app.page("/health")
    class Health(faust.web.View):
        async def get(self, request: web.Request) -> faust.web.Response:
            status, body = await health(hub)
            return _json(self, status, body)

    @app.page("/metrics")
    class Metrics(faust.web.View):
        async def get(self, request: web.Request) -> faust.web.Response:
            hub.metrics.in_flight.set(hub.dispatcher.in_flight if hub._started else 0)
            return self.bytes(
                hub.metrics.render(), content_type="text/plain; version=0.0.4"
            )
