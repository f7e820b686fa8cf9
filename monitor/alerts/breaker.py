"""Pure: retry timing and a circuit breaker per receiver integration, with time injected.

Backoff is exponential with "equal jitter" (half fixed, half random), so a hundred messages that
failed together do not all retry in the same second. The breaker stops sending to an integration
after `threshold` failures in a row, for a cool-down that doubles while it keeps failing (up to
`max_open`); then one message is let through to probe it (half-open), and a success closes it.
A 429 or 503 with Retry-After pauses the whole integration for that long without counting as a
failure. Messages are never dropped by the breaker: they wait in the outbox.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta


def backoff(
    attempt: int,
    rng: random.Random,
    base: timedelta = timedelta(seconds=10),
    cap: timedelta = timedelta(hours=1),
) -> timedelta:
    """Delay before retry number `attempt` (1 = after the first failure)."""
    exp = base * (2 ** min(max(attempt - 1, 0), 30))
    full = min(cap, exp)
    half: timedelta = full / 2
    return half + half * rng.random()


@dataclass
class _State:
    failures: int = 0
    open_until: datetime | None = None
    cooldown: timedelta = timedelta(0)
    probing: bool = False


@dataclass
class CircuitBreaker:
    threshold: int = 5
    first_open: timedelta = timedelta(seconds=30)
    max_open: timedelta = timedelta(minutes=10)
    _states: dict[str, _State] = field(default_factory=dict)

    def allows(self, key: str, now: datetime) -> bool:
        """Whether a message may be sent to `key` now; in half-open state, only one."""
        state = self._states.get(key)
        if state is None or state.open_until is None:
            return True
        if now < state.open_until:
            return False
        if state.probing:
            return False
        state.probing = True
        return True

    def blocked(self, now: datetime) -> set[str]:
        """Keys not to claim messages for now (open, or half-open with a probe in flight)."""
        return {
            key
            for key, s in self._states.items()
            if s.open_until is not None and (now < s.open_until or s.probing)
        }

    def success(self, key: str) -> None:
        self._states.pop(key, None)

    def failure(self, key: str, now: datetime) -> None:
        state = self._states.setdefault(key, _State())
        state.failures += 1
        if state.open_until is not None and now < state.open_until:
            return  # messages already in flight when it opened: no reason to open it longer
        was_probe = state.probing
        state.probing = False
        if state.failures >= self.threshold or was_probe:
            state.cooldown = (
                self.first_open
                if state.cooldown == timedelta(0)
                else min(self.max_open, state.cooldown * 2)
            )
            state.open_until = now + state.cooldown

    def pause(self, key: str, until: datetime) -> None:
        """The receiver asked us to wait (Retry-After): hold everything for it until then."""
        state = self._states.setdefault(key, _State())
        state.probing = False
        if state.open_until is None or state.open_until < until:
            state.open_until = until

    def state(self, key: str, now: datetime) -> str:
        s = self._states.get(key)
        if s is None or s.open_until is None:
            return "closed"
        return "open" if now < s.open_until else "half-open"
