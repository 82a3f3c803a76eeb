"""Fake action handlers for testing the transports (Hasura actions, /graphql) without a hub."""

from __future__ import annotations

from typing import Any

from fineract_hub.web.actions import ActionContext, ActionSpec


class Recorder:
    """A fake handler that remembers what it was called with and returns a canned value."""

    def __init__(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result = result
        self.error = error
        self.calls: list[tuple[ActionContext, dict[str, Any]]] = []

    async def __call__(self, ctx: ActionContext, arguments: dict[str, Any]) -> Any:
        self.calls.append((ctx, arguments))
        if self.error is not None:
            raise self.error
        return self.result


def register(
    registry: dict[str, ActionSpec],
    name: str,
    handler: Recorder,
    *,
    kind: str = "mutation",
    roles: frozenset[str] = frozenset({"admin", "user"}),
) -> Recorder:
    registry[name] = ActionSpec(name=name, handler=handler, roles=roles, kind=kind)
    return handler
