"""Delivery state, retry schedule and attempt history in PostgreSQL.

Why PostgreSQL and not a delayed Kafka topic: a retry may be due in 5 s or in 24 h, and Kafka has
no per-message delay; a table with ``due_at`` and ``FOR UPDATE SKIP LOCKED`` gives durable,
restart-proof retries that several workers share without double claims, and lets users query
every delivery's terminal state with the same SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg

from fineract_hub.errors import NotFound
from fineract_hub.storage.where import Where

REPLAYABLE = ("exhausted", "render_error", "endpoint_disabled")
#: What an attempt sent, for queries joining hub_webhook_attempts a and hub_events e.
SENT_BODY = "COALESCE(a.request_body, CASE WHEN a.body_is_event THEN e.body END)"


# Made for every event or delivery: NamedTuples are as immutable as frozen dataclasses and
# several times cheaper to create (a frozen dataclass sets each field via object.__setattr__).
# NewDelivery, AttemptRecord and DeliveryUpdate go to PostgreSQL as they are, as arrays of the
# row types of migration 004: their fields and those types' must stay the same, in order.
class NewDelivery(NamedTuple):
    id: str
    message_id: str
    webhook_id: str
    event_id: str
    event_type: str
    aggregate_id: int
    ordered: bool
    status: str  # in_flight (attempted now, under lease) or pending (left to the scheduler)
    due_in: float  # seconds from now: lease length or delay
    is_test: bool = False


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    id: str
    message_id: str
    webhook_id: str
    event_body: str
    attempts: int
    is_test: bool


class AttemptRecord(NamedTuple):
    id: str
    delivery_id: str
    message_id: str
    webhook_id: str
    event_id: str
    event_type: str
    attempt: int
    status: str
    response_status: int | None
    response_body: str | None
    execution_time_ms: int | None
    error_message: str | None
    request_body: str | None
    next_retry_in: float | None  # seconds; None when no retry follows
    is_test: bool
    #: The body sent is hub_events.body of this event, byte for byte (request_body is NULL).
    body_is_event: bool = False


class DeliveryUpdate(NamedTuple):
    delivery_id: str
    status: str
    attempts: int
    due_in: float | None  # None = terminal
    last_error: str | None


class DeliveryStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def insert_new(
        self, events: Sequence[tuple[str, str, str]], deliveries: Sequence[NewDelivery]
    ) -> set[str]:
        """Store events and deliveries in one transaction; returns delivery ids that were new.

        A delivery id that already exists (Fineract re-sent the event, or we re-read it after a
        crash) is skipped, so receivers are not sent the same event twice for that reason.
        """
        inserted, _ = await self.insert_new_with_events(events, deliveries)
        return inserted

    async def insert_new_with_events(
        self, events: Sequence[tuple[str, str, str]], deliveries: Sequence[NewDelivery]
    ) -> tuple[set[str], set[str]]:
        """``insert_new``, also returning the event ids whose body was stored now.

        An event stored earlier keeps its first body (ON CONFLICT DO NOTHING): a re-sent event
        with other content then differs from what hub_events holds.
        """
        if not deliveries:
            return set(), set()
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await conn.fetch(
                "INSERT INTO hub_events (id, type, body)"
                " SELECT * FROM unnest($1::hub_event_row[])"
                " ON CONFLICT (id) DO NOTHING RETURNING id",
                events,
            )
            rows = await conn.fetch(
                "INSERT INTO hub_webhook_deliveries (id, message_id, webhook_id, event_id,"
                " event_type, aggregate_id, ordered, status, due_at, is_test)"
                " SELECT i, m, w, e, t, a, o, s, now() + make_interval(secs => d), x"
                " FROM unnest($1::hub_new_delivery_row[])"
                " WITH ORDINALITY AS u(i, m, w, e, t, a, o, s, d, x, n)"
                # A worker's registry may still hold a webhook another worker deleted: its
                # deliveries are not wanted, and the foreign key must not fail the batch
                # (retrying it would stall ingest for every webhook).
                " WHERE EXISTS (SELECT 1 FROM hub_webhooks h WHERE h.id = u.w)"
                " ORDER BY n"
                " ON CONFLICT (id) DO NOTHING RETURNING id",
                deliveries,
            )
        return {r["id"] for r in rows}, {r["id"] for r in fresh}

    async def claim_due(
        self, limit: int, lease_seconds: float, skip_webhooks: Sequence[str] = ()
    ) -> list[ClaimedDelivery]:
        """Lease due deliveries; for ordered webhooks only the oldest open one per aggregate.

        ``skip_webhooks``: endpoints whose in-memory queue is full; their rows stay in the table
        so that one slow endpoint's backlog cannot fill the worker and delay the others.
        """
        rows = await self.pool.fetch(
            "WITH due AS ("
            "  SELECT d.id FROM hub_webhook_deliveries d"
            "  WHERE d.due_at <= now() AND NOT (d.webhook_id = ANY($3::text[]))"
            "    AND (NOT d.ordered OR NOT EXISTS ("
            "      SELECT 1 FROM hub_webhook_deliveries p"
            "      WHERE p.webhook_id = d.webhook_id AND p.aggregate_id = d.aggregate_id"
            "        AND p.seq < d.seq AND p.due_at IS NOT NULL))"
            "  ORDER BY d.due_at LIMIT $1 FOR UPDATE SKIP LOCKED)"
            " UPDATE hub_webhook_deliveries d SET status = 'in_flight',"
            "   due_at = now() + make_interval(secs => $2), updated_at = now()"
            " FROM due, hub_events e WHERE d.id = due.id AND e.id = d.event_id"
            " RETURNING d.id, d.message_id, d.webhook_id, d.attempts, d.is_test, e.body",
            limit,
            float(lease_seconds),
            list(skip_webhooks),
        )
        return [
            ClaimedDelivery(
                r["id"], r["message_id"], r["webhook_id"], r["body"], r["attempts"], r["is_test"]
            )
            for r in rows
        ]

    async def record(
        self, attempts: Sequence[AttemptRecord], updates: Sequence[DeliveryUpdate]
    ) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            # Outcomes need not wait for the WAL flush: if PostgreSQL itself crashes before
            # it, the delivery is still in_flight under its lease and is simply sent again
            # (same webhook-id). Worker crashes lose nothing either way.
            await conn.execute("SET LOCAL synchronous_commit TO off")
            if attempts:
                await conn.execute(
                    "INSERT INTO hub_webhook_attempts (id, delivery_id, message_id, webhook_id,"
                    " event_id, event_type, attempt, status, response_status, response_body,"
                    " execution_time_ms, error_message, request_body, next_retry_time, is_test,"
                    " body_is_event)"
                    " SELECT i, dl, m, w, e, t, a, s, rs, rb, ms, er, bd,"
                    "   CASE WHEN nr IS NULL THEN NULL ELSE now() + make_interval(secs => nr) END,"
                    "   x, be"
                    " FROM unnest($1::hub_attempt_row[])"
                    " AS u(i, dl, m, w, e, t, a, s, rs, rb, ms, er, bd, nr, x, be)"
                    " WHERE EXISTS (SELECT 1 FROM hub_webhooks h WHERE h.id = u.w)"
                    " ON CONFLICT (id) DO NOTHING",
                    attempts,
                )
            if updates:
                await conn.execute(
                    "UPDATE hub_webhook_deliveries d SET status = u.s, attempts = u.a,"
                    " due_at = CASE WHEN u.dn IS NULL THEN NULL"
                    "   ELSE now() + make_interval(secs => u.dn) END,"
                    " last_error = u.er, updated_at = now()"
                    " FROM unnest($1::hub_delivery_update_row[]) AS u(i, s, a, dn, er)"
                    " WHERE d.id = u.i",
                    updates,
                )

    async def close_open_for_webhook(self, webhook_id: str, status: str, reason: str) -> int:
        result = await self.pool.execute(
            "UPDATE hub_webhook_deliveries SET status = $2, due_at = NULL, last_error = $3,"
            " updated_at = now() WHERE webhook_id = $1 AND due_at IS NOT NULL"
            " AND status <> 'in_flight'",
            webhook_id,
            status,
            reason,
        )
        return int(result.split()[-1])

    async def event_body(self, event_id: str) -> str:
        body = await self.pool.fetchval("SELECT body FROM hub_events WHERE id = $1", event_id)
        if body is None:
            raise NotFound(f"event {event_id!r} not found")
        return str(body)

    async def attempts(
        self,
        *,
        webhook_id: str | None,
        event_id: str | None,
        status: str | None,
        since: datetime | None,
        until: datetime | None,
        is_test: bool | None,
        limit: int,
        offset: int,
    ) -> tuple[list[asyncpg.Record], int]:
        where = (
            Where()
            .equals("a.webhook_id", webhook_id)
            .equals("a.event_id", event_id)
            .equals("a.status", status)
            .equals("a.is_test", is_test)
            .add("a.created_at >= {}", since)
            .add("a.created_at < {}", until)
        )
        total = await self.pool.fetchval(
            f"SELECT count(*) FROM hub_webhook_attempts a{where.clause}",  # noqa: S608 - fixed fragments
            *where.args,
        )
        page, args = where.page(limit, offset)
        rows = await self.pool.fetch(
            "SELECT a.*, d.attempts AS delivery_attempts, e.body AS event_body,"  # noqa: S608
            f" {SENT_BODY} AS sent_body"
            " FROM hub_webhook_attempts a"
            " LEFT JOIN hub_webhook_deliveries d ON d.id = a.delivery_id"
            f" LEFT JOIN hub_events e ON e.id = a.event_id{where.clause}"
            f" ORDER BY a.created_at DESC, a.id{page}",
            *args,
        )
        return rows, int(total)

    async def attempt(self, attempt_id: str) -> asyncpg.Record:
        row = await self.pool.fetchrow(
            f"SELECT a.*, d.aggregate_id, d.ordered, {SENT_BODY} AS sent_body"  # noqa: S608
            " FROM hub_webhook_attempts a"
            " LEFT JOIN hub_webhook_deliveries d ON d.id = a.delivery_id"
            " LEFT JOIN hub_events e ON e.id = a.event_id WHERE a.id = $1",
            attempt_id,
        )
        if row is None:
            raise NotFound(f"execution {attempt_id!r} not found")
        return row

    async def replayable(
        self, webhook_id: str, since: datetime, until: datetime | None
    ) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            "SELECT DISTINCT ON (message_id) * FROM hub_webhook_deliveries"
            " WHERE webhook_id = $1 AND status = ANY($2::text[]) AND created_at >= $3"
            " AND ($4::timestamptz IS NULL OR created_at < $4)"
            " ORDER BY message_id, created_at DESC",
            webhook_id,
            list(REPLAYABLE),
            since,
            until,
        )

    async def stats(self, webhook_id: str) -> dict[str, Any]:
        row = await self.pool.fetchrow(
            "SELECT count(*) AS total,"
            " count(*) FILTER (WHERE status = 'success') AS delivered,"
            " count(*) FILTER (WHERE status IN ('exhausted','render_error','endpoint_disabled'))"
            "   AS failed,"
            " count(*) FILTER (WHERE due_at IS NOT NULL) AS backlog,"
            " count(*) FILTER (WHERE status = 'pending') AS pending"
            " FROM hub_webhook_deliveries WHERE webhook_id = $1 AND NOT is_test",
            webhook_id,
        )
        last = await self.pool.fetchrow(
            "SELECT max(created_at) FILTER (WHERE status = 'success') AS last_success,"
            " max(created_at) FILTER (WHERE status <> 'success') AS last_failure"
            " FROM hub_webhook_attempts WHERE webhook_id = $1 AND NOT is_test",
            webhook_id,
        )
        return {**dict(row), **dict(last)}

    async def backlog(self) -> int:
        return int(
            await self.pool.fetchval(
                "SELECT count(*) FROM hub_webhook_deliveries WHERE due_at IS NOT NULL"
            )
        )

    async def purge_older_than(self, days: int) -> tuple[int, int]:
        """Retention: drop old history, terminal deliveries, and events nothing points at."""
        async with self.pool.acquire() as conn, conn.transaction():
            attempts = await conn.execute(
                "DELETE FROM hub_webhook_attempts"
                " WHERE created_at < now() - make_interval(days => $1)",
                days,
            )
            deliveries = await conn.execute(
                "DELETE FROM hub_webhook_deliveries WHERE due_at IS NULL"
                " AND updated_at < now() - make_interval(days => $1)",
                days,
            )
            await conn.execute(
                "DELETE FROM hub_events e WHERE received_at < now() - make_interval(days => $1)"
                " AND NOT EXISTS (SELECT 1 FROM hub_webhook_deliveries d WHERE d.event_id = e.id)",
                days,
            )
        return int(attempts.split()[-1]), int(deliveries.split()[-1])

