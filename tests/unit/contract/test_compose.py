"""docker-compose.yml and Dockerfile, checked statically (no Docker engine needed)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from fineract_hub.config import SETTINGS_DOC

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text("utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def env_of(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return dict(item.partition("=")[::2] for item in environment)
    return {key: str(value) for key, value in environment.items()}


def test_images_are_pinned_to_a_tag(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        image = service.get("image")
        if image is None:
            assert "build" in service, f"{name} has neither image nor build"
            continue
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag and tag not in {"", "latest"}, f"{name}: {image}"


def test_infrastructure_images_are_the_expected_major_versions(
    services: dict[str, dict[str, Any]],
) -> None:
    assert re.fullmatch(r"apache/kafka:4\.\d+\.\d+", services["kafka"]["image"])
    assert re.fullmatch(r"postgres:\d+\.\d+", services["postgres"]["image"])
    assert re.fullmatch(
        r"hasura/graphql-engine:v2\.\d+\.\d+\.cli-migrations-v3", services["hasura"]["image"]
    )


def test_every_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    missing = [
        name for name, service in services.items() if not service.get("healthcheck", {}).get("test")
    ]
    assert missing == []


def test_depends_on_waits_for_healthy_services(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on must use conditions"
        for target, condition in depends_on.items():
            assert target in services, f"{name} depends on unknown {target}"
            assert condition == {"condition": "service_healthy"}, f"{name} -> {target}"


def test_worker_waits_for_kafka_and_postgres(services: dict[str, dict[str, Any]]) -> None:
    assert set(services["worker"]["depends_on"]) == {"kafka", "postgres"}


def test_worker_environment_only_uses_documented_settings(
    services: dict[str, dict[str, Any]],
) -> None:
    assert set(env_of(services["worker"])) <= set(SETTINGS_DOC)


def test_worker_sets_every_required_setting(services: dict[str, dict[str, Any]]) -> None:
    required = {name for name, (default, _) in SETTINGS_DOC.items() if default is None}
    assert required <= set(env_of(services["worker"]))


def test_worker_reaches_kafka_and_postgres_by_service_name(
    services: dict[str, dict[str, Any]],
) -> None:
    env = env_of(services["worker"])
    assert env["HUB_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert "@postgres:5432/" in env["HUB_DATABASE_URL"]
    assert env["HUB_WEB_BIND"] == "0.0.0.0"  # noqa: S104 - inside the container network


def test_worker_is_built_from_the_dockerfile(services: dict[str, dict[str, Any]]) -> None:
    assert services["worker"]["build"] in (".", {"context": "."})


def test_worker_can_scale(services: dict[str, dict[str, Any]]) -> None:
    worker = services["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    assert worker["deploy"]["replicas"] >= 1


def test_avro_schemas_are_mounted_read_only_at_the_schema_dir(
    services: dict[str, dict[str, Any]],
) -> None:
    worker = services["worker"]
    target = env_of(worker)["HUB_AVRO_SCHEMA_DIR"]
    assert any(volume.endswith(f":{target}:ro") for volume in worker["volumes"])


def test_hasura_calls_the_worker_with_the_shared_secret(
    services: dict[str, dict[str, Any]],
) -> None:
    hasura_env = env_of(services["hasura"])
    worker_env = env_of(services["worker"])
    assert hasura_env["HUB_ACTIONS_URL"] == f"http://worker:{worker_env['HUB_WEB_PORT']}"
    assert hasura_env["HUB_ACTION_SECRET"] == worker_env["HUB_ACTION_SECRET"]


def test_secrets_must_be_supplied_not_defaulted(services: dict[str, dict[str, Any]]) -> None:
    env = env_of(services["worker"])
    for name in ("HUB_ACTION_SECRET", "HUB_ENCRYPTION_KEY"):
        assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", env[name]), name


def test_hasura_applies_the_generated_metadata(services: dict[str, dict[str, Any]]) -> None:
    assert "./metadata:/hasura-metadata:ro" in services["hasura"]["volumes"]


def test_published_ports(services: dict[str, dict[str, Any]]) -> None:
    assert services["hasura"]["ports"] == ["8080:8080"]
    assert services["kafka"]["ports"] == ["19092:19092"]
    assert services["postgres"]["ports"] == ["5432:5432"]


def test_kafka_advertises_the_internal_listener_to_containers(
    services: dict[str, dict[str, Any]],
) -> None:
    env = env_of(services["kafka"])
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_fineract_wiring_is_documented() -> None:
    text = (REPO / "docker-compose.yml").read_text("utf-8")
    for needle in (
        'FINERACT_EXTERNAL_EVENTS_ENABLED: "true"',
        'FINERACT_EXTERNAL_EVENTS_KAFKA_ENABLED: "true"',
        "FINERACT_EXTERNAL_EVENTS_KAFKA_BOOTSTRAP_SERVERS: kafka:9092",
        "FINERACT_EXTERNAL_EVENTS_KAFKA_TOPIC_NAME: external-events",
        "/externalevents/configuration",
    ):
        assert needle in text


def test_dockerfile_installs_the_package_and_runs_the_worker() -> None:
    lines = [line.strip() for line in (REPO / "Dockerfile").read_text("utf-8").splitlines()]
    assert next(line for line in lines if line.startswith("FROM ")) == "FROM python:3.11-slim"
    assert any(line.startswith("RUN pip install .") for line in lines)
    assert 'ENTRYPOINT ["python", "-m", "fineract_hub"]' in lines
    assert 'CMD ["worker"]' in lines
