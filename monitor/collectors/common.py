"""What every collector shares: an injectable clock, backoff with jitter, error kinds, HTTP headers.

Collectors take a `Clock` so that schedules, backoff and rate-limit waits are tested without
sleeping, and every failure is sorted into one of a few kinds (`SourceConfigError`: stop and
tell a person; `AuthFailure`: count towards "looks blocked"; `RateLimited`: wait as told;
anything else: back off and retry).
"""

from __future__ import annotations

import asyncio
import email.utils
import random
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from monitor import __version__

DEFAULT_USER_AGENT = f"community-tension-monitor/{__version__} (public-interest monitoring)"
# How far a platform's clock may run ahead of ours before a post's time is taken to be broken
# rather than two clocks apart (Jetstream's createdAt, Reddit's created_utc).
CLOCK_SKEW_SECONDS = 300.0


class Clock(Protocol):
    """Wall time and waiting, injected so tests control both."""

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class SourceConfigError(Exception):
    """The source cannot work as configured (bad parameters, no credentials): no retrying.

    `status` is the HTTP status when a response said so (404: gone or never there).
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthFailure(Exception):
    """The platform refused us (401/403). Repeated, it means the source looks blocked."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(Exception):
    """The platform asked us to wait (429 or an exhausted rate-limit budget)."""

    def __init__(self, wait_seconds: float, message: str = "rate limited") -> None:
        super().__init__(message)
        self.wait_seconds = wait_seconds


class TransientError(Exception):
    """A failure worth retrying after a backoff: 5xx, timeouts, dropped connections."""


class MalformedPayload(ValueError):
    """A frame or response body that does not have the platform's shape; skipped and counted."""


class Backoff:
    """Exponential backoff with jitter: base·2ⁿ capped, each delay drawn from [½, 1] of that.

    Half-to-full jitter (rather than full jitter from zero) keeps a floor, so a source that
    fails instantly never hammers the platform, while clients that failed together still spread.
    """

    def __init__(
        self, base: float = 1.0, cap: float = 60.0, rng: random.Random | None = None
    ) -> None:
        if base <= 0 or cap < base:
            raise ValueError("backoff needs 0 < base <= cap")
        self.base = base
        self.cap = cap
        self.attempt = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        ceiling = min(self.cap, self.base * (2**self.attempt))
        self.attempt = min(self.attempt + 1, 32)
        return float(ceiling * self._rng.uniform(0.5, 1.0))

    def reset(self) -> None:
        self.attempt = 0


class RecentSet:
    """A bounded set that forgets its oldest members: recent ids, tombstones, seen uris."""

    def __init__(self, capacity: int) -> None:
        self._items: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def add(self, key: str) -> None:
        self._items[key] = None
        self._items.move_to_end(key)
        if len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def discard(self, key: str) -> None:
        self._items.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def parse_reset_time(value: str | None, now: datetime) -> float | None:
    """Seconds until a rate-limit reset given as an ISO time (Mastodon) or epoch seconds."""
    if not value:
        return None
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - now).total_seconds())
    # Epoch seconds are large; anything smaller is already "seconds from now".
    if number > 1e9:
        return max(0.0, number - now.timestamp())
    return max(0.0, number)


@dataclass(frozen=True, slots=True)
class HttpStatus:
    """The parts of a response the error classification needs."""

    status: int
    headers: Mapping[str, str]
    body_hint: str = ""


def classify_status(response: HttpStatus, now: datetime, what: str) -> None:
    """Raise the right error kind for a non-success response; return for 2xx and 304."""
    status = response.status
    if 200 <= status < 300 or status == 304:
        return
    hint = f": {response.body_hint}" if response.body_hint else ""
    if status == 429:
        wait = parse_retry_after(response.headers.get("Retry-After"), now)
        if wait is None:
            wait = parse_reset_time(
                response.headers.get("X-RateLimit-Reset")
                or response.headers.get("X-Ratelimit-Reset"),
                now,
            )
        raise RateLimited(60.0 if wait is None else wait, f"{what}: HTTP 429 Too Many Requests")
    if status in (401, 403):
        raise AuthFailure(status, f"{what}: HTTP {status}{hint}")
    if status >= 500 or status in (408, 425):
        raise TransientError(f"{what}: HTTP {status}{hint}")
    raise SourceConfigError(f"{what}: HTTP {status}{hint}", status)


def body_hint(text: str, limit: int = 120) -> str:
    """A short, single-line excerpt of an error body for logs (never a post's text)."""
    flat = " ".join(text.split())
    return flat[:limit]


def describe_error(exc: BaseException) -> str:
    """An exception as a person reads it in `monitor sources check`: its message (aiohttp's
    names the host and the reason), else its type (a bare TimeoutError has none). Its repr
    put aiohttp's whole ConnectionKey(...) on the line instead."""
    return " ".join(str(exc).split()) or type(exc).__name__


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of trying a source once (`monitor sources check`)."""

    ok: bool
    detail: str
    needs_token: bool = False
