"""Retry policy as data: how long to wait before each retry, decided from one attempt's outcome.

Kept free of I/O and clocks so the scheduler, the API (showing "next attempt at") and the tests
all agree on the same numbers.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from fineract_hub.delivery.outcome import OutcomeKind
from fineract_hub.errors import ValidationError

#: Standard Webhooks' example schedule after the first attempt: 5 s, 5 m, 30 m, 2 h, 5 h, 10 h,
#: 14 h, 20 h, 24 h (10 attempts over ~75.6 h). ``HUB_WEBHOOK_RETRY_SCHEDULE`` defaults to it.
STANDARD_SCHEDULE: Final = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)
DEFAULT_RETRY_INTERVAL: Final = 60
MAX_DELAY: Final = 86400.0
MAX_RETRY_COUNT: Final = 50
#: A ``Retry-After`` is honoured up to this long; beyond it a buggy or hostile receiver could park
#: a message for years.
MAX_RETRY_AFTER: Final = 86400.0


@dataclass(frozen=True)
class RetryPolicy:
    #: Delay before retry 1, 2, ... in seconds; empty means the first attempt is the only one.
    delays: tuple[float, ...]
    #: Each delay is spread uniformly over ±jitter (0.2 = ±20 %) so endpoints that failed together
    #: are not retried together.
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter}")
        if any(delay < 0 for delay in self.delays):
            raise ValueError("delays must not be negative")

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    def next_delay(
        self,
        retry_number: int,
        *,
        retry_after: float | None = None,
        outcome_kind: OutcomeKind = OutcomeKind.FAILURE,
        rng: random.Random | None = None,
    ) -> float | None:
        """Seconds until retry ``retry_number`` (1 = the retry after the first attempt), or
        ``None`` when there is nothing to retry: success, 410, blocked, or retries exhausted.

        Throttling rule: for ``THROTTLED`` outcomes (429/502/503/504) the wait is
        ``max(jittered schedule delay, min(Retry-After, 24 h))``: we never retry sooner than the
        schedule says, we always wait at least as long as the receiver asked, and no receiver can
        push a retry further than a day. The retry still counts against the schedule, so a
        receiver that throttles forever exhausts it like any failure. ``Retry-After`` on other
        outcomes is ignored.
        """
        if not outcome_kind.retryable:
            return None
        if retry_number < 1 or retry_number > len(self.delays):
            return None
        base = self.delays[retry_number - 1]
        spread = (rng or random).uniform(1 - self.jitter, 1 + self.jitter) if self.jitter else 1.0
        delay = base * spread
        if outcome_kind is OutcomeKind.THROTTLED and retry_after is not None and retry_after > 0:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
        return delay


def policy_for(
    retry_count: int | None,
    retry_interval: int | None,
    default_schedule: Sequence[int] = STANDARD_SCHEDULE,
    *,
    jitter: float = 0.2,
) -> RetryPolicy:
    """The policy for a webhook's ``retryCount``/``retryInterval`` settings (see ``_policy``).

    Asked once per attempt; the few distinct settings are worked out once each."""
    return _policy(retry_count, retry_interval, tuple(default_schedule), jitter)


@functools.lru_cache(maxsize=1024)
def _policy(
    retry_count: int | None,
    retry_interval: int | None,
    default_schedule: tuple[int, ...],
    jitter: float,
) -> RetryPolicy:
    """The policy for a webhook's ``retryCount``/``retryInterval`` settings.

    * neither set: ``default_schedule``;
    * ``retryCount`` set: that many retries, the first after ``retryInterval`` (default 60 s),
      doubling each time, each capped at 24 h. ``retryCount: 0`` really means no retries (the
      original implementation's ``retryCount || 3`` made that impossible);
    * only ``retryInterval`` set: as many retries as the default schedule has, exponential from
      that interval.
    """
    if retry_count is None and retry_interval is None:
        return RetryPolicy(tuple(float(d) for d in default_schedule), jitter)
    if retry_count is not None and not 0 <= retry_count <= MAX_RETRY_COUNT:
        raise ValidationError(f"retryCount must be between 0 and {MAX_RETRY_COUNT}")
    if retry_interval is not None and not 1 <= retry_interval <= MAX_DELAY:
        raise ValidationError(f"retryInterval must be between 1 and {int(MAX_DELAY)} seconds")
    count = len(default_schedule) if retry_count is None else retry_count
    interval = DEFAULT_RETRY_INTERVAL if retry_interval is None else retry_interval
    delays = tuple(min(float(interval) * 2**n, MAX_DELAY) for n in range(count))
    return RetryPolicy(delays, jitter)
