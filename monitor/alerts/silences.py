"""Pure: silences — "don't notify about alerts matching these labels until then, because …".

A silence must state why and must end: `ends_at` is required and at most `MAX_DURATION` after it
starts, so nothing is muted and forgotten. Silenced notifications are kept in the outbox marked
`silenced` with the silence's id (counted, never sent); creating and expiring silences is written
to the audit log by the store layer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.alerts.matchers import Matcher, matches_all, parse_matchers

MAX_DURATION = timedelta(days=30)
MIN_REASON = 10


class SilenceError(ValueError):
    """A silence that cannot be created; the message says why."""


@dataclass(frozen=True)
class Silence:
    id: int
    matchers: tuple[Matcher, ...]
    reason: str
    created_by: str
    starts_at: datetime
    ends_at: datetime
    expired_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        end = self.ends_at if self.expired_at is None else min(self.ends_at, self.expired_at)
        return self.starts_at <= now < end

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.active(now) and matches_all(self.matchers, labels)


def validate(
    matchers: Sequence[str],
    reason: str,
    created_by: str,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
) -> tuple[Matcher, ...]:
    """Check a new silence; returns its parsed matchers or raises SilenceError."""
    if not matchers:
        raise SilenceError("a silence needs at least one matcher (e.g. area=Manningham)")
    parsed = parse_matchers(matchers)
    if all(m.op in ("=~", "!~") and m.value in (".*", ".+") for m in parsed):
        raise SilenceError("a silence must not match every alert")
    if len(reason.strip()) < MIN_REASON:
        raise SilenceError(f"state the reason for the silence (at least {MIN_REASON} characters)")
    if not created_by.strip():
        raise SilenceError("say who is creating the silence")
    if ends_at <= starts_at:
        raise SilenceError("a silence must end after it starts")
    if ends_at <= now:
        raise SilenceError("a silence must end in the future")
    if ends_at - starts_at > MAX_DURATION:
        raise SilenceError(
            f"a silence may last at most {MAX_DURATION.days} days; make a new one when it ends"
        )
    return parsed


def silenced_by(
    labels: Mapping[str, str], silences: Iterable[Silence], now: datetime
) -> Silence | None:
    for silence in silences:
        if silence.mutes(labels, now):
            return silence
    return None
