import asyncio

import pytest

from fineract_hub.models.events import CanonicalEvent
from fineract_hub.streams.sinks import Sinks


def _event(event_id: str) -> CanonicalEvent:
    return CanonicalEvent(id=event_id, type="client.created", fineract_type=None, category=None,
                          tenant="default", created_at="2024-03-01T00:00:00.000000Z",
                          business_date=None, aggregate_id=1, data={})


class _Recording:
    name = "recording"

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    async def handle(self, events):
        self.batches.append([e.id for e in events])


class _Broken:
    name = "broken"

    async def handle(self, events):
        raise KeyError("bug")


class _Letters:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def __call__(self, code, reason, event):
        self.sent.append((code, reason, event.id))


async def test_every_sink_gets_the_batch_in_order():
    first, second = _Recording(), _Recording()
    await Sinks([first, second], _Letters()).handle([_event("a"), _event("b")])
    assert first.batches == second.batches == [["a", "b"]]


async def test_an_empty_batch_reaches_no_sink():
    sink = _Recording()
    await Sinks([sink], _Letters()).handle([])
    assert sink.batches == []


async def test_a_failing_sink_dead_letters_each_event_with_its_reason_and_the_others_still_run():
    letters, after = _Letters(), _Recording()
    await Sinks([_Broken(), after], letters).handle([_event("a"), _event("b")])
    assert [(code, event_id) for code, _, event_id in letters.sent] == [
        ("sink_failed", "a"), ("sink_failed", "b")]
    assert "broken failed: KeyError" in letters.sent[0][1]
    assert after.batches == [["a", "b"]]


async def test_cancellation_is_not_mistaken_for_a_failing_sink():
    class _Cancelled:
        name = "cancelled"

        async def handle(self, events):
            raise asyncio.CancelledError

    letters = _Letters()
    with pytest.raises(asyncio.CancelledError):
        await Sinks([_Cancelled()], letters).handle([_event("a")])
    assert letters.sent == []
