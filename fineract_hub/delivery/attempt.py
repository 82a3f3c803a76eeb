"""One delivery attempt: render, sign, POST, classify. The only place a webhook request is made.

Everything that can go wrong with the receiver (template failure, timeout, refused connection,
blocked address, any status code) comes back as an ``AttemptResult``; nothing is raised, so the
caller always records the attempt and decides the next step from its ``kind``.
"""

from __future__ import annotations

import asyncio
import time
from typing import NamedTuple

from yarl import URL

from fineract_hub.delivery.http_client import HTTPClient, ResponseError
from fineract_hub.delivery.outcome import OutcomeKind, classify, parse_retry_after
from fineract_hub.delivery.signing import signature_header
from fineract_hub.delivery.ssrf import BlockedDestination
from fineract_hub.models.events import CanonicalEvent
from fineract_hub.models.webhooks import Webhook
from fineract_hub.templates import (
    RenderError,
    TemplateRejected,
    cached_template,
    compile_template,
    render_default,
)

USER_AGENT = "fineract-hub-webhooks/0.1"
_PARSED_URLS_MAX = 4096

_parsed_urls: dict[str, URL] = {}


def parsed_url(url: str) -> URL:
    """Parsing the same webhook URL for every delivery shows up in profiles; parse it once."""
    parsed = _parsed_urls.get(url)
    if parsed is None:
        if len(_parsed_urls) >= _PARSED_URLS_MAX:
            _parsed_urls.clear()
        parsed = _parsed_urls[url] = URL(url)
    return parsed


# Made for every event or delivery: NamedTuples are as immutable as frozen dataclasses and
# several times cheaper to create (a frozen dataclass sets each field via object.__setattr__).
class AttemptResult(NamedTuple):
    kind: OutcomeKind | None  # None means the body could not be rendered
    status: int | None
    elapsed_ms: int
    error: str | None
    response_excerpt: str | None
    body: bytes | None
    retry_after: float | None = None

    @property
    def render_failed(self) -> bool:
        return self.kind is None


def render_body(webhook: Webhook, event: CanonicalEvent, max_bytes: int) -> bytes:
    """Raises RenderError; compiled templates are cached by the templates package."""
    if webhook.payload_template:
        context = event.template_context()
        template = compile_template(
            webhook.payload_template, webhook.content_type, max_bytes=max_bytes
        )
        body = template.render(context, max_bytes=max_bytes)
    elif webhook.content_type == "application/json":
        # The default JSON body is the canonical event itself, as it travels on our topic.
        body = event.to_json()
    else:
        body = render_default(event.template_context(), webhook.content_type)
    if len(body) > max_bytes:
        raise RenderError(f"rendered body is {len(body)} bytes, over the {max_bytes}-byte limit")
    return body


def request_headers(
    webhook: Webhook,
    event: CanonicalEvent,
    message_id: str,
    secrets: list[bytes],
    body: bytes,
    now: float | None = None,
) -> dict[str, str]:
    timestamp = int(now if now is not None else time.time())
    headers = dict(webhook.headers)
    headers.update(
        {
            "Content-Type": webhook.content_type,
            "User-Agent": USER_AGENT,
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(secrets, message_id, timestamp, body),
            "X-Fineract-Event-Type": event.type,
            "X-Fineract-Event-Id": event.id,
            "X-Fineract-Timestamp": event.created_at,
        }
    )
    return headers


async def send_attempt(
    client: HTTPClient,
    webhook: Webhook,
    event: CanonicalEvent,
    message_id: str,
    secrets: list[bytes],
    max_bytes: int,
) -> AttemptResult:
    started = time.monotonic()
    try:
        if webhook.payload_template and cached_template(webhook.payload_template,
                                                        webhook.content_type) is None:
            # First use in this worker: compiling may take a while, keep it off the loop.
            await asyncio.to_thread(compile_template, webhook.payload_template,
                                    webhook.content_type, max_bytes=max_bytes)
        body = render_body(webhook, event, max_bytes)
    except (RenderError, TemplateRejected) as exc:
        return AttemptResult(None, None, 0, f"render error: {exc}", None, None)
    headers = request_headers(webhook, event, message_id, secrets, body)
    try:
        # Redirects are never followed (a 3xx is a failure, Standard Webhooks): the client
        # cannot follow them. The deadline covers connecting, sending and the response.
        async with asyncio.timeout(webhook.timeout):
            response = await client.request(
                webhook.http_method, parsed_url(webhook.url), headers, body
            )
    except (TimeoutError, OSError, ResponseError, BlockedDestination, ValueError) as exc:
        elapsed = int((time.monotonic() - started) * 1000)
        reason = (
            f"timed out after {webhook.timeout}s"
            if isinstance(exc, TimeoutError)
            else (str(exc) or type(exc).__name__)
        )
        return AttemptResult(classify(None, exc), None, elapsed, reason, None, body)
    elapsed = int((time.monotonic() - started) * 1000)
    kind = classify(response.status, None)
    error = (
        None
        if kind is OutcomeKind.SUCCESS
        else f"HTTP {response.status} {response.reason}".strip()
    )
    return AttemptResult(
        kind,
        response.status,
        elapsed,
        error,
        response.excerpt.decode("utf-8", "replace"),
        body,
        parse_retry_after(response.headers.get("retry-after"), time.time()),
    )
