"""Webhook actions: parse arguments, call ``WebhookService``, shape the GraphQL result."""

from __future__ import annotations

from typing import Any

import asyncpg

from fineract_hub.delivery.service import parse_instant
from fineract_hub.errors import NotFound, ValidationError
from fineract_hub.ingest.naming import known_event_types
from fineract_hub.models import jsonexact
from fineract_hub.models.webhooks import CONTENT_TYPE_NAMES
from fineract_hub.storage.webhooks import iso
from fineract_hub.web.actions import ActionContext, action

ADMIN = {"admin"}
READERS = {"admin", "user"}
MAX_PAGE = 100
WEBHOOK_STATUSES = (
    "success",
    "failed",
    "pending",
    "retrying",
    "exhausted",
    "render_error",
    "endpoint_disabled",
)


REDACTED = "[redacted]"


def webhook_config(row: asyncpg.Record, role: str = "admin") -> dict[str, Any]:
    """Custom headers often carry the receiver's credentials: only admins see their values."""
    headers = row["headers"] or {}
    if role != "admin":
        headers = dict.fromkeys(headers, REDACTED)
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "eventType": row["event_type"],
        "url": row["url"],
        "httpMethod": row["http_method"],
        "contentType": CONTENT_TYPE_NAMES[row["content_type"]],
        "headers": headers,
        "payloadTemplate": row["payload_template"],
        "isActive": row["is_active"],
        "retryCount": row["retry_count"],
        "retryInterval": row["retry_interval"],
        "timeout": row["timeout"],
        "ordered": row["ordered"],
        "hasSecret": bool(row["secret_enc"]),
        "disabledReason": row["disabled_reason"],
        "createdBy": row["created_by"],
        "createdDate": iso(row["created_date"]),
        "updatedBy": row["updated_by"],
        "updatedDate": iso(row["updated_date"]),
    }


def webhook_history(row: asyncpg.Record) -> dict[str, Any]:
    event_data = None
    if row["event_body"]:
        event_data = jsonexact.loads(row["event_body"]).get("data")
    return {
        "id": row["id"],
        "webhookId": row["webhook_id"],
        "deliveryId": row["delivery_id"],
        "eventId": row["event_id"],
        "eventType": row["event_type"],
        "eventData": event_data,
        "payload": row["sent_body"],
        "attempt": row["attempt"],
        "responseStatus": row["response_status"],
        "responseBody": row["response_body"],
        "executionTimeMs": row["execution_time_ms"],
        "status": row["status"],
        "errorMessage": row["error_message"],
        "retryCount": row["attempt"] - 1,
        "nextRetryTime": iso(row["next_retry_time"]),
        "isTest": row["is_test"],
        "createdDate": iso(row["created_at"]),
    }


def _page(args: dict[str, Any]) -> tuple[int, int]:
    limit = args.get("limit")
    offset = args.get("offset")
    limit = 20 if limit is None else limit
    offset = 0 if offset is None else offset
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}")
    if offset < 0:
        raise ValidationError("offset must not be negative")
    return limit, offset


async def _service(ctx: ActionContext) -> Any:
    hub = await ctx.services.started()
    return hub.webhooks


@action("registerWebhook", roles=ADMIN, kind="mutation")
async def register_webhook(ctx: ActionContext, args: dict[str, Any]) -> dict[str, Any]:
    service = await _service(ctx)
    webhook, secret = await service.register(args, ctx.user_id)
    return {"id": webhook.id, "secret": secret}


@action("getWebhooks", roles=READERS, kind="query")
async def get_webhooks(ctx: ActionContext, args: dict[str, Any]) -> dict[str, Any]:
    service = await _service(ctx)
    limit, offset = _page(args)
    rows, total = await service.webhooks.list(
        event_type=args.get("eventType"), is_active=args.get("isActive"), limit=limit, offset=offset
    )
    return {"webhooks": [webhook_config(r, ctx.role) for r in rows], "total": total}


@action("getWebhook", roles=READERS, kind="query")
async def get_webhook(ctx: ActionContext, args: dict[str, Any]) -> dict[str, Any] | None:
    service = await _service(ctx)
    try:
        return webhook_config(await service.webhooks.get(args["webhookId"]), ctx.role)
    except NotFound:
        return None


@action("getWebhookEventTypes", roles=READERS, kind="query")
async def get_webhook_event_types(ctx: ActionContext, args: dict[str, Any]) -> list[str]:
    return known_event_types()


