"""Retry schedules as data: default, per-webhook exponential, disabled, throttled, exhausted."""

from __future__ import annotations

import random

import pytest

from fineract_hub.delivery.outcome import OutcomeKind
from fineract_hub.delivery.policy import STANDARD_SCHEDULE, RetryPolicy, policy_for
from fineract_hub.errors import ValidationError

SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)


def exact(policy: RetryPolicy) -> RetryPolicy:
    return RetryPolicy(policy.delays, jitter=0)


def test_standard_schedule_is_the_standard_webhooks_example() -> None:
    assert STANDARD_SCHEDULE == SCHEDULE
    assert sum(SCHEDULE) == 75 * 3600 + 35 * 60 + 5


def test_no_settings_use_the_default_schedule() -> None:
    policy = policy_for(None, None, SCHEDULE)
    assert policy.delays == tuple(float(d) for d in SCHEDULE)
    assert policy.max_attempts == 10


def test_retry_count_gives_exponential_backoff_from_the_interval() -> None:
    assert policy_for(4, 10, SCHEDULE).delays == (10, 20, 40, 80)


def test_retry_interval_defaults_to_60_seconds() -> None:
    assert policy_for(3, None, SCHEDULE).delays == (60, 120, 240)


def test_exponential_delays_are_capped_at_a_day() -> None:
    delays = policy_for(20, 3600, SCHEDULE).delays
    assert max(delays) == 86400
    assert delays[-1] == 86400


def test_retry_count_zero_disables_retries() -> None:
    policy = policy_for(0, None, SCHEDULE)
    assert policy.delays == ()
    assert policy.max_attempts == 1
    assert policy.next_delay(1) is None


def test_only_an_interval_keeps_the_default_number_of_retries() -> None:
    assert len(policy_for(None, 30, SCHEDULE).delays) == len(SCHEDULE)
    assert policy_for(None, 30, SCHEDULE).delays[:3] == (30, 60, 120)


@pytest.mark.parametrize(("count", "interval"), [(-1, None), (51, None), (3, 0), (3, 86401)])
def test_out_of_range_settings_are_rejected(count: int | None, interval: int | None) -> None:
    with pytest.raises(ValidationError):
        policy_for(count, interval, SCHEDULE)


def test_next_delay_follows_the_schedule_without_jitter() -> None:
    policy = exact(policy_for(None, None, SCHEDULE))
    assert [policy.next_delay(n) for n in range(1, 10)] == [float(d) for d in SCHEDULE]


def test_next_delay_is_none_when_retries_are_exhausted() -> None:
    assert exact(policy_for(None, None, SCHEDULE)).next_delay(10) is None


def test_jitter_stays_within_the_spread_and_varies() -> None:
    policy = RetryPolicy((100.0,), jitter=0.2)
    rng = random.Random(7)
    delays = [policy.next_delay(1, rng=rng) for _ in range(500)]
    assert all(d is not None and 80 <= d <= 120 for d in delays)
    assert len(set(delays)) > 400


@pytest.mark.parametrize("kind", [OutcomeKind.SUCCESS, OutcomeKind.GONE, OutcomeKind.BLOCKED])
def test_terminal_outcomes_are_not_retried(kind: OutcomeKind) -> None:
    assert RetryPolicy((5.0,)).next_delay(1, outcome_kind=kind) is None


def test_throttled_waits_as_long_as_retry_after_asks() -> None:
    policy = RetryPolicy((5.0, 300.0), jitter=0)
    assert policy.next_delay(1, retry_after=120, outcome_kind=OutcomeKind.THROTTLED) == 120


def test_throttled_never_retries_sooner_than_the_schedule() -> None:
    policy = RetryPolicy((300.0,), jitter=0)
    assert policy.next_delay(1, retry_after=1, outcome_kind=OutcomeKind.THROTTLED) == 300


def test_throttled_retry_after_is_capped_at_a_day() -> None:
    policy = RetryPolicy((5.0,), jitter=0)
    delay = policy.next_delay(1, retry_after=10 * 86400, outcome_kind=OutcomeKind.THROTTLED)
    assert delay == 86400


def test_retry_after_is_ignored_for_plain_failures() -> None:
    policy = RetryPolicy((5.0,), jitter=0)
    assert policy.next_delay(1, retry_after=600, outcome_kind=OutcomeKind.FAILURE) == 5


def test_throttled_retries_count_against_the_schedule() -> None:
    policy = RetryPolicy((5.0,), jitter=0)
    assert policy.next_delay(2, retry_after=10, outcome_kind=OutcomeKind.THROTTLED) is None


def test_invalid_jitter_is_refused() -> None:
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy((5.0,), jitter=1.5)
