from fineract_hub.delivery.attempt import AttemptResult
from fineract_hub.delivery.lifecycle import decide
from fineract_hub.delivery.outcome import OutcomeKind
from fineract_hub.delivery.policy import RetryPolicy

POLICY = RetryPolicy((5.0, 300.0), jitter=0.0)


def _result(kind, status=None):
    return AttemptResult(kind, status, 10, None if kind is OutcomeKind.SUCCESS else "x", None,
                         b"{}")


def test_success_is_terminal():
    decision = decide(_result(OutcomeKind.SUCCESS, 200), 1, POLICY)
    assert (decision.delivery_status, decision.retry_in) == ("success", None)


def test_failure_with_retries_left_is_scheduled_after_the_policy_delay():
    decision = decide(_result(OutcomeKind.FAILURE, 500), 1, POLICY)
    assert decision.delivery_status == "retrying"
    assert decision.retry_in == 5.0


def test_failure_after_the_last_retry_is_exhausted():
    decision = decide(_result(OutcomeKind.FAILURE, 500), 3, POLICY)
    assert decision.delivery_status == "exhausted"
    assert decision.exhausted is True


def test_gone_disables_the_endpoint_without_retry():
    decision = decide(_result(OutcomeKind.GONE, 410), 1, POLICY)
    assert decision.delivery_status == "endpoint_disabled"
    assert decision.disable_reason and "410" in decision.disable_reason


def test_render_failure_is_terminal_and_not_retried():
    decision = decide(AttemptResult(None, None, 0, "render error: x", None, None), 1, POLICY)
    assert (decision.attempt_status, decision.retry_in) == ("render_error", None)


def test_a_test_delivery_never_retries():
    decision = decide(_result(OutcomeKind.FAILURE, 500), 1, POLICY, is_test=True)
    assert (decision.attempt_status, decision.retry_in) == ("failed", None)


def test_throttling_waits_at_least_what_the_receiver_asked():
    result = AttemptResult(OutcomeKind.THROTTLED, 429, 5, "HTTP 429", None, b"{}", 120.0)
    assert decide(result, 1, POLICY).retry_in >= 120.0


def test_nul_characters_are_made_storable_for_postgresql():
    from fineract_hub.delivery.dispatcher import storable

    assert storable("ok\x00nul") == "ok\ufffdnul"
    assert storable(None) is None
