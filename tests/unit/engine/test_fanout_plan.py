from types import SimpleNamespace

from fineract_hub.delivery.fanout import WebhookFanout
from fineract_hub.delivery.ids import message_id
from fineract_hub.delivery.registry import WebhookRegistry
from fineract_hub.metrics import Metrics
from fineract_hub.models.events import CanonicalEvent
from fineract_hub.models.webhooks import Webhook


def _webhook(webhook_id: str, event_type: str, *, ordered=False, active=True) -> Webhook:
    return Webhook(id=webhook_id, name=webhook_id, event_type=event_type,
                   url="http://127.0.0.1:1/", http_method="POST",
                   content_type="application/json", headers={}, payload_template=None,
                   is_active=active, retry_count=None, retry_interval=None, timeout=5,
                   ordered=ordered, secret_enc="x")


def _event(event_id: str, event_type="loan.approved", aggregate=42) -> CanonicalEvent:
    return CanonicalEvent(id=event_id, type=event_type,
                          fineract_type="LoanApprovedBusinessEvent", category="Loan",
                          tenant="default", created_at="2024-03-01T00:00:00.000000Z",
                          business_date="2024-03-01", aggregate_id=aggregate, data={"id": 1})


class _Dispatcher:
    """An endpoint queue of 4 with nothing in it: room for 2 new deliveries."""

    def __init__(self) -> None:
        self.spilled: set[str] = set()

    def room_for_new(self, webhook_id: str) -> int:
        return 2

    def mark_spilled(self, webhook_id: str) -> None:
        self.spilled.add(webhook_id)


def _fanout(*webhooks: Webhook) -> WebhookFanout:
    registry = WebhookRegistry({})
    for webhook in webhooks:
        registry.put(webhook)
    settings = SimpleNamespace(delivery_lease_seconds=60)
    return WebhookFanout(settings, registry, store=None, dispatcher=_Dispatcher(),
                         metrics=Metrics(), kick_scheduler=None)


def test_each_matching_webhook_gets_one_delivery_with_a_stable_id():
    fanout = _fanout(_webhook("a", "loan.approved"), _webhook("b", "loan.*"),
                     _webhook("c", "client.created"))
    _, deliveries, _ = fanout.plan([_event("e1")])
    assert sorted(d.webhook_id for d in deliveries) == ["a", "b"]
    assert {d.id for d in deliveries} == {message_id("e1", "a"), message_id("e1", "b")}


def test_inactive_webhooks_get_nothing():
    fanout = _fanout(_webhook("a", "loan.approved", active=False))
    stored, deliveries, _ = fanout.plan([_event("e1")])
    assert deliveries == [] and stored == []


def test_the_same_event_twice_in_a_batch_is_planned_once():
    fanout = _fanout(_webhook("a", "loan.approved"))
    _, deliveries, _ = fanout.plan([_event("e1"), _event("e1")])
    assert len(deliveries) == 1


def test_ordered_webhooks_are_left_to_the_scheduler():
    fanout = _fanout(_webhook("a", "loan.approved", ordered=True))
    _, deliveries, jobs = fanout.plan([_event("e1")])
    assert deliveries[0].status == "pending" and jobs == {}


def test_new_events_take_half_an_endpoints_queue_and_the_rest_wait_in_the_database():
    # The other half is the scheduler's, so deliveries left in the database earlier are not
    # starved by a steady stream of new ones.
    fanout = _fanout(_webhook("a", "loan.approved"))
    _, deliveries, jobs = fanout.plan([_event(f"e{i}") for i in range(5)])
    assert [d.status for d in deliveries] == ["in_flight"] * 2 + ["pending"] * 3
    assert len(jobs) == 2
    assert fanout.dispatcher.spilled == {"a"}  # the scheduler is woken when there is room


def test_the_stored_event_is_the_exact_json_it_arrived_as():
    raw = _event("e1").to_json()
    fanout = _fanout(_webhook("a", "loan.approved"))
    stored, _, _ = fanout.plan([CanonicalEvent.from_json(raw)])
    assert stored == [("e1", "loan.approved", raw.decode())]
