"""Avro decoding of Fineract events: the generated readers against fastavro, in the same run.

Per event type, µs per decode of the envelope and of its payload with fastavro's
``schemaless_reader`` (the baseline) and with the reader ``ingest/avro_reader.py`` generates,
and the speed-up. Runs without services.

Usage: .venv/bin/python bench/avro_decode.py [--rounds 20000]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastavro import schemaless_reader

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fineract_hub.ingest.avro_reader import compile_reader  # noqa: E402
from fineract_hub.ingest.decode import SingleObjectDecoder  # noqa: E402
from fineract_hub.ingest.schemas import ENVELOPE_SCHEMA, LoadedSchema  # noqa: E402
from tests.support.events import client_created, loan_approved, registry  # noqa: E402


def per_call_us(work: Callable[[], Any], rounds: int) -> float:
    best = float("inf")
    for _ in range(3):  # best of three: the machine is shared
        started = time.perf_counter()
        for _ in range(rounds):
            work()
        best = min(best, (time.perf_counter() - started) / rounds * 1e6)
    return best


def compare(label: str, schema: LoadedSchema, value: bytes, rounds: int) -> None:
    reader = compile_reader(schema.parsed)
    assert reader is not None

    def with_fastavro() -> Any:
        body = io.BytesIO(value)
        body.seek(10)
        return schemaless_reader(body, schema.parsed, None)

    def generated() -> Any:
        return reader(value, 10)[0]

    assert generated() == with_fastavro()
    base, ours = per_call_us(with_fastavro, rounds), per_call_us(generated, rounds)
    print(f"{label:<40}: fastavro {base:6.1f} µs, generated {ours:6.1f} µs "
          f"({len(value)} B; {base / ours:.1f}x faster)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20000)
    args = parser.parse_args()
    schemas = registry()
    decoder = SingleObjectDecoder(schemas)
    envelope_schema = schemas.by_name(ENVELOPE_SCHEMA)
    assert envelope_schema is not None
    for name, (_, value, _) in (("ClientCreate", client_created(42)),
                                ("LoanApproved", loan_approved(7))):
        envelope = decoder.decode_envelope(value)
        payload = schemas.by_name(envelope.dataschema)
        assert payload is not None
        compare(f"{name} envelope (MessageV1)", envelope_schema, value, args.rounds)
        compare(f"{name} payload ({payload.name.rsplit('.', 1)[1]})", payload, envelope.data,
                args.rounds)


if __name__ == "__main__":
    main()
