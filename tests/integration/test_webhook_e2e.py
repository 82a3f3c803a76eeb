"""End to end on real Kafka, PostgreSQL and a loopback receiver, from Java-Avro Fineract events."""

from __future__ import annotations

import json

import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from tests.support.kafka import find_json, read_json
from tests.support.services import produce_raw

pytestmark = pytest.mark.integration

SEED_TEMPLATE = """
    {
      "event": "{{type}}",
      "loanId": "{{data.id}}",
      "clientId": "{{data.clientId}}",
      "approvedAmount": "{{data.approvedPrincipal}}",
      "timestamp": "{{timestamp}}"
    }
    """


def _seed_registration(url: str, **overrides: object) -> dict[str, object]:
    registration: dict[str, object] = {
        "name": "Loan Approval Notification",
        "description": "Notify external system when loans are approved",
        "eventType": "loan.approved",
        "url": url,
        "httpMethod": "POST",
        "contentType": "application_json",
        "headers": {"Authorization": "Bearer your-token", "X-Custom-Header": "custom-value"},
        "payloadTemplate": SEED_TEMPLATE,
        "retryCount": 3,
        "retryInterval": 60,
    }
    registration.update(overrides)
    return registration


def _iso_z(created_at: str) -> str:
    return created_at + "Z" if not created_at.endswith("Z") else created_at


async def test_seed_webhook_receives_java_encoded_loan_approval_exactly(
    worker, receiver, kafka_bootstrap, fineract_fixtures
):
    registered = await worker.ok("registerWebhook", _seed_registration(receiver.url("/approved")))
    fixture = fineract_fixtures["loan_approved"]

    await produce_raw(kafka_bootstrap, worker.topics["fineract"], [(fixture.key, fixture.value)])
    [request] = await receiver.wait_for("/approved", 1)

    manifest = fixture.manifest
    expected_body = (
        SEED_TEMPLATE.replace("{{type}}", "loan.approved")
        .replace("{{data.id}}", "42")
        .replace("{{data.clientId}}", "7")
        .replace("{{data.approvedPrincipal}}", manifest["expected"]["approvedPrincipal"])
        .replace("{{timestamp}}", _iso_z(manifest["createdAt"]))
    )
    assert request.body.decode() == expected_body
    assert json.loads(request.body)["approvedAmount"] == "1000.50000000"
    headers = {k.lower(): v for k, v in request.headers.items()}
    assert request.method == "POST"
    assert headers["content-type"] == "application/json"
    assert headers["authorization"] == "Bearer your-token"
    assert headers["x-custom-header"] == "custom-value"
    assert headers["x-fineract-event-type"] == "loan.approved"
    assert headers["x-fineract-event-id"] == manifest["idempotencyKey"]
    assert headers["webhook-id"].startswith("msg_")
    StandardWebhook(registered["secret"]).verify(
        request.body,
        {
            "webhook-id": headers["webhook-id"],
            "webhook-timestamp": headers["webhook-timestamp"],
            "webhook-signature": headers["webhook-signature"],
        },
    )


async def test_every_java_fixture_becomes_canonical_events_on_our_topic(
    worker, kafka_bootstrap, fineract_fixtures
):
    records = [(f.key, f.value) for f in fineract_fixtures.values()]
    await produce_raw(kafka_bootstrap, worker.topics["fineract"], records)
    # The bulk fixture unpacks into its items, every other fixture into one event.
    bulk = fineract_fixtures["bulk_loan_disbursal"].manifest["expected"]["datas"]
    expected = len(records) - 1 + bulk
    events = await read_json(kafka_bootstrap, worker.topics["events"], expected)
    by_id = {e["id"]: e for e in events}
    approved = by_id[fineract_fixtures["loan_approved"].manifest["idempotencyKey"]]
    assert approved["type"] == "loan.approved"
    assert approved["fineractType"] == "LoanApprovedBusinessEvent"
    assert approved["aggregateId"] == 42
    assert approved["tenant"] == "default"
    repayment = by_id[fineract_fixtures["loan_repayment"].manifest["idempotencyKey"]]
    assert repayment["type"] == "loan.repayment"
    assert str(repayment["data"]["amount"]) == "92.15"  # exact decimal, parsed as JSON number
    assert any(e["fineractType"] == "LoanDisbursalTransactionBusinessEvent" for e in events)


async def test_malformed_input_goes_to_dead_letters_and_the_worker_keeps_going(
    worker, receiver, kafka_bootstrap, fineract_fixtures
):
    await worker.ok(
        "registerWebhook",
        _seed_registration(
            receiver.url("/after-junk"),
            name="after junk",
            eventType="client.created",
            payloadTemplate=None,
        ),
    )
    good = fineract_fixtures["client_created"]
    truncated = good.value[: len(good.value) // 2]
    wrong_magic = b"\x00\x01" + good.value[2:]
    unknown_fingerprint = good.value[:2] + b"\xff" * 8 + good.value[10:]
    junk = b'{"not": "avro"}'
    await produce_raw(
        kafka_bootstrap,
        worker.topics["fineract"],
        [
            (good.key, truncated),
            (good.key, wrong_magic),
            (good.key, unknown_fingerprint),
            (b"\x00\x01", good.value),
            (good.key, junk),
            (good.key, good.value),
        ],
    )
    [delivered] = await receiver.wait_for("/after-junk", 1)
    assert json.loads(delivered.body)["type"] == "client.created"
    letters = await read_json(kafka_bootstrap, worker.topics["dead_letters"], 5)
    codes = sorted(letter["code"] for letter in letters)
    assert codes == sorted(
        ["truncated", "not_single_object", "unknown_fingerprint", "bad_key", "not_single_object"]
    )
    assert all(letter["reason"] and letter["value"] for letter in letters)


async def test_nul_in_a_fineract_id_is_dead_lettered_and_later_events_still_flow(
        worker, receiver, kafka_bootstrap):
    from tests.support import avro_encode
    from tests.support.events import registry

    await worker.ok("registerWebhook", _seed_registration(
        receiver.url("/after-nul"), name="after nul", eventType="client.created",
        payloadTemplate=None))
    bad = avro_encode.event(registry(), "ClientCreateBusinessEvent", "Client",
                            avro_encode.CLIENT, avro_encode.client_payload(9),
                            idempotency_key="id\x00nul")
    good = avro_encode.event(registry(), "ClientCreateBusinessEvent", "Client",
                             avro_encode.CLIENT, avro_encode.client_payload(9))
    await produce_raw(kafka_bootstrap, worker.topics["fineract"],
                      [(avro_encode.key(9), bad), (avro_encode.key(9), good)])
    [delivered] = await receiver.wait_for("/after-nul", 1)
    assert "\x00" not in delivered.body.decode()
    letter = await find_json(kafka_bootstrap, worker.topics["dead_letters"],
                             lambda letter: letter["code"] == "malformed")
    assert "control characters" in letter["reason"]
