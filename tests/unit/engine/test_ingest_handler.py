import json

from fineract_hub.ingest.canonical import FineractDecoder
from fineract_hub.metrics import Metrics
from fineract_hub.streams.ingest import IngestHandler
from fineract_hub.streams.publish import Outgoing, Publisher
from tests.support.events import client_created, registry


class _RecordingProducer:
    def __init__(self, failures: int = 0) -> None:
        self.sent: list[Outgoing] = []
        self.failures = failures

    async def send(self, topic, key, value, partition, timestamp, headers):
        if self.failures:
            self.failures -= 1
            raise ConnectionError("broker unavailable")
        self.sent.append(Outgoing(topic, key, value))

        async def accepted():
            return None

        return accepted()


def _handler(producer) -> IngestHandler:
    return IngestHandler(FineractDecoder(registry()), Publisher(producer, max_delay=0.01),
                         "events", "dead", Metrics())


async def test_a_fineract_record_becomes_a_canonical_event_keyed_by_aggregate():
    producer = _RecordingProducer()
    key, value, idem = client_created(77)
    [event] = await _handler(producer).handle(key, value, {"offset": 1})
    [sent] = producer.sent
    assert event.id == idem and sent.value == event.to_json()
    assert sent.topic == "events" and sent.key == b"77"
    assert json.loads(sent.value)["id"] == idem


async def test_junk_becomes_a_dead_letter_with_the_original_bytes_and_reason():
    producer = _RecordingProducer()
    assert await _handler(producer).handle(b"\x00" * 8, b"not avro", {"offset": 9}) == []
    [letter] = producer.sent
    body = json.loads(letter.value)
    assert letter.topic == "dead"
    assert body["code"] == "not_single_object" and body["origin"] == {"offset": 9}
    assert body["value"]


async def test_sends_the_broker_refuses_are_retried_until_accepted():
    producer = _RecordingProducer(failures=2)
    key, value, _ = client_created(78)
    await _handler(producer).handle(key, value, {})
    assert len(producer.sent) == 1


async def test_ingested_events_are_counted_per_type_once_kafka_has_them():
    producer = _RecordingProducer()
    handler = _handler(producer)
    records = [(*client_created(80 + i)[:2], {}) for i in range(3)]
    records.append((b"\x00" * 8, b"not avro", {}))

    await handler.handle_batch(records)

    counted = handler.metrics.registry.get_sample_value(
        "hub_events_ingested_total", {"type": "client.created"}
    )
    assert counted == 3
