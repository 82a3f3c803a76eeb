"""Template error kinds, split by when they happen.

``TemplateRejected`` is raised while a webhook is being registered, so the user fixes the template
before any event is lost to it. ``RenderError`` happens per event at delivery time and is recorded
as a failed attempt with its message (a missing field must be visible in history, never a silent
skip: Hasura's "tries: 0" failure mode).
"""

from __future__ import annotations

from typing import Any

from fineract_hub.errors import HubError, ValidationError


class TemplateRejected(ValidationError):
    code = "template_rejected"

    def __init__(self, message: str, *, offset: int | None = None) -> None:
        details: dict[str, Any] = {} if offset is None else {"offset": offset}
        super().__init__(message, details=details)
        self.offset = offset


class RenderError(HubError):
    status = 422
    code = "render_failed"
