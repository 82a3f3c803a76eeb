"""Error kinds. Each carries the decision callers need: HTTP status and a stable code.

Web views turn any ``HubError`` into Hasura's action error shape
``{"message": ..., "extensions": {"code": ...}}``; anything else becomes a logged 500 with no
internals in the body.
"""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    status: int = 500
    code: str = "internal"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_body(self) -> dict[str, Any]:
        extensions: dict[str, Any] = {"code": self.code}
        extensions.update(self.details)
        return {"message": self.message, "extensions": extensions}


class ValidationError(HubError):
    status = 400
    code = "validation_failed"


class NotAuthenticated(HubError):
    status = 401
    code = "unauthenticated"


class PermissionDenied(HubError):
    status = 403
    code = "forbidden"


class NotFound(HubError):
    status = 404
    code = "not_found"


class Conflict(HubError):
    status = 409
    code = "conflict"


class PayloadTooLarge(HubError):
    status = 413
    code = "payload_too_large"


class Unavailable(HubError):
    status = 503
    code = "unavailable"


class ConfigError(Exception):
    """Raised at start-up with every configuration problem found, not just the first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))
