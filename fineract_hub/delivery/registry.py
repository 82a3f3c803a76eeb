"""Webhook registrations held in a Faust GlobalTable, with an index for matching events.

Every worker holds every registration (GlobalTable), because events are partitioned by
aggregate, not by webhook: any worker may need any webhook. PostgreSQL stays the durable source;
the table is rebuilt from it at start-up (``reconcile``) so a registration whose changelog write
was lost in a crash still reaches every worker.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, MutableMapping
from typing import Any

import faust

from fineract_hub.ingest.naming import subscription_matches
from fineract_hub.models.events import CanonicalEvent
from fineract_hub.models.webhooks import Webhook

REFRESH_SECONDS = 1.0


class RegistryTable(faust.GlobalTable):
    """A one-partition GlobalTable that web views and background tasks may write.

    Faust only lets stream iteration write tables, unless ``use_partitioner`` hands the choice
    to the producer's partitioner, which fails while the producer has no metadata for the
    changelog yet. With a single partition the answer is always 0, so say so.
    """

    def partition_for_key(self, key: Any) -> int | None:
        return 0


def registry_table(app: faust.App, name: str) -> RegistryTable:
    return app.tables.add(RegistryTable(  # type: ignore[return-value]
        app, name=name, partitions=1, beacon=app.tables.beacon, standby_buffer_size=1,
        is_global=True, recovery_buffer_size=1,
    ))


class WebhookRegistry:
    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self.table = table
        self._active: list[Webhook] = []
        self._by_type: dict[tuple[str, str | None], list[Webhook]] = {}
        self._built_at = 0.0
        self._dirty = True

    def put(self, webhook: Webhook) -> None:
        self.table[webhook.id] = webhook.to_table()
        self._dirty = True

    def remove(self, webhook_id: str) -> None:
        if webhook_id in self.table:
            del self.table[webhook_id]
        self._dirty = True

    def get(self, webhook_id: str) -> Webhook | None:
        raw = self.table.get(webhook_id)
        return Webhook.from_table(raw) if raw else None

    def all(self) -> list[Webhook]:
        return [Webhook.from_table(v) for v in self.table.values() if v]

    def reconcile(self, durable: Iterable[Webhook]) -> int:
        """Make the table equal the durable registrations; returns how many entries changed."""
        changed = 0
        wanted = {w.id: w for w in durable}
        for webhook in wanted.values():
            current = self.table.get(webhook.id)
            if current is None or current.get("version") != webhook.version:
                self.put(webhook)
                changed += 1
        for stale in [k for k in list(self.table.keys()) if k not in wanted]:
            self.remove(stale)
            changed += 1
        return changed

    def _refresh(self) -> None:
        now = time.monotonic()
        if not self._dirty and now - self._built_at < REFRESH_SECONDS:
            return
        self._active = [w for w in self.all() if w.is_active]
        self._by_type = {}
        self._built_at = now
        self._dirty = False

    def matching(self, event: CanonicalEvent) -> list[Webhook]:
        self._refresh()
        key = (event.type, event.fineract_type)
        found = self._by_type.get(key)
        if found is None:
            found = [
                w
                for w in self._active
                if subscription_matches(w.event_type, event.type, event.fineract_type)
            ]
            self._by_type[key] = found
        return found
