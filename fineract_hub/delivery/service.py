"""Webhook management: what the actions do, independent of GraphQL or Hasura.

Writes go to PostgreSQL first (durable, unique names), then to the Faust table that every worker
matches events against. Validation happens here, once, for every transport.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg

from fineract_hub.config import Settings
from fineract_hub.delivery.dispatcher import DeliveryJob, Dispatcher
from fineract_hub.delivery.http_client import HTTP_TOKEN
from fineract_hub.delivery.ids import message_id, new_delivery_id, new_webhook_id
from fineract_hub.delivery.registry import WebhookRegistry
from fineract_hub.delivery.secrets import SecretBox
from fineract_hub.delivery.signing import decode_secret, generate_secret
from fineract_hub.delivery.ssrf import AddressPolicy, check_url
from fineract_hub.errors import ValidationError
from fineract_hub.ingest.naming import validate_subscription
from fineract_hub.models.events import CanonicalEvent
from fineract_hub.models.webhooks import CONTENT_TYPES, HTTP_METHODS, RESERVED_HEADERS, Webhook
from fineract_hub.storage.deliveries import DeliveryStore, NewDelivery
from fineract_hub.storage.webhooks import WebhookStore, row_to_webhook
from fineract_hub.templates import compile_template

log = logging.getLogger(__name__)

#: Control characters (tab allowed) and Unicode line breaks: the delivery client refuses CR, LF
#: and NUL at send time and receivers the rest, which would turn a bad registration into a
#: webhook that fails forever.
_HEADER_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
MAX_HEADER_NAME = 128
MAX_RETRY_COUNT = 20
MAX_RETRY_INTERVAL = 86400
DEFAULT_ROTATION_GRACE = 86400

Emit = Callable[[str, dict[str, Any]], Awaitable[None]]


def _text(value: Any, name: str, *, required: bool, limit: int) -> str | None:
    if value is None:
        if required:
            raise ValidationError(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string")
    value = value.strip()
    if required and not value:
        raise ValidationError(f"{name} must not be empty")
    if len(value) > limit:
        raise ValidationError(f"{name} must be at most {limit} characters")
    return value


def _int_in(value: Any, name: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be an integer")
    if not low <= value <= high:
        raise ValidationError(f"{name} must be between {low} and {high}")
    return value


def validate_headers(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValidationError("headers must be a JSON object of header name to string value")
    headers: dict[str, str] = {}
    for name, value in raw.items():
        if (
            not isinstance(name, str)
            or len(name) > MAX_HEADER_NAME
            or not HTTP_TOKEN.fullmatch(name)
        ):
            raise ValidationError(f"header name {name!r} is not a valid HTTP header name")
        if name.lower() in RESERVED_HEADERS:
            raise ValidationError(
                f"header {name!r} is set by the hub (signature, framing or event metadata) "
                "and cannot be overridden"
            )
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValidationError(f"header {name!r} must have a string value")
        text = str(value)
        if _HEADER_CONTROL.search(text) or len(text) > 8192:
            raise ValidationError(f"header {name!r} value has control characters or is too long")
        headers[name] = text
    return headers


def parse_instant(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationError(f"{name} must be an ISO-8601 date-time, got {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class WebhookService:
    def __init__(
        self,
        settings: Settings,
        webhooks: WebhookStore,
        deliveries: DeliveryStore,
        registry: WebhookRegistry,
        dispatcher: Dispatcher,
        secret_box: SecretBox,
        emit: Emit,
        kick_scheduler: Callable[[], None],
        address_policy: AddressPolicy,
    ) -> None:
        self.settings = settings
        self.webhooks = webhooks
        self.deliveries = deliveries
        self.registry = registry
        self.dispatcher = dispatcher
        self.secret_box = secret_box
        self.emit = emit
        self.kick_scheduler = kick_scheduler
        self.address_policy = address_policy

    # -- validation ----------------------------------------------------------------------------
    async def _validated(self, raw: dict[str, Any], *, partial: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}

        def given(key: str) -> bool:
            return not partial or key in raw

        if given("name"):
            out["name"] = _text(raw.get("name"), "name", required=True, limit=100)
        if given("description"):
            out["description"] = _text(
                raw.get("description"), "description", required=False, limit=2000
            )
        if given("eventType"):
            event_type = _text(raw.get("eventType"), "eventType", required=True, limit=200)
            assert event_type is not None
            validate_subscription(event_type)
            out["event_type"] = event_type
        if given("url"):
            url = _text(raw.get("url"), "url", required=True, limit=2000)
            assert url is not None
            await check_url(url, self.address_policy)
            out["url"] = url
        if given("httpMethod"):
            method = raw.get("httpMethod") or "POST"
            if method not in HTTP_METHODS:
                raise ValidationError(f"httpMethod must be one of {', '.join(HTTP_METHODS)}")
            out["http_method"] = method
        if given("contentType"):
            name = raw.get("contentType") or "application_json"
            if name not in CONTENT_TYPES:
                raise ValidationError(f"contentType must be one of {', '.join(CONTENT_TYPES)}")
            out["content_type"] = CONTENT_TYPES[name]
        if given("headers"):
            out["headers"] = validate_headers(raw.get("headers"))
        if given("payloadTemplate"):
            template = raw.get("payloadTemplate")
            if template is not None and not isinstance(template, str):
                raise ValidationError("payloadTemplate must be a string")
            out["payload_template"] = template if template and template.strip() else None
        if given("isActive"):
            active = raw.get("isActive")
            out["is_active"] = True if active is None else bool(active)
        if given("retryCount"):
            out["retry_count"] = _int_in(raw.get("retryCount"), "retryCount", 0, MAX_RETRY_COUNT)
        if given("retryInterval"):
            out["retry_interval"] = _int_in(
                raw.get("retryInterval"), "retryInterval", 1, MAX_RETRY_INTERVAL
            )
        if given("timeout"):
            timeout = _int_in(raw.get("timeout"), "timeout", 1, self.settings.webhook_max_timeout)
            out["timeout"] = timeout or self.settings.webhook_default_timeout
        if given("ordered"):
            out["ordered"] = bool(raw.get("ordered"))
        return out

    async def _check_template(self, template: str | None, content_type: str) -> None:
        """Validate and compile (and so cache) in a thread: a large template takes up to a few
        hundred milliseconds, which must not stall deliveries running on the event loop."""
        if template:
            # raises TemplateRejected with the reason
            await asyncio.to_thread(compile_template, template, content_type)

    # -- registration --------------------------------------------------------------------------
    async def register(self, raw: dict[str, Any], user_id: str | None) -> tuple[Webhook, str]:
        fields = await self._validated(raw, partial=False)
        await self._check_template(fields["payload_template"], fields["content_type"])
        secret = raw.get("secretKey")
        if secret:
            decode_secret(secret)  # raises ValidationError on a malformed whsec_ secret
        else:
            secret = generate_secret()
        row = await self.webhooks.insert(
            new_webhook_id(), fields, self.secret_box.encrypt(secret), user_id
        )
        webhook = row_to_webhook(row)
        self.registry.put(webhook)
        log.info(
            "webhook registered", extra={"webhook_id": webhook.id, "event_type": webhook.event_type}
        )
        return webhook, secret

    async def update(
        self, webhook_id: str, updates: dict[str, Any], user_id: str | None
    ) -> asyncpg.Record:
        if "secretKey" in updates:
            raise ValidationError("use rotateWebhookSecret to change the secret")
        current = await self.webhooks.get(webhook_id)
        changes = await self._validated(updates, partial=True)
        template = changes.get("payload_template", current["payload_template"])
        content_type = changes.get("content_type", current["content_type"])
        await self._check_template(template, content_type)
        if changes.get("is_active"):
            changes.update(disabled_reason=None, failing_since=None)
        row = await self.webhooks.update(webhook_id, changes, user_id)
        self.registry.put(row_to_webhook(row))
        return row

    async def set_active(
        self, webhook_id: str, active: bool, user_id: str | None, reason: str | None = None
    ) -> asyncpg.Record:
        changes: dict[str, Any] = {"is_active": active}
        changes.update(
            disabled_reason=None if active else (reason or "disabled by user"), failing_since=None
        )
        row = await self.webhooks.update(webhook_id, changes, user_id)
        self.registry.put(row_to_webhook(row))
        return row

    async def delete(self, webhook_id: str) -> bool:
        version = await self.webhooks.delete(webhook_id)
        if version is None:
            return False
        self.registry.remove(webhook_id, version)
        return True

    async def rotate_secret(
        self,
        webhook_id: str,
        new_secret: str | None,
        grace_seconds: int | None,
        user_id: str | None,
    ) -> tuple[str, datetime | None]:
        current = await self.webhooks.get(webhook_id)
        if new_secret:
            decode_secret(new_secret)
        else:
            new_secret = generate_secret()
        grace = DEFAULT_ROTATION_GRACE if grace_seconds is None else grace_seconds
        if not 0 <= grace <= 30 * 86400:
            raise ValidationError("graceSeconds must be between 0 and 2592000 (30 days)")
        expires = datetime.fromtimestamp(time.time() + grace, UTC) if grace else None
        row = await self.webhooks.update(
            webhook_id,
            {
                "secret_enc": self.secret_box.encrypt(new_secret),
                "previous_secret_enc": current["secret_enc"] if grace else None,
                "previous_secret_expires_at": expires,
            },
            user_id,
        )
        self.registry.put(row_to_webhook(row))
        return new_secret, expires

    async def disable(self, webhook_id: str, reason: str) -> None:
        """Automatic disable (410 Gone, failing too long): record why and tell operators."""
        try:
            await self.set_active(webhook_id, False, None, reason=reason)
        except Exception:
            log.exception("could not disable webhook %s", webhook_id)
            return
        closed = await self.deliveries.close_open_for_webhook(
            webhook_id, "endpoint_disabled", reason
        )
        log.warning(
            "webhook disabled",
            extra={"webhook_id": webhook_id, "reason": reason, "closed_deliveries": closed},
        )
        await self.emit(
            "webhook.endpoint.disabled",
            {"webhookId": webhook_id, "reason": reason, "closedDeliveries": closed},
        )

    async def disable_long_failing(self) -> list[str]:
        ids = await self.webhooks.failing_longer_than(self.settings.webhook_disable_after_seconds)
        for webhook_id in ids:
            await self.disable(
                webhook_id,
                "endpoint failed continuously for more than "
                f"{self.settings.webhook_disable_after_seconds} s",
            )
        return ids

    # -- testing and replay -------------------------------------------------------------------
    async def test(
        self, webhook_id: str, event_data: Any, event_type: str | None
    ) -> dict[str, Any]:
        row = await self.webhooks.get(webhook_id)
        webhook = row_to_webhook(row)
        if event_data is not None and not isinstance(event_data, dict):
            raise ValidationError("eventData must be a JSON object")
        if event_type is not None:
            validate_subscription(event_type)
        now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        concrete = (
            event_type
            if event_type and "*" not in event_type
            else (webhook.event_type if "*" not in webhook.event_type else "test.event")
        )
        event = CanonicalEvent(
            id="test_" + uuid.uuid4().hex,
            type=concrete,
            fineract_type=None,
            category="Test",
            tenant=None,
            created_at=now,
            business_date=now[:10],
            aggregate_id=-1,
            data=event_data
            if event_data is not None
            else {"test": True, "message": "This is a test event", "timestamp": now},
            source="test",
        )
        delivery = NewDelivery(
            id=new_delivery_id(),
            message_id=message_id(event.id, webhook.id),
            webhook_id=webhook.id,
            event_id=event.id,
            event_type=event.type,
            aggregate_id=-1,
            ordered=False,
            status="in_flight",
            due_in=self.settings.delivery_lease_seconds,
            is_test=True,
        )
        await self.deliveries.insert_new(
            [(event.id, event.type, event.to_json().decode())], [delivery]
        )
        job = DeliveryJob(delivery.id, delivery.message_id, webhook, event, 1, is_test=True)
        result = await self.dispatcher.attempt_now(job)
        await self.dispatcher.complete(job, result)
        await self.dispatcher.flush()
        execution = await self.deliveries.pool.fetchval(
            "SELECT id FROM hub_webhook_attempts WHERE delivery_id = $1", delivery.id
        )
        return {
            "success": result.kind is not None and result.kind.name == "SUCCESS",
            "webhookId": webhook.id,
            "eventType": event.type,
            "responseStatus": result.status,
            "responseBody": result.response_excerpt,
            "executionTimeMs": result.elapsed_ms,
            "errorMessage": result.error,
            "renderedBody": result.body.decode("utf-8", "replace") if result.body else None,
            "executionId": execution,
        }

    async def _replay(self, rows: list[asyncpg.Record]) -> list[str]:
        new = [
            NewDelivery(
                id=new_delivery_id(),
                message_id=r["message_id"],
                webhook_id=r["webhook_id"],
                event_id=r["event_id"],
                event_type=r["event_type"],
                aggregate_id=r["aggregate_id"] or -1,
                ordered=bool(r["ordered"]),
                status="pending",
                due_in=0.0,
                is_test=bool(r["is_test"]),
            )
            for r in rows
        ]
        inserted = await self.deliveries.insert_new([], new)
        self.kick_scheduler()
        return [d.id for d in new if d.id in inserted]

    async def replay_execution(self, execution_id: str) -> list[str]:
        attempt = await self.deliveries.attempt(execution_id)
        webhook = await self.webhooks.get(attempt["webhook_id"])
        if not webhook["is_active"]:
            raise ValidationError("the webhook is disabled; enable it before replaying")
        return await self._replay([attempt])

    async def replay_failed(
        self, webhook_id: str, since: datetime, until: datetime | None
    ) -> list[str]:
        webhook = await self.webhooks.get(webhook_id)
        if not webhook["is_active"]:
            raise ValidationError("the webhook is disabled; enable it before replaying")
        rows = await self.deliveries.replayable(webhook_id, since, until)
        return await self._replay(rows)
