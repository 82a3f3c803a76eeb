"""Regressions for what the adversarial review broke (one behaviour each)."""

import ipaddress
import json

import pytest

from fineract_hub.config import Settings
from fineract_hub.delivery.service import validate_headers
from fineract_hub.delivery.ssrf import AddressPolicy
from fineract_hub.errors import ConfigError, ValidationError
from fineract_hub.web.hasura import execute_action


@pytest.mark.parametrize("value", ["a\x0bb", "a\x85b", "a\u2028b", "a\x7fb"])
def test_header_values_with_control_characters_are_refused_at_registration(value):
    with pytest.raises(ValidationError):
        validate_headers({"X-Token": value})


def test_header_values_may_contain_tabs():
    assert validate_headers({"X-Token": "a\tb"}) == {"X-Token": "a\tb"}


@pytest.mark.parametrize("name", ["X-Token\n", "X Token", "", "X" * 129])
def test_header_names_that_are_not_http_tokens_are_refused_at_registration(name):
    # "X-Token\n" passed a ^...$ pattern (re's $ matches before a final newline); the delivery
    # client then refused it at every attempt.
    with pytest.raises(ValidationError, match="not a valid HTTP header name"):
        validate_headers({name: "v"})


def test_ipv4_translated_addresses_are_blocked():
    reason = AddressPolicy((), False).is_blocked(ipaddress.ip_address("::ffff:0:7f00:1"))
    assert reason


def test_a_malformed_api_key_entry_is_reported_without_echoing_it(tmp_path):
    (tmp_path / "MessageV1.avsc").write_text("{}")
    env = {"HUB_AVRO_SCHEMA_DIR": str(tmp_path), "HUB_ACTION_SECRET": "s" * 16,
           "HUB_ENCRYPTION_KEY": "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=",
           "HUB_API_KEYS": "secretkeyvalue0123456789:admin"}
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert "secretkeyvalue0123456789" not in str(caught.value)


async def test_a_session_variable_given_twice_is_refused():
    class _Settings:
        action_secret = "s" * 16

    class _Services:
        settings = _Settings()

    body = json.dumps({"action": {"name": "getWebhooks"}, "input": {},
                       "session_variables": {"x-hasura-role": "user",
                                             "X-Hasura-Role": "admin"}}).encode()
    status, answer = await execute_action(_Services(), {"x-hub-action-secret": "s" * 16}, body)
    assert status == 400
    assert "more than once" in answer["message"]


async def test_a_skipped_upgrade_backlog_touches_neither_kafka_nor_postgres() -> None:
    # For Kafka clusters that refuse the admin requests the read needs: ingest must not wait.
    import asyncio
    from types import SimpleNamespace

    from fineract_hub.hub import Hub

    hub = SimpleNamespace(settings=SimpleNamespace(upgrade_backlog="skip"), pool=object())
    await asyncio.wait_for(Hub.fan_out_legacy_backlog(hub), 1)  # type: ignore[arg-type]
