"""Cost of handing one record to a stream: Faust's ``wait_first`` race against ours, same run.

Faust's consumer calls ``wait_first(deliver(record), suspend_flow.wait())`` for every record;
``streams/consumer.py`` runs the delivery up to its first wait before racing anything. Prints µs
per record for both (on uvloop, as the workers run) and the ratio. Runs without services.

Usage: .venv/bin/python bench/consumer_handoff.py [--records 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import mode
import uvloop
from mode.utils.locks import Event

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fineract_hub.streams.consumer import EagerFirst  # noqa: E402


class FaustRace(mode.Service):
    def __init__(self) -> None:
        super().__init__()
        self.suspend_flow = Event()


class Eager(EagerFirst, FaustRace):
    # The mechanism, for any delivery: on Python 3.11 the hub's consumer uses it for Faust's
    # own hand-off only (Conductor.on_message), which this bench does not build.
    eager_on_311 = staticmethod(lambda coro: True)


async def per_record_us(consumer: FaustRace, records: int) -> float:
    queue: asyncio.Queue[int] = asyncio.Queue()

    async def deliver(record: int) -> None:
        await queue.put(record)

    started = time.perf_counter()
    for record in range(records):
        await consumer.wait_first(deliver(record), consumer.suspend_flow.wait())
    await asyncio.sleep(0)  # cancelled losers finish here, and count
    elapsed = time.perf_counter() - started
    assert queue.qsize() == records
    return elapsed / records * 1e6


async def run(records: int) -> None:
    faust_us = min([await per_record_us(FaustRace(), records) for _ in range(3)])
    eager_us = min([await per_record_us(Eager(), records) for _ in range(3)])
    print(f"Faust's wait_first race : {faust_us:6.1f} µs per record (baseline)")
    print(f"run to first wait       : {eager_us:6.1f} µs per record "
          f"({faust_us / eager_us:.1f}x less)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20000)
    args = parser.parse_args()
    uvloop.install()
    asyncio.run(run(args.records))


if __name__ == "__main__":
    main()
