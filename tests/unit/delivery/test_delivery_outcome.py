"""Classifying one attempt's result (Standard Webhooks status rules) and reading Retry-After."""

from __future__ import annotations

import pytest

from fineract_hub.delivery.outcome import OutcomeKind, classify, parse_retry_after
from fineract_hub.delivery.ssrf import BlockedDestination

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_success(status: int) -> None:
    assert classify(status, None) is OutcomeKind.SUCCESS


@pytest.mark.parametrize("status", [100, 301, 302, 307, 400, 401, 404, 409, 413, 500, 501, 505])
def test_other_statuses_are_failures(status: int) -> None:
    assert classify(status, None) is OutcomeKind.FAILURE


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_429_and_gateway_errors_are_throttled(status: int) -> None:
    assert classify(status, None) is OutcomeKind.THROTTLED


def test_410_is_gone() -> None:
    assert classify(410, None) is OutcomeKind.GONE


def test_timeout_is_failure() -> None:
    assert classify(None, TimeoutError()) is OutcomeKind.FAILURE


def test_connection_error_is_failure() -> None:
    assert classify(None, ConnectionResetError("reset")) is OutcomeKind.FAILURE


def test_no_response_and_no_error_is_failure() -> None:
    assert classify(None, None) is OutcomeKind.FAILURE


def test_ssrf_refusal_is_blocked() -> None:
    error = BlockedDestination("evil.example", "169.254.169.254", "cloud metadata")
    assert classify(None, error) is OutcomeKind.BLOCKED


def test_ssrf_refusal_wrapped_in_another_error_is_still_blocked() -> None:
    cause = BlockedDestination("evil.example", "10.0.0.1", "private")
    wrapped = ConnectionError("could not connect")
    wrapped.__cause__ = cause
    assert classify(None, wrapped) is OutcomeKind.BLOCKED


@pytest.mark.parametrize(
    ("kind", "retryable"),
    [
        (OutcomeKind.SUCCESS, False),
        (OutcomeKind.FAILURE, True),
        (OutcomeKind.THROTTLED, True),
        (OutcomeKind.GONE, False),
        (OutcomeKind.BLOCKED, False),
    ],
)
def test_only_failures_and_throttling_are_retryable(kind: OutcomeKind, retryable: bool) -> None:
    assert kind.retryable is retryable


def test_retry_after_delta_seconds() -> None:
    assert parse_retry_after("120", NOW) == 120.0


def test_retry_after_http_date() -> None:
    assert parse_retry_after("Tue, 14 Nov 2023 22:15:20 GMT", NOW) == 120.0


def test_retry_after_date_in_the_past_means_now() -> None:
    assert parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", NOW) == 0.0


@pytest.mark.parametrize("value", [None, "", "  ", "soon", "-5", "1.5", "12abc", "Tue, 99 Foo"])
def test_unreadable_retry_after_is_none(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None
