"""Webhook registrations in PostgreSQL: the durable source the Faust table is rebuilt from."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from fineract_hub.errors import Conflict, NotFound
from fineract_hub.models.webhooks import Webhook
from fineract_hub.storage.where import Where

_COLUMNS = (
    "name",
    "description",
    "event_type",
    "url",
    "http_method",
    "content_type",
    "headers",
    "payload_template",
    "is_active",
    "retry_count",
    "retry_interval",
    "timeout",
    "ordered",
)


def row_to_webhook(row: asyncpg.Record) -> Webhook:
    expires = row["previous_secret_expires_at"]
    return Webhook(
        id=row["id"],
        name=row["name"],
        event_type=row["event_type"],
        url=row["url"],
        http_method=row["http_method"],
        content_type=row["content_type"],
        headers=dict(row["headers"] or {}),
        payload_template=row["payload_template"],
        is_active=row["is_active"],
        retry_count=row["retry_count"],
        retry_interval=row["retry_interval"],
        timeout=row["timeout"],
        ordered=row["ordered"],
        secret_enc=row["secret_enc"],
        previous_secret_enc=row["previous_secret_enc"],
        previous_secret_expires_at=expires.timestamp() if expires else None,
        version=row["version"],
    )


class WebhookStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def insert(
        self, webhook_id: str, fields: dict[str, Any], secret_enc: str, created_by: str | None
    ) -> asyncpg.Record:
        try:
            return await self.pool.fetchrow(
                "INSERT INTO hub_webhooks (id, secret_enc, created_by, "  # noqa: S608 - whitelisted columns
                + ", ".join(_COLUMNS)
                + ") VALUES ($1, $2, $3, "
                + ", ".join(f"${i}" for i in range(4, 4 + len(_COLUMNS)))
                + ") RETURNING *",
                webhook_id,
                secret_enc,
                created_by,
                *(fields[c] for c in _COLUMNS),
            )
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(
                f"a webhook named {fields['name']!r} already exists for event type "
                f"{fields['event_type']!r}"
            ) from exc

    async def get(self, webhook_id: str) -> asyncpg.Record:
        row = await self.pool.fetchrow("SELECT * FROM hub_webhooks WHERE id = $1", webhook_id)
        if row is None:
            raise NotFound(f"webhook {webhook_id!r} not found")
        return row

    async def update(
        self, webhook_id: str, changes: dict[str, Any], updated_by: str | None
    ) -> asyncpg.Record:
        """Apply column changes, bump the version; ``changes`` keys are column names."""
        assignments = []
        values: list[Any] = [webhook_id, updated_by]
        for column, value in changes.items():
            if column not in _ALLOWED_UPDATES:
                raise ValueError(f"column {column} cannot be updated")
            values.append(value)
            assignments.append(f"{column} = ${len(values)}")
        sql = (
            "UPDATE hub_webhooks SET "  # noqa: S608 - whitelisted columns
            + ", ".join(
                [*assignments, "version = version + 1", "updated_by = $2", "updated_date = now()"]
            )
            + " WHERE id = $1 RETURNING *"
        )
        try:
            row = await self.pool.fetchrow(sql, *values)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict("another webhook already has this name for this event type") from exc
        if row is None:
            raise NotFound(f"webhook {webhook_id!r} not found")
        return row

    async def delete(self, webhook_id: str) -> int | None:
        """Returns the deleted row's version, or None when there was no such webhook."""
        return await self.pool.fetchval(
            "DELETE FROM hub_webhooks WHERE id = $1 RETURNING version", webhook_id)

    async def list(
        self, *, event_type: str | None, is_active: bool | None, limit: int, offset: int
    ) -> tuple[list[asyncpg.Record], int]:
        where = Where().equals("event_type", event_type).equals("is_active", is_active)
        total = await self.pool.fetchval(
            f"SELECT count(*) FROM hub_webhooks{where.clause}",  # noqa: S608 - fixed fragments
            *where.args,
        )
        page, args = where.page(limit, offset)
        rows = await self.pool.fetch(
            f"SELECT * FROM hub_webhooks{where.clause} ORDER BY created_date DESC, id{page}",  # noqa: S608
            *args,
        )
        return rows, int(total)

    async def all(self) -> list[asyncpg.Record]:
        return await self.pool.fetch("SELECT * FROM hub_webhooks")

    async def note_outcomes(self, succeeded: set[str], failed: set[str]) -> None:
        """Track how long each endpoint has been failing without a success."""
        if succeeded:
            await self.pool.execute(
                "UPDATE hub_webhooks SET failing_since = NULL"
                " WHERE id = ANY($1::text[]) AND failing_since IS NOT NULL",
                list(succeeded),
            )
        if failed - succeeded:
            await self.pool.execute(
                "UPDATE hub_webhooks SET failing_since = now()"
                " WHERE id = ANY($1::text[]) AND failing_since IS NULL",
                list(failed - succeeded),
            )

    async def failing_longer_than(self, seconds: int) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT id FROM hub_webhooks WHERE is_active AND failing_since IS NOT NULL"
            " AND failing_since < now() - make_interval(secs => $1)",
            float(seconds),
        )
        return [r["id"] for r in rows]


_ALLOWED_UPDATES = frozenset(
    {
        *_COLUMNS,
        "secret_enc",
        "previous_secret_enc",
        "previous_secret_expires_at",
        "disabled_reason",
        "failing_since",
    }
)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
