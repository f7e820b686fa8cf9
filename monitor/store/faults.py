"""Is the store away, or is something wrong? One answer for every loop that retries.

A store that is briefly away (PostgreSQL restarting, a SQLite file made read-only, a dropped
connection) is *transient*: the same work will succeed later, so a loop retries it and says so
in one line. Anything else is a bug or bad data, and keeps its traceback.

Here, below every layer that touches the store, so that the pipeline and leadership
(monitor.runtime) and the alert dispatcher and periodic jobs (monitor.alerts,
monitor.safeguards), which may not import the runtime, classify a failure the same way.
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy.exc


def chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every exception behind it: causes, contexts and a driver's `orig`."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend([e.__cause__, e.__context__, getattr(e, "orig", None)])


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


def is_transient(exc: BaseException) -> bool:
    """True when `exc` says the store (or the network to it) is unavailable rather than that
    the data is bad: the work should be retried as it is, later."""
    for e in chain(exc):
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
        for e in chain(exc)
        if type(e).__module__ == "sqlite3"
        and type(e).__name__ in {"OperationalError", "DatabaseError"}
    )


def describe(
    exc: BaseException, limit: int = 500, *, wrappers: tuple[type[BaseException], ...] = ()
) -> str:
    """One line for logs: the innermost cause's type and message. SQLAlchemy's errors, and any
    `wrappers` (the runtime's StageFailed), only wrap the driver's error, which says what
    happened ("Connect call failed"), so they are looked through."""
    inner = exc
    for e in chain(exc):
        if not isinstance(e, (sqlalchemy.exc.SQLAlchemyError, *wrappers)):
            inner = e
            break
    text = (
        f"{type(inner).__name__}: {inner}".splitlines()[0] if str(inner) else type(inner).__name__
    )
    return text[:limit]
