"""Settings read once from environment variables and validated before anything starts.

Every variable is documented in ``SETTINGS_DOC`` (the README's configuration reference is checked
against it by a test) so that a typo or an unsafe combination fails at start-up with one message
listing every problem, instead of surfacing hours later as a lost delivery.
"""

from __future__ import annotations

import base64
import difflib
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fineract_hub.errors import ConfigError

#: name -> (default or None when required, description). Order is the README's order.
SETTINGS_DOC: dict[str, tuple[str | None, str]] = {
    "HUB_APP_ID": ("fineract-hub", "Faust app id; also the Kafka consumer group."),
    "HUB_KAFKA_BOOTSTRAP": ("127.0.0.1:19092", "Kafka bootstrap servers, comma separated."),
    "HUB_FINERACT_TOPIC": ("external-events", "Topic Fineract publishes its external events to."),
    "HUB_FINERACT_TOPIC_PARTITIONS": (
        "10",
        "Partitions for the Fineract topic if the hub creates it (Fineract's default).",
    ),
    "HUB_EVENTS_TOPIC": (
        "fineract-hub-events",
        "Our canonical event topic (JSON, keyed by aggregate).",
    ),
    "HUB_DEAD_LETTER_TOPIC": (
        "fineract-hub-dead-letters",
        "Where input that cannot be taken goes, with a code and the reason: Fineract records "
        "that do not decode (the original bytes), and canonical events a sink refused "
        "(sink_failed, not_storable, not_canonical; the event's JSON).",
    ),
    "HUB_OPERATIONAL_TOPIC": (
        "fineract-hub-operational",
        "Operational events (endpoint disabled, retries exhausted).",
    ),
    "HUB_KAFKA_SESSION_TIMEOUT_SECONDS": (
        "10",
        "Consumer-group session timeout: how long a crashed worker holds its partitions "
        "before another takes them over (Faust's default is 60).",
    ),
    "HUB_UPGRADE_BACKLOG": (
        "read",
        "At start-up, fan out what the older two-agent version left on the canonical topic "
        "before ingesting ('read'), or 'skip' it: only if you know there is none, or Kafka "
        "refuses the admin requests it needs (ingest waits, retrying, until they succeed).",
    ),
    "HUB_TOPIC_PARTITIONS": ("8", "Partitions of the topics the hub creates."),
    "HUB_TABLE_STORE": ("memory://", "Faust table store URL (memory:// or rocksdb://)."),
    "HUB_AVRO_SCHEMA_DIR": (
        None,
        "Folder holding Fineract's .avsc files (fineract-avro-schemas/src/main/avro).",
    ),
    "HUB_DATA_DIR": (
        "",
        "Folder for Faust's local state (table stores); empty means the working directory.",
    ),
    "HUB_DATABASE_URL": (
        "postgresql://fineract_hub:fineract_hub@127.0.0.1:5432/fineract_hub?sslmode=disable",
        "PostgreSQL for registrations, delivery state and history. The loopback default skips "
        "TLS (it costs CPU on both ends for nothing); use sslmode=verify-full for a remote server.",
    ),
    "HUB_WEB_BIND": ("127.0.0.1", "Address the web server (actions, /graphql, /health) binds."),
    "HUB_WEB_PORT": ("6066", "Port of the web server."),
    "HUB_ACTION_SECRET": (
        None,
        "Shared secret Hasura sends in the x-hub-action-secret header (>= 16 chars).",
    ),
    "HUB_API_KEYS": (
        "",
        "Keys for /graphql without Hasura: 'role:key,role:key' (sent as Authorization: Bearer).",
    ),
    "HUB_ENCRYPTION_KEY": (
        None,
        "Base64 of 32 random bytes; encrypts webhook secrets at rest (AES-256-GCM).",
    ),
    "HUB_SSRF_ALLOWLIST": (
        "",
        "CIDRs webhooks may reach although private/loopback, e.g. '127.0.0.0/8' in tests.",
    ),
    "HUB_WEBHOOK_HTTPS_ONLY": ("false", "Reject webhook URLs that are not https://."),
    "HUB_WEBHOOK_DEFAULT_TIMEOUT": ("15", "Seconds a delivery attempt may take by default."),
    "HUB_WEBHOOK_MAX_TIMEOUT": ("30", "Largest per-webhook timeout a user may set, seconds."),
    "HUB_WEBHOOK_RETRY_SCHEDULE": (
        "5,300,1800,7200,18000,36000,50400,72000,86400",
        "Default delays (s) between attempts when a webhook sets no retryCount/retryInterval "
        "(Standard Webhooks schedule).",
    ),
    "HUB_DELIVERY_LEASE_SECONDS": (
        "60",
        "How long an in-flight attempt is owned before another worker may retry it; "
        "must exceed HUB_WEBHOOK_MAX_TIMEOUT.",
    ),
    "HUB_DELIVERY_CONCURRENCY": ("512", "Concurrent HTTP attempts per worker."),
    "HUB_ENDPOINT_CONCURRENCY": ("64", "Concurrent HTTP attempts per webhook endpoint."),
    "HUB_ENDPOINT_QUEUE_LIMIT": (
        "8192",
        "Most deliveries one endpoint may have waiting in a worker's memory. Below it, an "
        "endpoint may hold what it completes in a quarter of HUB_DELIVERY_LEASE_SECONDS (at "
        "least twice HUB_ENDPOINT_CONCURRENCY); beyond that deliveries wait in PostgreSQL, so "
        "a slow endpoint cannot hold back the others. A worker holds at most twice this in "
        "memory (or 4 x HUB_DELIVERY_CONCURRENCY) before ingest waits.",
    ),
    "HUB_WEBHOOK_DISABLE_AFTER_SECONDS": (
        "432000",
        "An endpoint failing continuously for this long is disabled (default 5 days).",
    ),
    "HUB_MAX_PAYLOAD_BYTES": ("262144", "Largest rendered webhook body."),
    "HUB_HISTORY_RETENTION_DAYS": ("30", "Attempt history older than this is deleted."),
    "HUB_SCHEDULER_INTERVAL_SECONDS": ("1", "How often due retries are picked up."),
    "HUB_EVENT_LOOP": (
        "uvloop",
        "Event loop for the worker: 'uvloop' (about 15% more deliveries/s here) or 'asyncio'.",
    ),
    "HUB_LOG_LEVEL": ("INFO", "Log level."),
    "HUB_LOG_FORMAT": ("json", "'json' for structured logs, 'text' for humans."),
}

