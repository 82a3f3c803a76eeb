"""A webhook registration as the runtime sees it (the Faust table value) and its enum spellings.

The GraphQL contract spells enums as names (``application_json``); HTTP needs MIME types. The
earlier implementation stored one and compared with the other, so bodies went out as the wrong
type; the mapping lives here, once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

CONTENT_TYPES: dict[str, str] = {
    "application_json": "application/json",
    "application_xml": "application/xml",
    "application_x_www_form_urlencoded": "application/x-www-form-urlencoded",
    "text_plain": "text/plain",
}
CONTENT_TYPE_NAMES: dict[str, str] = {mime: name for name, mime in CONTENT_TYPES.items()}
HTTP_METHODS: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")

#: Headers a user may not set: they carry the signature, framing or our own metadata.
RESERVED_HEADERS: frozenset[str] = frozenset(
    {
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "content-type",
        "content-length",
        "transfer-encoding",
        "host",
        "connection",
        "x-fineract-event-type",
        "x-fineract-event-id",
        "x-fineract-timestamp",
    }
)


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    name: str
    event_type: str
    url: str
    http_method: str  # one of HTTP_METHODS
    content_type: str  # MIME type
    headers: dict[str, str]
    payload_template: str | None
    is_active: bool
    retry_count: int | None
    retry_interval: int | None
    timeout: int
    ordered: bool
    #: AES-GCM tokens; decrypted only when signing (the table's changelog is data at rest too).
    secret_enc: str
    previous_secret_enc: str | None = None
    previous_secret_expires_at: float | None = None  # epoch seconds
    version: int = 1

    def to_table(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_table(cls, raw: dict[str, Any]) -> Webhook:
        # Table values written by an older version may carry fields this one no longer has.
        return cls(**{k: v for k, v in raw.items() if k in _FIELDS})


_FIELDS = frozenset(f.name for f in fields(Webhook))
