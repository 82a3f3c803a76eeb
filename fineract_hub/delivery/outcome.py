"""What one delivery attempt's result means for the endpoint, per the Standard Webhooks rules.

2xx succeeded; any other response, a timeout or a connection error failed and is retried; 429 and
502/503/504 mean "slow down" (retried, honouring ``Retry-After``); 410 Gone means the receiver
wants no more (disable the endpoint now, but a single 500 never disables: fider#1404). A
destination refused by the SSRF guard is ``BLOCKED``: the URL now resolves to an internal address,
and retrying cannot fix that, so the attempt ends there with the reason recorded for an operator.
"""

from __future__ import annotations

import email.utils
import time
from enum import StrEnum

from fineract_hub.delivery.ssrf import BlockedDestination

THROTTLE_STATUSES = frozenset({429, 502, 503, 504})


class OutcomeKind(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    THROTTLED = "throttled"
    GONE = "gone"
    BLOCKED = "blocked"

    @property
    def retryable(self) -> bool:
        return self in (OutcomeKind.FAILURE, OutcomeKind.THROTTLED)


def _blocked(error: BaseException | None) -> bool:
    """Look through wrappers (``__cause__``, aiohttp's ``os_error``) for the guard's refusal."""
    pending = [error]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        if isinstance(current, BlockedDestination):
            return True
        seen.add(id(current))
        pending.extend((getattr(current, "os_error", None), current.__cause__, current.__context__))
    return False


def classify(status: int | None, error: BaseException | None) -> OutcomeKind:
    if _blocked(error):
        return OutcomeKind.BLOCKED
    if status is None:
        return OutcomeKind.FAILURE  # timeout, connection refused/reset, TLS error, no response
    if 200 <= status < 300:
        return OutcomeKind.SUCCESS
    if status == 410:
        return OutcomeKind.GONE
    if status in THROTTLE_STATUSES:
        return OutcomeKind.THROTTLED
    return OutcomeKind.FAILURE  # 1xx/3xx (redirects are not followed)/4xx/5xx


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or ``None``
    if absent or unreadable. A date in the past means "now" (0)."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" dates: HTTP dates are always GMT
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)
