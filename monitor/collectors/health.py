"""Per-source health: is each source working, how far behind is it, is it being refused?

Several platforms changed their access rules without notice in 2025–26, so a source going quiet
or being refused must be visible to a person: `/metrics`, the overview page and `monitor sources`
all read these records. Metrics go to a `CollectorRegistry` passed in (never the global one), so
tests and several services in one process stay apart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

log = logging.getLogger(__name__)

BLOCKED_AFTER = 3
"""Consecutive 401/403 answers after which a source "looks blocked"."""


class CollectorMetrics:
    """The Prometheus series for every source, labelled by source name."""

    def __init__(self, registry: CollectorRegistry) -> None:
        label = ["source"]
        self.last_success = Gauge(
            "monitor_source_last_success_timestamp_seconds",
            "Unix time of the source's last successful fetch or received event.",
            label,
            registry=registry,
        )
        self.lag = Gauge(
            "monitor_source_lag_seconds",
            "How far behind the platform the source is (now minus newest event time).",
            label,
            registry=registry,
        )
        self.errors = Counter(
            "monitor_source_errors_total",
            "Failed fetches or connections, by kind (network, auth, config, sink, stall).",
            ["source", "kind"],
            registry=registry,
        )
        self.malformed = Counter(
            "monitor_source_malformed_total",
            "Frames or payloads skipped because they did not have the platform's shape.",
            label,
            registry=registry,
        )
        self.rate_limit_waits = Counter(
            "monitor_source_rate_limit_waits_total",
            "Times the source waited because the platform's rate limit asked it to.",
            label,
            registry=registry,
        )
        self.looks_blocked = Gauge(
            "monitor_source_looks_blocked",
            "1 when the source has been refused (401/403) several times in a row.",
            label,
            registry=registry,
        )
        self.posts = Counter(
            "monitor_source_posts_total",
            "Posts delivered to the store after filtering.",
            label,
            registry=registry,
        )
        self.deletions = Counter(
            "monitor_source_deletions_total",
            "Deletions (posts and accounts) the platform reported and the store applied.",
            label,
            registry=registry,
        )
        self.reconnects = Counter(
            "monitor_source_reconnects_total",
            "Times a streaming source reconnected.",
            label,
            registry=registry,
        )


@dataclass
class SourceHealth:
    """One source's running record. Mutated only by its collector, read by anyone."""

    name: str
    kind: str
    metrics: CollectorMetrics | None = field(default=None, repr=False)
    state: str = "starting"  # starting | ok | backoff | rate_limited | blocked | failed | stopped
    last_success: datetime | None = None
    last_event_at: datetime | None = None
    lag_seconds: float | None = None
    error_count: int = 0
    malformed_count: int = 0
    rate_limit_waits: int = 0
    consecutive_auth_failures: int = 0
    reconnects: int = 0
    stalls: int = 0
    gaps: int = 0
    posts_delivered: int = 0
    deletions: int = 0
    last_error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def looks_blocked(self) -> bool:
        return self.consecutive_auth_failures >= BLOCKED_AFTER

    def success(self, now: datetime) -> None:
        self.last_success = now
        self.consecutive_auth_failures = 0
        if self.state != "stopped":
            self.state = "ok"
        if self.metrics:
            self.metrics.last_success.labels(self.name).set(now.timestamp())
            self.metrics.looks_blocked.labels(self.name).set(0)

    def observe_event(self, event_time: datetime, now: datetime) -> None:
        self.last_event_at = event_time
        self.lag_seconds = max(0.0, (now - event_time).total_seconds())
        if self.metrics:
            self.metrics.lag.labels(self.name).set(self.lag_seconds)

    def error(self, kind: str, message: str) -> None:
        self.error_count += 1
        self.last_error = message
        if self.state not in ("failed", "stopped"):
            self.state = "backoff"
        if self.metrics:
            self.metrics.errors.labels(self.name, kind).inc()

    def auth_failure(self, message: str) -> None:
        self.consecutive_auth_failures += 1
        self.error("auth", message)
        if self.looks_blocked:
            self.state = "blocked"
            if self.metrics:
                self.metrics.looks_blocked.labels(self.name).set(1)
            log.error(
                "source %s looks blocked: %d refusals in a row (%s)",
                self.name,
                self.consecutive_auth_failures,
                message,
            )

    def failed(self, message: str) -> None:
        self.error("config", message)
        self.state = "failed"

    def rate_limited(self) -> None:
        self.rate_limit_waits += 1
        self.state = "rate_limited"
        if self.metrics:
            self.metrics.rate_limit_waits.labels(self.name).inc()

    def malformed(self) -> None:
        self.malformed_count += 1
        if self.metrics:
            self.metrics.malformed.labels(self.name).inc()

    def delivered(self, count: int) -> None:
        self.posts_delivered += count
        if self.metrics and count:
            self.metrics.posts.labels(self.name).inc(count)

    def deleted(self, count: int) -> None:
        self.deletions += count
        if self.metrics and count:
            self.metrics.deletions.labels(self.name).inc(count)

    def reconnected(self) -> None:
        self.reconnects += 1
        if self.metrics:
            self.metrics.reconnects.labels(self.name).inc()

    def note(self, message: str) -> None:
        """Something a person should read once (a feed needing a token, a skipped timeline)."""
        if message not in self.notes:
            self.notes.append(message)
            log.warning("source %s: %s", self.name, message)

    def snapshot(self) -> dict[str, Any]:
        """A plain record for the overview page, the JSON API and `monitor sources`."""
        return {
            "name": self.name,
            "kind": self.kind,
            "state": self.state,
            "looks_blocked": self.looks_blocked,
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "last_event_at": self.last_event_at.isoformat() if self.last_event_at else None,
            "lag_seconds": self.lag_seconds,
            "error_count": self.error_count,
            "malformed_count": self.malformed_count,
            "rate_limit_waits": self.rate_limit_waits,
            "consecutive_auth_failures": self.consecutive_auth_failures,
            "reconnects": self.reconnects,
            "stalls": self.stalls,
            "gaps": self.gaps,
            "posts_delivered": self.posts_delivered,
            "deletions": self.deletions,
            "last_error": self.last_error,
            "notes": list(self.notes),
        }
