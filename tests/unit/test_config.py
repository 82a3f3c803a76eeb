import base64

import pytest

from fineract_hub.config import SETTINGS_DOC, Settings
from fineract_hub.errors import ConfigError


def _env(tmp_path, **overrides):
    (tmp_path / "MessageV1.avsc").write_text("{}")
    env = {
        "HUB_AVRO_SCHEMA_DIR": str(tmp_path),
        "HUB_ACTION_SECRET": "s" * 16,
        "HUB_ENCRYPTION_KEY": base64.b64encode(b"k" * 32).decode(),
    }
    env.update(overrides)
    return env


def test_defaults_apply_when_only_required_variables_are_set(tmp_path):
    settings = Settings.from_env(_env(tmp_path))
    assert settings.fineract_topic == "external-events"
    assert settings.webhook_retry_schedule[0] == 5
    assert settings.kafka_broker_url == "kafka://127.0.0.1:19092"


def test_missing_required_variables_are_all_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({})
    text = str(caught.value)
    for name in ("HUB_AVRO_SCHEMA_DIR", "HUB_ACTION_SECRET", "HUB_ENCRYPTION_KEY"):
        assert name in text


def test_schema_folder_without_message_schema_is_rejected(tmp_path):
    env = _env(tmp_path)
    (tmp_path / "MessageV1.avsc").unlink()
    with pytest.raises(ConfigError, match=r"MessageV1\.avsc"):
        Settings.from_env(env)


def test_lease_shorter_than_http_timeout_is_rejected(tmp_path):
    env = _env(tmp_path, HUB_DELIVERY_LEASE_SECONDS="20", HUB_WEBHOOK_MAX_TIMEOUT="30")
    with pytest.raises(ConfigError, match="delivered twice"):
        Settings.from_env(env)


def test_encryption_key_must_be_32_bytes(tmp_path):
    env = _env(tmp_path, HUB_ENCRYPTION_KEY=base64.b64encode(b"short").decode())
    with pytest.raises(ConfigError, match="32 bytes"):
        Settings.from_env(env)


def test_bad_allowlist_entry_is_named(tmp_path):
    with pytest.raises(ConfigError, match="not-a-cidr"):
        Settings.from_env(_env(tmp_path, HUB_SSRF_ALLOWLIST="127.0.0.0/8,not-a-cidr"))


def test_api_keys_map_keys_to_roles(tmp_path):
    settings = Settings.from_env(_env(tmp_path, HUB_API_KEYS="admin:" + "a" * 20))
    assert settings.api_keys == {"a" * 20: "admin"}


def test_every_setting_has_a_description():
    assert all(description for _, description in SETTINGS_DOC.values())


def test_a_misspelt_variable_is_reported_with_a_suggestion(tmp_path):
    with pytest.raises(ConfigError, match="did you mean HUB_KAFKA_BOOTSTRAP"):
        Settings.from_env(_env(tmp_path, HUB_KAFKA_BOOTSTAP="127.0.0.1:9092"))


def test_the_upgrade_backlog_is_read_unless_skipped_explicitly(tmp_path):
    assert Settings.from_env(_env(tmp_path)).upgrade_backlog == "read"
    assert Settings.from_env(_env(tmp_path, HUB_UPGRADE_BACKLOG="skip")).upgrade_backlog == "skip"
    with pytest.raises(ConfigError, match="HUB_UPGRADE_BACKLOG must be 'read' or 'skip'"):
        Settings.from_env(_env(tmp_path, HUB_UPGRADE_BACKLOG="maybe"))
