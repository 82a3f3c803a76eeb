"""Prometheus metrics in a registry of our own, so several apps in one process don't clash."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self._attempt_children: dict[str, Counter] = {}
        self.registry = CollectorRegistry()
        r = self.registry
        self.ingested = Counter(
            "hub_events_ingested_total",
            "Fineract events turned into canonical events",
            ["type"],
            registry=r,
        )
        self.dead_letters = Counter(
            "hub_dead_letters_total", "Input sent to the dead-letter topic", ["reason"], registry=r
        )
        self.unmatched = Counter(
            "hub_events_unmatched_total",
            "Canonical events no active webhook subscribed to",
            registry=r,
        )
        self.deliveries_created = Counter(
            "hub_webhook_deliveries_created_total", "Deliveries created by fan-out", registry=r
        )
        self.duplicates = Counter(
            "hub_webhook_duplicate_events_total",
            "Deliveries skipped because the same event was already delivered",
            registry=r,
        )
        self.attempts = Counter(
            "hub_webhook_attempts_total", "Delivery attempts by outcome", ["status"], registry=r
        )
        self.latency = Histogram(
            "hub_webhook_attempt_seconds",
            "Duration of delivery attempts",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.retries = Counter(
            "hub_webhook_retries_scheduled_total",
            "Attempts that failed and were scheduled again",
            registry=r,
        )
        self.exhausted = Counter(
            "hub_webhook_deliveries_exhausted_total",
            "Deliveries that ran out of retries (dead letters)",
            registry=r,
        )
        self.disabled = Counter(
            "hub_webhook_endpoints_disabled_total",
            "Endpoints disabled automatically",
            ["reason"],
            registry=r,
        )
        self.lease_expired_unsent = Counter(
            "hub_webhook_lease_expired_unsent_total",
            "Deliveries that waited in memory past their lease and were left to the scheduler",
            registry=r,
        )
        self.backlog = Gauge(
            "hub_webhook_backlog", "Deliveries not yet in a terminal state", registry=r
        )
        self.in_flight = Gauge(
            "hub_webhook_in_flight", "Attempts running in this worker", registry=r
        )

    def observe_attempt(self, webhook_id: str, status: str, elapsed_ms: int) -> None:
        child = self._attempt_children.get(status)
        if child is None:
            child = self._attempt_children[status] = self.attempts.labels(status=status)
        child.inc()
        self.latency.observe(elapsed_ms / 1000)
        if status == "retrying":
            self.retries.inc()
        elif status == "exhausted":
            self.exhausted.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