_ROLES = ("admin", "user", "anonymous")

#: HUB_* names other programs read (Hasura's handler URL), so a worker sharing the environment
#: must not call them typos.
NOT_SETTINGS = frozenset({"HUB_ACTIONS_URL"})


def _bool(name: str, raw: str, problems: list[str]) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    problems.append(f"{name}: expected true/false, got {raw!r}")
    return False


def _int(name: str, raw: str, problems: list[str], minimum: int, maximum: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name}: expected an integer, got {raw!r}")
        return minimum
    if not minimum <= value <= maximum:
        problems.append(f"{name}: {value} is outside {minimum}..{maximum}")
    return value


def _float(name: str, raw: str, problems: list[str], minimum: float, maximum: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        problems.append(f"{name}: expected a number, got {raw!r}")
        return minimum
    if not minimum <= value <= maximum:
        problems.append(f"{name}: {value} is outside {minimum}..{maximum}")
    return value


@dataclass(frozen=True)
class Settings:
    app_id: str
    kafka_bootstrap: str
    fineract_topic: str
    fineract_topic_partitions: int
    events_topic: str
    dead_letter_topic: str
    operational_topic: str
    kafka_session_timeout: float
    upgrade_backlog: str
    topic_partitions: int
    table_store: str
    avro_schema_dir: Path
    database_url: str
    data_dir: str
    web_bind: str
    web_port: int
    action_secret: str
    api_keys: dict[str, str]  # key -> role
    encryption_key: bytes
    ssrf_allowlist: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    webhook_https_only: bool
    webhook_default_timeout: int
    webhook_max_timeout: int
    webhook_retry_schedule: tuple[int, ...]
    delivery_lease_seconds: int
    delivery_concurrency: int
    endpoint_concurrency: int
    endpoint_queue_limit: int
    webhook_disable_after_seconds: int
    max_payload_bytes: int
    history_retention_days: int
    scheduler_interval_seconds: float
    event_loop: str
    log_level: str
    log_format: str

    @property
    def kafka_broker_url(self) -> str:
        return ";".join(f"kafka://{h.strip()}" for h in self.kafka_bootstrap.split(",") if h)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        problems: list[str] = []

        def get(name: str) -> str:
            default, _ = SETTINGS_DOC[name]
            value = env.get(name)
            if value is None or value == "":
                if default is None:
                    problems.append(f"{name} is required: {SETTINGS_DOC[name][1]}")
                    return ""
                return default
            return value

        schema_dir = Path(get("HUB_AVRO_SCHEMA_DIR") or ".")
        if env.get("HUB_AVRO_SCHEMA_DIR") and not (schema_dir / "MessageV1.avsc").is_file():
            problems.append(
                f"HUB_AVRO_SCHEMA_DIR: {schema_dir} has no MessageV1.avsc "
                "(point it at Fineract's fineract-avro-schemas folder)"
            )

        secret = get("HUB_ACTION_SECRET")
        if secret and len(secret) < 16:
            problems.append("HUB_ACTION_SECRET must be at least 16 characters")

        api_keys: dict[str, str] = {}
        for item in filter(None, (p.strip() for p in get("HUB_API_KEYS").split(","))):
            role, sep, key = item.partition(":")
            if not sep or role not in _ROLES or len(key) < 16:
                problems.append(
                    f"HUB_API_KEYS: entry {len(api_keys) + 1} must be 'role:key' with role in "
                    f"{_ROLES} and a key of at least 16 characters (value not shown: it may be "
                    "a key)"
                )
                continue
            api_keys[key] = role

        encryption_key = b""
        raw_key = get("HUB_ENCRYPTION_KEY")
        if raw_key:
            try:
                encryption_key = base64.b64decode(raw_key, validate=True)
            except ValueError:
                problems.append("HUB_ENCRYPTION_KEY is not valid base64")
            else:
                if len(encryption_key) != 32:
                    problems.append(
                        f"HUB_ENCRYPTION_KEY must decode to 32 bytes, got {len(encryption_key)}"
                    )

        allowlist: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for cidr in filter(None, (c.strip() for c in get("HUB_SSRF_ALLOWLIST").split(","))):
            try:
                allowlist.append(ipaddress.ip_network(cidr, strict=False))
            except ValueError:
                problems.append(f"HUB_SSRF_ALLOWLIST: {cidr!r} is not a CIDR")

        schedule: list[int] = []
        for part in get("HUB_WEBHOOK_RETRY_SCHEDULE").split(","):
            try:
                delay = int(part)
            except ValueError:
                problems.append(f"HUB_WEBHOOK_RETRY_SCHEDULE: {part!r} is not whole seconds")
                continue
            if delay < 1:
                problems.append("HUB_WEBHOOK_RETRY_SCHEDULE: delays must be >= 1 s")
            schedule.append(delay)

        max_timeout = _int(
            "HUB_WEBHOOK_MAX_TIMEOUT", get("HUB_WEBHOOK_MAX_TIMEOUT"), problems, 1, 300
        )
        default_timeout = _int(
            "HUB_WEBHOOK_DEFAULT_TIMEOUT", get("HUB_WEBHOOK_DEFAULT_TIMEOUT"), problems, 1, 300
        )
        lease = _int(
            "HUB_DELIVERY_LEASE_SECONDS", get("HUB_DELIVERY_LEASE_SECONDS"), problems, 1, 86400
        )
        if default_timeout > max_timeout:
            problems.append("HUB_WEBHOOK_DEFAULT_TIMEOUT must not exceed HUB_WEBHOOK_MAX_TIMEOUT")
        if lease <= max_timeout + 5:
            # Svix PR #2315: a lease shorter than the HTTP timeout means a second worker re-sends
            # while the first is still waiting: double delivery by configuration.
            problems.append(
                f"HUB_DELIVERY_LEASE_SECONDS ({lease}) must exceed HUB_WEBHOOK_MAX_TIMEOUT "
                f"({max_timeout}) by more than 5 s, or in-flight attempts get delivered twice"
            )

        upgrade_backlog = get("HUB_UPGRADE_BACKLOG")
        if upgrade_backlog not in {"read", "skip"}:
            problems.append("HUB_UPGRADE_BACKLOG must be 'read' or 'skip'")
        event_loop = get("HUB_EVENT_LOOP")
        if event_loop not in {"uvloop", "asyncio"}:
            problems.append("HUB_EVENT_LOOP must be 'uvloop' or 'asyncio'")
        log_format = get("HUB_LOG_FORMAT")
        if log_format not in {"json", "text"}:
            problems.append("HUB_LOG_FORMAT must be 'json' or 'text'")
        log_level = get("HUB_LOG_LEVEL").upper()
        if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            problems.append("HUB_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")

        store = get("HUB_TABLE_STORE")
        if not store.startswith(("memory://", "rocksdb://")):
            problems.append("HUB_TABLE_STORE must be memory:// or rocksdb://")

        settings = cls(
            app_id=get("HUB_APP_ID"),
            kafka_bootstrap=get("HUB_KAFKA_BOOTSTRAP"),
            fineract_topic=get("HUB_FINERACT_TOPIC"),
            fineract_topic_partitions=_int(
                "HUB_FINERACT_TOPIC_PARTITIONS",
                get("HUB_FINERACT_TOPIC_PARTITIONS"),
                problems,
                1,
                1024,
            ),
            events_topic=get("HUB_EVENTS_TOPIC"),
            dead_letter_topic=get("HUB_DEAD_LETTER_TOPIC"),
            operational_topic=get("HUB_OPERATIONAL_TOPIC"),
            kafka_session_timeout=_float(
                "HUB_KAFKA_SESSION_TIMEOUT_SECONDS", get("HUB_KAFKA_SESSION_TIMEOUT_SECONDS"),
                problems, 6, 300
            ),
            upgrade_backlog=upgrade_backlog,
            topic_partitions=_int(
                "HUB_TOPIC_PARTITIONS", get("HUB_TOPIC_PARTITIONS"), problems, 1, 1024
            ),
            table_store=store,
            avro_schema_dir=schema_dir,
            database_url=get("HUB_DATABASE_URL"),
            data_dir=get("HUB_DATA_DIR"),
            web_bind=get("HUB_WEB_BIND"),
            web_port=_int("HUB_WEB_PORT", get("HUB_WEB_PORT"), problems, 1, 65535),
            action_secret=secret,
            api_keys=api_keys,
            encryption_key=encryption_key,
            ssrf_allowlist=tuple(allowlist),
            webhook_https_only=_bool(
                "HUB_WEBHOOK_HTTPS_ONLY", get("HUB_WEBHOOK_HTTPS_ONLY"), problems
            ),
            webhook_default_timeout=default_timeout,
            webhook_max_timeout=max_timeout,
            webhook_retry_schedule=tuple(schedule),
            delivery_lease_seconds=lease,
            delivery_concurrency=_int(
                "HUB_DELIVERY_CONCURRENCY", get("HUB_DELIVERY_CONCURRENCY"), problems, 1, 10000
            ),
            endpoint_concurrency=_int(
                "HUB_ENDPOINT_CONCURRENCY", get("HUB_ENDPOINT_CONCURRENCY"), problems, 1, 10000
            ),
            endpoint_queue_limit=_int(
                "HUB_ENDPOINT_QUEUE_LIMIT", get("HUB_ENDPOINT_QUEUE_LIMIT"), problems, 1, 10**6
            ),
            webhook_disable_after_seconds=_int(
                "HUB_WEBHOOK_DISABLE_AFTER_SECONDS",
                get("HUB_WEBHOOK_DISABLE_AFTER_SECONDS"),
                problems,
                1,
                10**8,
            ),
            max_payload_bytes=_int(
                "HUB_MAX_PAYLOAD_BYTES", get("HUB_MAX_PAYLOAD_BYTES"), problems, 1024, 10 * 2**20
            ),
            history_retention_days=_int(
                "HUB_HISTORY_RETENTION_DAYS", get("HUB_HISTORY_RETENTION_DAYS"), problems, 1, 3650
            ),
            scheduler_interval_seconds=_float(
                "HUB_SCHEDULER_INTERVAL_SECONDS",
                get("HUB_SCHEDULER_INTERVAL_SECONDS"),
                problems,
                0.05,
                60,
            ),
            event_loop=event_loop,
            log_level=log_level,
            log_format=log_format,
        )
        for name in sorted(k for k in env if k.startswith("HUB_") and k not in SETTINGS_DOC):
            if name in NOT_SETTINGS:
                continue
            close = difflib.get_close_matches(name, SETTINGS_DOC, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"{name} is not a setting of this service{hint}")
        if problems:
            raise ConfigError(problems)
        return settings
