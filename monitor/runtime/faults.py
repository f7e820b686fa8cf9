"""Telling a blip from a bad record, and finding the bad record in a batch.

A store that is briefly away (PostgreSQL restarting, a SQLite file made read-only, a dropped
connection) is *transient*: the same work will succeed later, so it is retried with backoff and
never dropped. Anything else that fails a batch is taken to be about the data: the batch is
split until the records that fail on their own are found, and those are quarantined while the
rest goes on (`isolate`). Which errors are transient is decided in monitor.store.faults.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from monitor.store import faults as store_faults
from monitor.store.faults import chain

# The classification itself lives in monitor.store.faults, below monitor.alerts and
# monitor.safeguards (which may not import the runtime), so that every loop that retries tells
# an outage from a bug the same way; re-exported for the runtime's callers.
from monitor.store.faults import is_transient as is_transient

T = TypeVar("T")
R = TypeVar("R")


def describe(exc: BaseException, limit: int = 500) -> str:
    """One line for logs and the quarantine: the innermost cause's type and message."""
    return store_faults.describe(exc, limit, wrappers=(StageFailed,))


class ConnectionLost(ConnectionError):
    """The store's connection was lost during a batch, though the error that surfaced was a
    follow-on one (a stage contained the disconnect): transient, as a ConnectionError."""


class StageFailed(Exception):
    """Which step of processing failed (classify, rules, store, or a stage's name)."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"{stage}: {describe(cause)}")
        self.stage = stage
        self.__cause__ = cause


def stage_of(exc: BaseException, default: str) -> str:
    for e in chain(exc):
        if isinstance(e, StageFailed):
            return e.stage
    return default


@dataclass
class Isolated(Generic[T, R]):
    """What `isolate` found: results of the parts that succeeded, and each record that fails
    on its own with its error."""

    results: list[R]
    bad: list[tuple[T, BaseException]]


async def isolate(
    items: Sequence[T],
    attempt: Callable[[Sequence[T]], Awaitable[R]],
    *,
    first_error: BaseException | None = None,
) -> Isolated[T, R]:
    """Run `attempt` over `items`, splitting in halves on failure until each failing record is
    alone. A transient error is raised at once (the caller backs off and retries everything):
    a store that is away must not be mistaken for a batch of bad records. `first_error`: the
    caller already tried the whole batch and it failed with this."""
    out: Isolated[T, R] = Isolated([], [])

    async def go(part: Sequence[T], known: BaseException | None) -> None:
        if not part:
            return
        error = known
        if error is None:
            try:
                out.results.append(await attempt(part))
                return
            except Exception as exc:
                if is_transient(exc):
                    raise
                error = exc
        if len(part) == 1:
            out.bad.append((part[0], error))
            return
        mid = len(part) // 2
        await go(part[:mid], None)
        await go(part[mid:], None)

    await go(items, first_error)
    return out


def backoff(
    attempt: int, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None
) -> float:
    """Exponential backoff with full jitter: 0.5 s, 1 s, 2 s ... up to `cap`."""
    ceiling = min(cap, base * (2 ** min(attempt, 20)))
    return (rng or random).uniform(ceiling / 2, ceiling)


async def sleep_backoff(attempt: int, cap: float = 30.0) -> None:
    await asyncio.sleep(backoff(attempt, cap=cap))
