"""What happens to a delivery after an attempt: the state machine, as a pure function.

Kept apart from I/O so the rules (Standard Webhooks status handling, retry exhaustion, test
deliveries never retrying) are unit-tested directly.
"""

from __future__ import annotations

from typing import NamedTuple

from fineract_hub.delivery.attempt import AttemptResult
from fineract_hub.delivery.outcome import OutcomeKind
from fineract_hub.delivery.policy import RetryPolicy


# Made for every event or delivery: NamedTuples are as immutable as frozen dataclasses and
# several times cheaper to create (a frozen dataclass sets each field via object.__setattr__).
class Decision(NamedTuple):
    attempt_status: str  # what the history row says about this attempt
    delivery_status: str  # the delivery's new state
    retry_in: float | None  # seconds until the next attempt; None = terminal
    disable_reason: str | None = None  # set when the endpoint must be disabled now
    exhausted: bool = False


def decide(
    result: AttemptResult, attempt_number: int, policy: RetryPolicy, *, is_test: bool = False
) -> Decision:
    """``attempt_number`` is 1 for the first attempt."""
    if result.render_failed:
        # Re-rendering the same event with the same template fails the same way: stop, record
        # why, and let the user replay once the template is fixed.
        return Decision("render_error", "render_error", None)
    if result.kind is OutcomeKind.SUCCESS:
        return Decision("success", "success", None)
    if result.kind is OutcomeKind.GONE:
        return Decision(
            "endpoint_disabled",
            "endpoint_disabled",
            None,
            disable_reason="endpoint answered 410 Gone",
        )
    if is_test:
        return Decision("failed", "exhausted", None)
    delay = policy.next_delay(
        attempt_number, retry_after=result.retry_after, outcome_kind=result.kind
    )
    if delay is None:
        return Decision("exhausted", "exhausted", None, exhausted=True)
    return Decision("retrying", "retrying", delay)
