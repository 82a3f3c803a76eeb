"""The service container: topics, tables, pools and the capability services, started lazily once.

Agents, timers and web views all call ``await hub.started()`` before doing work, so no code path
depends on the order in which Faust starts its services.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
import faust

from fineract_hub.config import Settings
from fineract_hub.delivery.dispatcher import DeliveryJob, Dispatcher
from fineract_hub.delivery.fanout import WebhookFanout
from fineract_hub.delivery.http_client import HTTPClient
from fineract_hub.delivery.registry import WebhookRegistry, registry_table
from fineract_hub.delivery.secrets import SecretBox
from fineract_hub.delivery.service import WebhookService
from fineract_hub.delivery.ssrf import AddressPolicy
from fineract_hub.errors import ConfigError
from fineract_hub.ingest.canonical import FineractDecoder
from fineract_hub.ingest.schemas import SchemaLoadError, SchemaRegistry
from fineract_hub.metrics import Metrics
from fineract_hub.models import jsonexact
from fineract_hub.models.events import CanonicalEvent
from fineract_hub.storage.db import create_pool, migrate
from fineract_hub.storage.deliveries import DeliveryStore
from fineract_hub.storage.webhooks import WebhookStore, row_to_webhook
from fineract_hub.streams.ingest import dead_letter, send_until_accepted
from fineract_hub.streams.legacy_backlog import LegacyBacklog
from fineract_hub.streams.overlap import until_done
from fineract_hub.streams.sinks import Sinks

log = logging.getLogger(__name__)


@dataclass
class Topics:
    fineract: faust.TopicT
    events: faust.TopicT
    dead_letters: faust.TopicT
    operational: faust.TopicT


class Hub:
    def __init__(self, settings: Settings, app: faust.App) -> None:
        self.settings = settings
        self.app = app
        self.metrics = Metrics()
        self.topics = Topics(
            # Fineract creates this topic itself (10 partitions by default); declaring it too
            # means a hub started first still subscribes to it instead of waiting for a metadata
            # refresh. An existing topic is left as it is.
            fineract=_bytes_topic(app, settings.fineract_topic, settings.fineract_topic_partitions),
            events=_bytes_topic(app, settings.events_topic, settings.topic_partitions),
            dead_letters=_bytes_topic(app, settings.dead_letter_topic, 1),
            operational=_bytes_topic(app, settings.operational_topic, 1),
        )
        # Every worker needs every registration: a GlobalTable with one partition (the setting
        # faust documents against recovery loops with several workers). Views write it directly.
        self.webhook_table = registry_table(app, "webhooks")
        self.registry = WebhookRegistry(self.webhook_table)
        try:
            schemas = SchemaRegistry.load(settings.avro_schema_dir)
        except SchemaLoadError as exc:
            raise ConfigError([f"HUB_AVRO_SCHEMA_DIR: {exc}"]) from exc
        self.decoder = FineractDecoder(schemas)
        self.secret_box = SecretBox(settings.encryption_key)
        self.address_policy = AddressPolicy(settings.ssrf_allowlist, settings.webhook_https_only)
        self.scheduler_wakeup = asyncio.Event()
        self.ready = asyncio.Event()  # set once the registry is reconciled with PostgreSQL
        self._start_lock = asyncio.Lock()
        self._started = False
        self._last_disable_check = 0.0
        self.pool: asyncpg.Pool | None = None
        self.client: HTTPClient | None = None
        self.webhook_store: WebhookStore
        self.delivery_store: DeliveryStore
        self.dispatcher: Dispatcher
        self.webhooks: WebhookService
        self.sinks: Sinks

    async def started(self) -> Hub:
        if self._started:
            return self
        async with self._start_lock:
            if self._started:
                return self
            self.pool = await _retrying(
                "PostgreSQL", lambda: create_pool(self.settings.database_url)
            )
            await migrate(self.pool)
            self.webhook_store = WebhookStore(self.pool)
            self.delivery_store = DeliveryStore(self.pool)
            self.client = HTTPClient(self.address_policy)
            self.dispatcher = Dispatcher(
                self.settings,
                self.delivery_store,
                self.client,
                self.secret_box,
                self.metrics,
                on_disable=self._disable,
                on_exhausted=self._exhausted,
                on_outcomes=self._outcomes,
                room_freed=self.scheduler_wakeup,
            )
            self.dispatcher.start()
            self.webhooks = WebhookService(
                self.settings,
                self.webhook_store,
                self.delivery_store,
                self.registry,
                self.dispatcher,
                self.secret_box,
                self.emit,
                self.kick_scheduler,
                self.address_policy,
            )
            fanout = WebhookFanout(
                self.settings,
                self.registry,
                self.delivery_store,
                self.dispatcher,
                self.metrics,
                self.scheduler_wakeup,
                dead_letter=lambda event, reason: self.dead_letter_event(
                    "not_storable", reason, event
                ),
            )
            self.sinks = Sinks([fanout], self.dead_letter_event)
            self._started = True
        return self

    async def reconcile_registry(self) -> None:
        """PostgreSQL → table, after table recovery; then the worker may match events."""
        await self.started()
        rows = await self.webhook_store.all()
        changed = self.registry.reconcile(row_to_webhook(r) for r in rows)
        log.info("webhook registry reconciled", extra={"webhooks": len(rows), "changed": changed})
        self.ready.set()

    async def dead_letter_record(
        self,
        code: str,
        reason: str,
        key: bytes | None,
        value: bytes | None,
        origin: dict[str, Any],
    ) -> None:
        """A record the worker could not take: kept, with the reason, for an operator."""
        self.metrics.dead_letters.labels(reason=code).inc()
        letter = dead_letter(code, reason, key, value, origin)
        await send_until_accepted(self.topics.dead_letters, None, letter, "dead letter")

    async def dead_letter_event(self, code: str, reason: str, event: CanonicalEvent) -> None:
        """A canonical event a sink could not take."""
        await self.dead_letter_record(
            code, reason, None, event.to_json(), {"topic": self.settings.events_topic}
        )

    async def fan_out_legacy_backlog(self) -> None:
        """Once after an upgrade from the two-agent version (``streams/legacy_backlog.py``)."""
        assert self.pool is not None
        if self.settings.upgrade_backlog == "skip":
            return
        backlog = LegacyBacklog(
            self.pool,
            self.settings.kafka_bootstrap,
            self.settings.app_id,
            self.settings.events_topic,
            self.sinks.handle,
            functools.partial(self.dead_letter_record, "not_canonical"),
        )
        # Ingest waits meanwhile: an ordered webhook must get older events first, and a backlog
        # left for a later start might wait for weeks.
        await until_done(
            backlog.fan_out,
            "fanning out the canonical-topic backlog of an earlier version",
            first_delay=1.0,
        )

    def kick_scheduler(self) -> None:
        self.scheduler_wakeup.set()

    async def emit(self, kind: str, payload: dict[str, Any]) -> None:
        """Operational events (endpoint disabled, retries exhausted) for operators' tooling."""
        body = {"type": kind, "at": time.time(), **payload}
        try:
            await self.topics.operational.send(key=kind.encode(), value=jsonexact.dumpb(body))
        except Exception:
            log.exception("could not publish operational event %s", kind)

    async def _outcomes(self, succeeded: set[str], failed: set[str]) -> None:
        """Track failing streaks; check the auto-disable window at most once a second."""
        await self.webhook_store.note_outcomes(succeeded, failed)
        now = time.monotonic()
        if failed and now - self._last_disable_check >= 1.0:
            self._last_disable_check = now
            await self.webhooks.disable_long_failing()

    async def _disable(self, webhook_id: str, reason: str) -> None:
        self.metrics.disabled.labels(reason="gone" if "410" in reason else "failing").inc()
        await self.webhooks.disable(webhook_id, reason)

    async def _exhausted(self, job: DeliveryJob, result: Any) -> None:
        await self.emit(
            "webhook.delivery.exhausted",
            {
                "webhookId": job.webhook.id,
                "deliveryId": job.delivery_id,
                "messageId": job.message_id,
                "eventId": job.event.id,
                "eventType": job.event.type,
                "attempts": job.attempt,
                "lastError": result.error,
            },
        )

    async def stop(self) -> None:
        if not self._started:
            return
        await self.dispatcher.stop()
        if self.client is not None:
            await self.client.close()
        if self.pool is not None:
            await self.pool.close()


def _bytes_topic(app: faust.App, name: str, partitions: int) -> faust.TopicT:
    """Raw bytes in and out: we encode and decode ourselves (Avro in, exact JSON out)."""
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        internal=True,
    )


async def _retrying(what: str, connect: Any, attempts: int = 30) -> Any:
    delay = 0.5
    for attempt in range(1, attempts + 1):
        try:
            return await connect()
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            if attempt == attempts:
                raise
            log.warning("%s not reachable (%s); retrying in %.1fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
    raise AssertionError("unreachable")
