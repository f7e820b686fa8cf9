"""Sign-in rate limiting: after too many failures for a name or from an address, wait.

Pure and in memory (one process serves the web UI; a restart forgets, which only helps a
locked-out user). Both the user name and the client address are counted, so guessing many
passwords for one name and one password for many names are both slowed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class LoginLimiter:
    max_failures: int = 5
    window_seconds: float = 900.0
    max_keys: int = 10_000  # bound memory under a spray of made-up names
    # An address may be a council's proxy or NAT, shared by a whole office: it gets more
    # tries than a single name, so one person's typos cannot lock everyone out.
    address_factor: int = 4
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def limit(self, key: str) -> int:
        return self.max_failures * (self.address_factor if key.startswith("addr:") else 1)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window_seconds:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, keys: tuple[str, ...], now: float) -> float:
        """Seconds to wait before another attempt for any of `keys` is allowed; 0 if allowed."""
        wait = 0.0
        for key in keys:
            times = self._recent(key, now)
            if len(times) >= self.limit(key):
                wait = max(wait, self.window_seconds - (now - times[0]))
        return wait

    def failed(self, keys: tuple[str, ...], now: float) -> None:
        for key in keys:
            times = self._recent(key, now)
            if not times:
                if len(self._failures) >= self.max_keys:
                    self._failures.pop(next(iter(self._failures)))
                self._failures[key] = times
            times.append(now)

    def succeeded(self, keys: tuple[str, ...]) -> None:
        """A right password clears the name's count (the address keeps its own)."""
        for key in keys:
            if key.startswith("user:"):
                self._failures.pop(key, None)
