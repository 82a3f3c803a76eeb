from dataclasses import replace

from fineract_hub.delivery.registry import WebhookRegistry
from fineract_hub.models.events import CanonicalEvent
from fineract_hub.models.webhooks import Webhook


def _webhook(version: int = 1, **changes) -> Webhook:
    base = Webhook(id="wh_1", name="n", event_type="loan.approved", url="http://127.0.0.1/",
                   http_method="POST", content_type="application/json", headers={},
                   payload_template=None, is_active=True, retry_count=None,
                   retry_interval=None, timeout=5, ordered=False, secret_enc="x",
                   version=version)
    return replace(base, **changes)


EVENT = CanonicalEvent(id="e", type="loan.approved", fineract_type="LoanApprovedBusinessEvent",
                       category="Loan", tenant="default", created_at="2024-03-01T00:00:00Z",
                       business_date="2024-03-01", aggregate_id=1, data={})


def test_a_table_emptied_by_recovery_does_not_unregister_anything():
    table: dict = {}
    registry = WebhookRegistry(table)
    registry.put(_webhook())
    table.clear()  # Faust rebuilding the table after a rebalance
    registry._built_at = 0.0  # force the periodic merge
    assert [w.id for w in registry.matching(EVENT)] == ["wh_1"]


def test_only_a_newer_version_replaces_what_is_known():
    table: dict = {}
    registry = WebhookRegistry(table)
    registry.put(_webhook(version=3, url="http://127.0.0.1/new"))
    table["wh_1"] = _webhook(version=2, url="http://127.0.0.1/old").to_table()
    assert registry.get("wh_1").url == "http://127.0.0.1/new"


def test_changes_from_other_workers_arrive_through_the_table():
    table: dict = {}
    registry = WebhookRegistry(table)
    registry.put(_webhook(version=1))
    table["wh_1"] = _webhook(version=2, is_active=False).to_table()
    registry._built_at = 0.0
    assert registry.matching(EVENT) == []


def test_a_deleted_webhook_stays_deleted():
    registry = WebhookRegistry({})
    registry.put(_webhook(version=4))
    registry.remove("wh_1", 4)
    assert registry.get("wh_1") is None
    assert registry.matching(EVENT) == []


def test_reconcile_removes_what_the_database_no_longer_has():
    registry = WebhookRegistry({})
    registry.put(_webhook())
    assert registry.reconcile([]) == 1
    assert registry.get("wh_1") is None
