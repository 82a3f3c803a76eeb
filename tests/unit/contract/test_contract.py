"""The schema, the real action registry and the committed Hasura metadata agree.

These fail until every declared operation has a handler; that is the point: an operation Hasura
exposes with no handler behind it is what the earlier implementation shipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fineract_hub.contract import hasura
from fineract_hub.contract.schema import operation_kinds
from fineract_hub.web.actions import load_all

REPO = Path(__file__).resolve().parents[3]


def test_every_schema_operation_has_a_handler_of_the_same_kind() -> None:
    registry = load_all()
    mismatched = {
        name: (kind, registry[name].kind if name in registry else None)
        for name, kind in operation_kinds().items()
        if name not in registry or registry[name].kind != kind
    }
    assert mismatched == {}


def test_every_handler_is_declared_in_the_schema() -> None:
    undeclared = sorted(set(load_all()) - set(operation_kinds()))
    assert undeclared == []


def test_committed_metadata_is_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    status = hasura.main(["--check", "--metadata-dir", str(REPO / "metadata")])
    assert status == 0, capsys.readouterr().out
