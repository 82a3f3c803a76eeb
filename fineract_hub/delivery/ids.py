"""Stable identifiers. A message id is derived, not random, so that the same event sent to the
same webhook always carries the same ``webhook-id`` header: across retries, replays, duplicate
input from Fineract and re-processing after a crash. Receivers dedupe on it."""

from __future__ import annotations

import hashlib
import itertools
import os
import time
import uuid

#: Random per process, so that two workers' attempt ids never meet.
_PROCESS_TAG = os.urandom(5).hex()
_sequence = itertools.count()


def message_id(event_id: str, webhook_id: str) -> str:
    digest = hashlib.sha256(f"{event_id}|{webhook_id}".encode()).hexdigest()
    return "msg_" + digest[:32]


def new_webhook_id() -> str:
    return "wh_" + uuid.uuid4().hex


def new_delivery_id() -> str:
    return "dlv_" + uuid.uuid4().hex


def new_attempt_id() -> str:
    """``att_`` + 32 hex digits, ordered by time like a UUIDv7: milliseconds, a per-process tag,
    a per-process sequence. Every attempt writes one, and random ids would land all over the
    primary-key index (and cost a system call each); ordered ones append at its end."""
    millis = time.time_ns() // 1_000_000
    return f"att_{millis & 0xFFFFFFFFFFFF:012x}{_PROCESS_TAG}{next(_sequence) & 0xFFFFFFFFFF:010x}"
