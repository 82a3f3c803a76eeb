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
    """What this worker knows about every webhook, merged by version.

    The table is a change feed, not the truth of the moment: while Faust recovers it (at start,
    after a rebalance) it can be partly empty, and a matcher rebuilt from it then would drop
    events as unmatched. So entries are only ever replaced by a higher version, deletions are
    versioned tombstones, and a key missing from the table means "no news", never "deleted".
    """

    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self.table = table
        self._known: dict[str, dict[str, Any]] = {}
        self._active: list[Webhook] = []
        self._by_type: dict[tuple[str, str | None], list[Webhook]] = {}
        self._built_at = 0.0
        self._dirty = True

    def _merge(self, raw: dict[str, Any] | None) -> None:
        if not raw or "id" not in raw:
            return
        current = self._known.get(raw["id"])
        if current is None or raw.get("version", 0) > current.get("version", 0):
            self._known[raw["id"]] = raw
            self._dirty = True

    def put(self, webhook: Webhook) -> None:
        value = webhook.to_table()
        self.table[webhook.id] = value
        self._merge(value)

    def remove(self, webhook_id: str, version: int) -> None:
        """``version`` is the deleted row's version; the tombstone supersedes it."""
        tombstone = {"id": webhook_id, "deleted": True, "version": version + 1}
        self.table[webhook_id] = tombstone
        self._merge(tombstone)

    def get(self, webhook_id: str) -> Webhook | None:
        self._merge(self.table.get(webhook_id))
        raw = self._known.get(webhook_id)
        return None if raw is None or raw.get("deleted") else Webhook.from_table(raw)

    def all(self) -> list[Webhook]:
        return [Webhook.from_table(v) for v in self._known.values() if not v.get("deleted")]

    def reconcile(self, durable: Iterable[Webhook]) -> int:
        """Bring the table and this worker up to the durable registrations; returns changes."""
        changed = 0
        for value in list(self.table.values()):
            self._merge(value)
        wanted = {w.id: w for w in durable}
        for webhook in wanted.values():
            current = self.table.get(webhook.id)
            if current is None or current.get("version", 0) < webhook.version:
                self.put(webhook)
                changed += 1
            else:
                self._merge(webhook.to_table())
        for stale, raw in list(self._known.items()):
            if stale not in wanted and not raw.get("deleted"):
                self.remove(stale, raw.get("version", 0))
                changed += 1
        return changed

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._built_at >= REFRESH_SECONDS:
            for value in list(self.table.values()):
                self._merge(value)
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
