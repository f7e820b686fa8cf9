"""Telling a blip from a bad record, and finding the bad record in a batch.

A store that is briefly away (PostgreSQL restarting, a SQLite file made read-only, a dropped
connection) is *transient*: the same work will succeed later, so it is retried with backoff and
never dropped. Anything else that fails a batch is taken to be about the data: the batch is
split until the records that fail on their own are found, and those are quarantined while the
rest goes on (`isolate`).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import sqlalchemy.exc

T = TypeVar("T")
R = TypeVar("R")

# Messages of driver errors that mean "the server or file is not available now", whatever
# class the driver gave them.
_TRANSIENT_TEXT = (
    "readonly database",  # SQLite: the file (or its folder) became read-only
    "read-only",
    "database is locked",
    "disk i/o error",
    "connection",  # refused, reset, closed, does not exist
    "terminating connection",  # PostgreSQL: administrator shutdown
    "the database system is",  # ... starting up / shutting down / in recovery mode
    "server closed",
    "timeout",
    "timed out",
    "too many clients",
)


_REDIS_TRANSIENT = frozenset(
    {
        "ConnectionError",
        "TimeoutError",
        "BusyLoadingError",
        "ReadOnlyError",
        "MasterDownError",
        "TryAgainError",
    }
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend([e.__cause__, e.__context__, getattr(e, "orig", None)])


def is_transient(exc: BaseException) -> bool:
    """True when `exc` says the store (or the network to it) is unavailable rather than that
    the data is bad: the work should be retried as it is, later."""
    for e in _chain(exc):
        if isinstance(e, sqlalchemy.exc.DBAPIError) and e.connection_invalidated:
            return True
        if isinstance(
            e,
            sqlalchemy.exc.OperationalError
            | sqlalchemy.exc.InterfaceError
            | sqlalchemy.exc.DisconnectionError
            | sqlalchemy.exc.TimeoutError
            | ConnectionError
            | TimeoutError
            | OSError,
        ):
            return True
        if isinstance(e, sqlalchemy.exc.DataError | sqlalchemy.exc.IntegrityError):
            return False
        name = type(e).__name__
        if name in {
            "ConnectionDoesNotExistError",
            "CannotConnectNowError",
            "AdminShutdownError",
            "ConnectionFailureError",
            "TooManyConnectionsError",
            "PostgresConnectionError",
            # The server refuses writes or work for now, not this record: a standby after a
            # failover, a full disk, a deadlock or serialisation conflict, a statement timeout.
            "ReadOnlySQLTransactionError",
            "DiskFullError",
            "InsufficientResourcesError",
            "OutOfMemoryError",
            "DeadlockDetectedError",
            "SerializationError",
            "LockNotAvailableError",
            "QueryCanceledError",
        }:
            return True
        # The work queue scaled out (a Redis stream) away, still loading its data after a
        # restart, or failing over: retried as the store is. redis-py's errors are not the
        # builtin ones; named exactly, so that a refused password is not retried for ever.
        if type(e).__module__.startswith("redis.") and name in _REDIS_TRANSIENT:
            return True
    # SQLite's own errors name the condition and never quote values (a driver error about a
    # value may: post text saying "timeout" must not make a bad record look like an outage).
    return any(
        any(t in str(e).lower() for t in _TRANSIENT_TEXT)
        for e in _chain(exc)
        if type(e).__module__ == "sqlite3"
        and type(e).__name__ in {"OperationalError", "DatabaseError"}
    )


def describe(exc: BaseException, limit: int = 500) -> str:
    """One line for logs and the quarantine: the innermost cause's type and message."""
    inner = exc
    for e in _chain(exc):
        if not isinstance(e, sqlalchemy.exc.SQLAlchemyError | StageFailed):
            inner = e
            break
    text = (
        f"{type(inner).__name__}: {inner}".splitlines()[0] if str(inner) else type(inner).__name__
    )
    return text[:limit]


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
    for e in _chain(exc):
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
