from __future__ import annotations

import pytest

from fineract_hub.web import actions
from fineract_hub.web.actions import ActionSpec


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, ActionSpec]:
    """An empty action registry in place of the real one, for fake handlers."""
    fake: dict[str, ActionSpec] = {}
    monkeypatch.setattr(actions, "ACTIONS", fake)
    return fake
