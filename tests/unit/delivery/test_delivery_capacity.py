"""How many of an endpoint's deliveries wait in memory: what it completes in a quarter lease."""

from __future__ import annotations

from fineract_hub.delivery.capacity import EndpointRate, lease_allows, queue_limit

LIMITS = {"lease_seconds": 60, "concurrency": 64, "ceiling": 8192}


def test_an_endpoint_not_measured_yet_gets_twice_its_concurrency() -> None:
    assert queue_limit(None, **LIMITS) == 128


def test_a_fast_endpoint_may_hold_a_quarter_lease_of_its_rate_up_to_the_ceiling() -> None:
    assert queue_limit(200.0, **LIMITS) == 3000
    assert queue_limit(5000.0, **LIMITS) == 8192


def test_a_slow_endpoint_keeps_the_floor() -> None:
    assert queue_limit(0.5, **LIMITS) == 128


def test_the_floor_never_exceeds_the_ceiling() -> None:
    assert queue_limit(None, lease_seconds=60, concurrency=64, ceiling=10) == 10


def test_the_rate_is_known_once_a_window_has_closed() -> None:
    rate = EndpointRate(now=0.0)
    for i in range(100):
        rate.observe(i / 100)
    assert rate.current(0.99) is None
    rate.observe(1.0)
    assert rate.current(1.0) == 101.0


def test_windows_are_smoothed() -> None:
    rate = EndpointRate(now=0.0)
    rate.observe(1.0)  # 1 per second
    for i in range(1, 11):
        rate.observe(1.0 + i / 10)  # 10 per second
    assert rate.current(2.0) == 5.5


def test_an_endpoint_that_stops_answering_loses_its_rate_within_a_window() -> None:
    rate = EndpointRate(now=0.0)
    for i in range(1, 1001):
        rate.observe(i / 1000)
    assert rate.current(1.0) == 1000.0
    assert rate.current(11.0) == 0.0  # ten seconds without a completion


def test_a_lease_allows_an_attempt_only_if_the_attempt_can_end_before_it() -> None:
    assert lease_allows(deadline=100.0, now=50.0, timeout=30)
    assert not lease_allows(deadline=100.0, now=80.0, timeout=30)
