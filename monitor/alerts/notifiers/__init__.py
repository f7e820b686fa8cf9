"""Notifiers: one module per channel behind one protocol. `send` returns an `Outcome` that says
whether the message went, or failed in a way worth retrying (timeouts, 429, 5xx, SMTP 4xx), or
failed for good (SMTP 5xx, HTTP 4xx other than 408/429). The outbox decides what to do next."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from monitor.alerts.render import Message


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    retryable: bool = False
    error: str = ""
    retry_after: float | None = None  # seconds the receiver asked us to wait (429)

    @classmethod
    def sent(cls) -> Outcome:
        return cls(ok=True)

    @classmethod
    def retry(cls, error: str, after: float | None = None) -> Outcome:
        return cls(ok=False, retryable=True, error=error, retry_after=after)

    @classmethod
    def fatal(cls, error: str) -> Outcome:
        return cls(ok=False, retryable=False, error=error)


class Notifier(Protocol):
    channel: str

    async def send(
        self, message: Message, recipient: str, idempotency_key: str, now: datetime
    ) -> Outcome: ...


def http_outcome(status: int, headers: Mapping[str, str], body: str) -> Outcome:
    """How an HTTP answer maps to an outcome, the same for Teams, Slack and webhooks."""
    if 200 <= status < 300:
        return Outcome.sent()
    detail = f"HTTP {status}: {body[:200]}".strip()
    if status == 429 or status == 503:
        return Outcome.retry(detail, parse_retry_after(headers.get("Retry-After")))
    if status == 408 or status >= 500:
        return Outcome.retry(detail)
    return Outcome.fatal(detail)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form; HTTP dates are rare here)."""
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def timeout_seconds(values: Mapping[str, Any], default: float = 10.0) -> float:
    value = values.get("timeout")
    return value.total_seconds() if value is not None else default
