"""The registry of actions: one handler per GraphQL operation, shared by every transport.

A capability adds an operation by declaring it in ``contract/schema.graphql`` and decorating one
handler here with ``@action(name, roles=...)``. The Hasura action endpoint (``web/hasura.py``) and
the built-in ``/graphql`` endpoint (``web/graphql.py``) both resolve the operation name to the same
``ActionSpec`` and call it with the same ``ActionContext``, so validation and authorization cannot
drift between the two paths (the earlier implementation's schema and handlers disagreed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fineract_hub.errors import PermissionDenied


@dataclass(frozen=True)
class ActionContext:
    """Who is calling, and the services a handler may use."""

    role: str
    user_id: str | None
    services: Any  # fineract_hub.services.Services; typed loosely to avoid an import cycle
    session_variables: dict[str, str] = field(default_factory=dict)


Handler = Callable[[ActionContext, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class ActionSpec:
    name: str
    handler: Handler
    roles: frozenset[str]
    kind: str  # "query" or "mutation", checked against the schema by a test

    async def call(self, ctx: ActionContext, arguments: dict[str, Any]) -> Any:
        if ctx.role not in self.roles:
            raise PermissionDenied(
                f"role {ctx.role!r} may not call {self.name}",
                details={"allowedRoles": sorted(self.roles)},
            )
        return await self.handler(ctx, arguments)


ACTIONS: dict[str, ActionSpec] = {}


def action(
    name: str, *, roles: set[str] | frozenset[str], kind: str
) -> Callable[[Handler], Handler]:
    if kind not in {"query", "mutation"}:
        raise ValueError(f"kind must be query or mutation, not {kind!r}")

    def register(handler: Handler) -> Handler:
        if name in ACTIONS:
            raise ValueError(f"action {name} registered twice")
        ACTIONS[name] = ActionSpec(name=name, handler=handler, roles=frozenset(roles), kind=kind)
        return handler

    return register


def load_all() -> dict[str, ActionSpec]:
    """Import every handler module so their decorators run; returns the registry."""
    from fineract_hub.web import webhooks  # noqa: F401

    return ACTIONS
