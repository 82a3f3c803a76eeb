"""Shared fixtures: the real Fineract schema folder, loaded once per test session."""

from __future__ import annotations

import pytest

from fineract_hub.ingest.canonical import FineractDecoder
from fineract_hub.ingest.decode import SingleObjectDecoder
from fineract_hub.ingest.schemas import SchemaRegistry
from tests.support.avro_encode import schema_dir


@pytest.fixture(scope="session")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(schema_dir())


@pytest.fixture(scope="session")
def decoder(registry: SchemaRegistry) -> SingleObjectDecoder:
    return SingleObjectDecoder(registry)


@pytest.fixture(scope="session")
def fineract(registry: SchemaRegistry) -> FineractDecoder:
    return FineractDecoder(registry)
