"""Identifiers: stable message ids (receivers dedupe on them), time-ordered attempt ids."""

from __future__ import annotations

import re
import subprocess
import sys

from fineract_hub.delivery.ids import message_id, new_attempt_id


def test_message_id_is_the_same_for_the_same_event_and_webhook() -> None:
    assert message_id("e1", "wh_1") == message_id("e1", "wh_1")
    assert message_id("e1", "wh_1") != message_id("e1", "wh_2")


def test_attempt_ids_keep_the_att_plus_32_hex_format() -> None:
    assert re.fullmatch(r"att_[0-9a-f]{32}", new_attempt_id())


def test_attempt_ids_of_one_process_are_unique_and_ascending() -> None:
    ids = [new_attempt_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)


def test_attempt_ids_of_two_processes_differ() -> None:
    code = "from fineract_hub.delivery.ids import new_attempt_id; print(new_attempt_id())"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip()
    mine = new_attempt_id()
    assert other[4 + 12 : 4 + 22] != mine[4 + 12 : 4 + 22]  # the per-process tags
