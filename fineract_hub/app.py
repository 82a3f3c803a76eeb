"""Builds the Faust app for given settings: topics, tables, agents, web routes.

A factory rather than a module-level app so tests and benchmarks can run several apps with their
own ids and topics; ``python -m fineract_hub`` builds one from the environment.
"""

from __future__ import annotations

import faust
import mode

from fineract_hub import diagnostics
from fineract_hub.agents import ingest, webhooks
from fineract_hub.config import Settings
from fineract_hub.hub import Hub
from fineract_hub.logs import logging_config
from fineract_hub.streams.consumer import Transport
from fineract_hub.streams.rebalance import hold_agent_input_during_seek
from fineract_hub.web import actions, views


def create_app(settings: Settings | None = None) -> tuple[faust.App, Hub]:
    settings = settings or Settings.from_env()
    app = faust.App(
        settings.app_id,
        broker=settings.kafka_broker_url,
        store=settings.table_store,
        autodiscover=False,
        web_bind=settings.web_bind,
        web_port=settings.web_port,
        web_host=settings.web_bind,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        producer_acks=-1,
        broker_commit_interval=1.0,
        broker_session_timeout=settings.kafka_session_timeout,
        broker_heartbeat_interval=min(3.0, settings.kafka_session_timeout / 3),
        logging_config=logging_config(settings.log_level, settings.log_format),
        web_cors_options=None,
        **({"datadir": settings.data_dir} if settings.data_dir else {}),
    )
    # Before anything asks for the transport: records reach the agents without a race of four
    # tasks each (see the module).
    app.transport = Transport(app.conf.broker_consumer, app)
    # Records fetched while Faust seeks after a rebalance must not be dropped (see the module).
    hold_agent_input_during_seek(app)
    hub = Hub(settings, app)
    actions.load_all()
    ingest.register(app, hub)
    webhooks.register(app, hub)
    views.register(app, hub)

    @app.service
    class HubLifecycle(mode.Service):
        """Closes pools and lets in-flight attempts finish when the worker stops."""

        async def on_start(self) -> None:
            diagnostics.install(app)

        async def on_stop(self) -> None:
            await hub.stop()

    return app, hub
