"""PostgreSQL storage on a real server: migrations, claims under concurrency, retention."""

from __future__ import annotations

import asyncio

import pytest

from fineract_hub.storage.db import create_pool, migrate
from fineract_hub.storage.deliveries import (
    AttemptRecord,
    DeliveryStore,
    DeliveryUpdate,
    NewDelivery,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(fresh_database_url):
    created = await create_pool(fresh_database_url)
    await migrate(created)
    await created.execute(
        "INSERT INTO hub_webhooks (id, name, event_type, url, http_method, content_type,"
        " timeout, secret_enc) VALUES ('wh_1', 'n', 'loan.*', 'http://127.0.0.1/', 'POST',"
        " 'application/json', 5, 'x')")
    yield created
    await created.close()


def _delivery(i: int, *, due_in: float = 0.0, status: str = "pending") -> NewDelivery:
    return NewDelivery(id=f"d{i}", message_id=f"m{i}", webhook_id="wh_1", event_id=f"e{i}",
                       event_type="loan.approved", aggregate_id=i, ordered=False,
                       status=status, due_in=due_in)


async def test_migrations_apply_once(pool):
    assert await migrate(pool) == []


async def test_a_delivery_id_seen_before_is_not_inserted_again(pool):
    store = DeliveryStore(pool)
    events = [("e1", "loan.approved", "{}")]
    assert await store.insert_new(events, [_delivery(1)]) == {"d1"}
    assert await store.insert_new(events, [_delivery(1)]) == set()


async def test_a_delivery_for_a_webhook_deleted_meanwhile_is_skipped_not_an_error(pool):
    # Another worker deleted the webhook; this worker's registry has not heard yet.
    store = DeliveryStore(pool)
    gone = NewDelivery(id="d_gone", message_id="m_gone", webhook_id="wh_deleted",
                       event_id="e1", event_type="loan.approved", aggregate_id=1,
                       ordered=False, status="pending", due_in=0.0)
    events = [("e1", "loan.approved", "{}")]
    assert await store.insert_new(events, [gone, _delivery(1)]) == {"d1"}


async def test_two_schedulers_never_claim_the_same_delivery(pool):
    store = DeliveryStore(pool)
    events = [(f"e{i}", "loan.approved", "{}") for i in range(200)]
    await store.insert_new(events, [_delivery(i) for i in range(200)])
    first, second = await asyncio.gather(store.claim_due(150, 60), store.claim_due(150, 60))
    ids = [c.id for c in first] + [c.id for c in second]
    assert len(ids) == 200 and len(set(ids)) == 200


async def test_deliveries_not_yet_due_are_not_claimed(pool):
    store = DeliveryStore(pool)
    await store.insert_new([("e1", "loan.approved", "{}")], [_delivery(1, due_in=3600)])
    assert await store.claim_due(10, 60) == []


async def test_deliveries_of_a_saturated_endpoint_stay_unclaimed(pool):
    store = DeliveryStore(pool)
    await store.insert_new([("e1", "loan.approved", "{}")], [_delivery(1)])
    assert await store.claim_due(10, 60, skip_webhooks=["wh_1"]) == []
    assert [c.id for c in await store.claim_due(10, 60, skip_webhooks=["wh_other"])] == ["d1"]


async def test_retention_removes_old_history_and_finished_deliveries_only(pool):
    store = DeliveryStore(pool)
    await store.insert_new([("e1", "loan.approved", "{}"), ("e2", "loan.approved", "{}")],
                           [_delivery(1), _delivery(2)])
    await pool.execute("UPDATE hub_webhook_deliveries SET due_at = NULL, status = 'success',"
                       " updated_at = now() - interval '40 days' WHERE id = 'd1'")
    await pool.execute(
        "INSERT INTO hub_webhook_attempts (id, delivery_id, message_id, webhook_id, event_id,"
        " event_type, attempt, status, created_at) VALUES"
        " ('a1', 'd1', 'm1', 'wh_1', 'e1', 'loan.approved', 1, 'success',"
        "  now() - interval '40 days'),"
        " ('a2', 'd2', 'm2', 'wh_1', 'e2', 'loan.approved', 1, 'retrying', now())")
    attempts, deliveries = await store.purge_older_than(30)
    assert (attempts, deliveries) == (1, 1)
    remaining = {r["id"] for r in await pool.fetch("SELECT id FROM hub_webhook_deliveries")}
    assert remaining == {"d2"}


async def test_row_types_have_the_fields_of_the_records_sent_as_them(pool):
    """The batched writes send NamedTuples as composite rows: by position, so names and order
    must agree with migration 004's types."""
    for row_type, record in (
        ("hub_new_delivery_row", NewDelivery),
        ("hub_attempt_row", AttemptRecord),
        ("hub_delivery_update_row", DeliveryUpdate),
    ):
        names = await pool.fetch(
            "SELECT a.attname FROM pg_attribute a JOIN pg_type t ON t.typrelid = a.attrelid"
            " WHERE t.typname = $1 AND a.attnum > 0 ORDER BY a.attnum",
            row_type,
        )
        assert [r["attname"] for r in names] == list(record._fields), row_type
