"""Sign-in throttling: growing delays after failed sign-ins, never a lockout an outsider can cause.

Three counts are kept, each its own key:

- the user name *and* client address together: guessing one account's password from one place.
  After `free` failures each further try must wait twice as long as the last (1 s, 2 s, 4 s,
  ... up to 15 minutes).
- the client address: trying many names from one place (password spraying). A council's proxy
  or NAT is one address for a whole office, so it gets four times the free tries.
- the user name alone: guessing one account from many addresses. Its delay is capped at
  `NAME_CAP` (30 s): a stranger who fails on purpose against a colleague's name can make them
  wait half a minute, not lock them out, while a distributed guesser gets two tries a minute,
  against a password the common-password check already made hard to guess.

A right password clears the pair's and the name's counts (the address keeps its own). Counts
live in the store (`login_throttle`), so every web process sees the same ones, and are
forgotten `window` after the last failure. Keys are SHA-256 digests: the table holds no
names or addresses.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.store.db import dialect_insert
from monitor.store.tables import login_throttle

MAX_DELAY = timedelta(minutes=15)
NAME_CAP = timedelta(seconds=30)
ADDRESS_FACTOR = 4
NAME_FACTOR = 2


@dataclass(frozen=True, slots=True)
class Key:
    """One count: its digest, free failures before delays start, and the longest delay."""

    digest: str
    free: int
    cap: timedelta


def delay(failures: int, free: int, cap: timedelta) -> timedelta:
    """How long after the latest failure the next try must wait: none for the first `free`
    failures, then 1 s doubling with each further failure, up to `cap`."""
    if failures < free:
        return timedelta(0)
    doublings = min(failures - free, 30)  # 2^30 s is far past any cap
    return min(cap, timedelta(seconds=2**doublings))


@dataclass(frozen=True)
class LoginLimiter:
    free_failures: int = 5
    window_seconds: float = 900.0

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.window_seconds)

    def keys(self, username: str, address: str) -> tuple[Key, ...]:
        return (
            Key(_digest("pair", f"{username}\x00{address}"), self.free_failures, MAX_DELAY),
            Key(_digest("addr", address), self.free_failures * ADDRESS_FACTOR, MAX_DELAY),
            Key(_digest("user", username), self.free_failures * NAME_FACTOR, NAME_CAP),
        )

    async def retry_after(
        self, conn: AsyncConnection, keys: tuple[Key, ...], now: datetime
    ) -> float:
        """Seconds before another try with these keys is allowed; 0 when it is."""
        rows = {
            r.key: r
            for r in await conn.execute(
                select(login_throttle).where(login_throttle.c.key.in_([k.digest for k in keys]))
            )
        }
        wait = timedelta(0)
        for key in keys:
            row = rows.get(key.digest)
            if row is None or now - row.last_failure_at >= self.window:
                continue
            until = row.last_failure_at + delay(row.failures, key.free, key.cap)
            wait = max(wait, until - now)
        return wait.total_seconds()

    async def failed(self, conn: AsyncConnection, keys: tuple[Key, ...], now: datetime) -> None:
        """Count a failure against each key (atomic: several processes may count at once)."""
        await conn.execute(
            delete(login_throttle).where(login_throttle.c.last_failure_at < now - self.window)
        )
        for key in keys:
            stmt = dialect_insert(conn, login_throttle).values(
                key=key.digest, failures=1, last_failure_at=now
            )
            stale = login_throttle.c.last_failure_at < now - self.window
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["key"],
                    set_={
                        "failures": case((stale, 1), else_=login_throttle.c.failures + 1),
                        "last_failure_at": now,
                    },
                )
            )

    async def succeeded(self, conn: AsyncConnection, keys: tuple[Key, ...]) -> None:
        """A right password clears the pair's and the name's counts, not the address's."""
        await conn.execute(
            delete(login_throttle).where(login_throttle.c.key.in_([keys[0].digest, keys[2].digest]))
        )


def _digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\x00{value}".encode("utf-8", "replace")).hexdigest()