@action("updateWebhook", roles=ADMIN, kind="mutation")
async def update_webhook(ctx: ActionContext, args: dict[str, Any]) -> dict[str, Any]:
    service = await _service(ctx)
    updates = args.get("updates") or {}
    if not updates:
        raise ValidationError("updates must name at least one field")
    return webhook_config(await service.update(args["webhookId"], updates, ctx.user_id))


@action("deleteWebhook", roles=ADMIN, kind="mutation")
async def delete_webhook(ctx: ActionContext, args: dict[str, Any]) -> dict[str, Any]:
    service = await _service(ctx)
    if not await service.delete(args["webhookId"]):
        raise NotFound(f"webhook {args['webhookId']!r} not found")
    return {"success": True}


@action("setWebhookActive", roles=ADMIN, kind="mutation")
async def set_webhook_active(ctx: ActionContext, args: dict[str, Any]) -> dict[str, Any]:
    service = await _service(ctx)
    return webhook_config(
        await service.set_active(args["webhookId"], bool(args["isActive"]), ctx.user_id)
    )


@action("rotateWebhookSecret", roles=ADMIN, kind="mutation")
async def rotate_webhook_secret(ctx: ActionContext, args: dict[str, Any]) -> dict[str, Any]:
    service = await _service(ctx)
    secret, expires = await service.rotate_secret(
        args["webhookId"], args.get("secretKey"), args.get("graceSeconds"), ctx.user_id
    )
    return {
        "webhookId": args["webhookId"],
        "secret": secret,
        "previousSecretExpiresAt": iso(expires),
    }


@action("testWebhook", roles=ADMIN, kind="mutation")
async def test_webhook(ctx: ActionContext, args: dict[str, Any]) -> dict[str, Any]:
    service = await _service(ctx)
    return await service.test(args["webhookId"], args.get("eventData"), args.get("eventType"))


@action("getWebhookExecutions", roles=READERS, kind="query")
async def get_webhook_executions(ctx: ActionContext, args: dict[str, Any]) -> dict[str, Any]:
    service = await _service(ctx)
    limit, offset = _page(args)
    status = args.get("status")
    if status is not None and status not in WEBHOOK_STATUSES:
        raise ValidationError(f"status must be one of {', '.join(WEBHOOK_STATUSES)}")
    rows, total = await service.deliveries.attempts(
        webhook_id=args.get("webhookId"),
        event_id=args.get("eventId"),
        status=status,
        since=parse_instant(args.get("since"), "since"),
        until=parse_instant(args.get("until"), "until"),
        is_test=args.get("isTest"),
        limit=limit,
        offset=offset,
    )
    return {"history": [webhook_history(r) for r in rows], "total": total}


@action("getWebhookStats", roles=READERS, kind="query")
async def get_webhook_stats(ctx: ActionContext, args: dict[str, Any]) -> dict[str, Any]:
    service = await _service(ctx)
    row = await service.webhooks.get(args["webhookId"])
    stats = await service.deliveries.stats(row["id"])
    finished = stats["delivered"] + stats["failed"]
    return {
        "webhookId": row["id"],
        "totalDeliveries": stats["total"],
        "delivered": stats["delivered"],
        "failed": stats["failed"],
        "pending": stats["pending"],
        "successRate": (stats["delivered"] / finished) if finished else None,
        "lastSuccessAt": iso(stats["last_success"]),
        "lastFailureAt": iso(stats["last_failure"]),
        "backlog": stats["backlog"],
        "isActive": row["is_active"],
        "disabledReason": row["disabled_reason"],
    }


@action("replayWebhookExecution", roles=ADMIN, kind="mutation")
async def replay_webhook_execution(ctx: ActionContext, args: dict[str, Any]) -> dict[str, Any]:
    service = await _service(ctx)
    ids = await service.replay_execution(args["executionId"])
    return {"success": True, "count": len(ids), "deliveryIds": ids}


@action("replayFailedWebhookDeliveries", roles=ADMIN, kind="mutation")
async def replay_failed_webhook_deliveries(
    ctx: ActionContext, args: dict[str, Any]
) -> dict[str, Any]:
    service = await _service(ctx)
    since = parse_instant(args.get("since"), "since")
    if since is None:
        raise ValidationError("since is required")
    ids = await service.replay_failed(
        args["webhookId"], since, parse_instant(args.get("until"), "until")
    )
    return {"success": True, "count": len(ids), "deliveryIds": ids}
