"""Stable identifiers. A message id is derived, not random, so that the same event sent to the
same webhook always carries the same ``webhook-id`` header: across retries, replays, duplicate
input from Fineract and re-processing after a crash. Receivers dedupe on it."""

from __future__ import annotations

import hashlib
import uuid


def message_id(event_id: str, webhook_id: str) -> str:
    digest = hashlib.sha256(f"{event_id}|{webhook_id}".encode()).hexdigest()
    return "msg_" + digest[:32]


def new_webhook_id() -> str:
    return "wh_" + uuid.uuid4().hex


def new_delivery_id() -> str:
    return "dlv_" + uuid.uuid4().hex
