"""SQLite connections that no cancellation leaves running: each aiosqlite call, and the open
itself, ends before the cancelled task goes on.

aiosqlite runs a connection's calls one after another in its own thread and answers each
through the event loop (`call_soon_threadsafe`). A task cancelled while a call is in the thread
used to go on at once: the call ran on, holding SQLite's write lock past the stop, and answered
after the loop had closed ("RuntimeError: Event loop is closed" raised in aiosqlite's thread).
Here every call, and the open that starts the thread, is waited for; a cancelled connection is
then rolled back and closed, and its thread has ended, before the cancellation goes on (that
clean-up through `monitor.tasks.run_to_end`: bounded, logged when left). A statement running
then is interrupted (SQLite stops it within milliseconds); a commit, rollback or open is waited
for, its own short length. Never a batch's: the batch ends before its next call, so its
transaction is rolled back whole.

A call waiting for a lock that another connection holds (SQLite's busy timeout) is the one wait
that an interrupt does not end (SQLite 3.40): a stop that came then waited for the wait's end,
30 s. So SQLite waits `BUSY_TRY_S` at a time, and a statement it gave up on with nothing done is
tried again, here, until `BUSY_WAIT_S` have passed in all ("database is locked" after them, as
before); a cancelled call waits for one try at most. A stopping runtime's calls, which are not
cancelled (the alert dispatcher finishing its round), wait `STOP_GRACE_S` at most once the stop
has begun (`stop_waiting_for_locks`)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import sqlite3
import time
import weakref
from collections.abc import Callable
from typing import Any

import aiosqlite
from sqlalchemy import event, exc
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.tasks import run_to_end

# How long the clean-up of a cancelled call (the call's end, the rollback and close) is waited
# for before it is left running, logged (`run_to_end`'s bound, within a stop's).
CLEAN_UP_S = 8.0

# How long SQLite itself waits for a lock held by another connection (the connection's busy
# timeout, `create_engine` sets it) before the call is tried again; and how long a call waits
# in all before it fails with "database is locked" (SQLite's whole wait before, `timeout=30`).
BUSY_TRY_S = 0.25
BUSY_WAIT_S = 30.0

# SQLite's primary result code for a lock another connection holds (its extended codes say
# which: the write lock, a WAL being recovered, a stale snapshot).
_SQLITE_BUSY = 5

# How long, once a stop has begun, a call still waits for another connection's lock.
STOP_GRACE_S = 1.0


class _LockWaits:
    """An engine's waits for locks: each call's own `BUSY_WAIT_S`, and none past `until`
    (a stop's grace; monotonic seconds)."""

    until = math.inf


_WAITS: weakref.WeakKeyDictionary[Engine, _LockWaits] = weakref.WeakKeyDictionary()


def stop_waiting_for_locks(engine: AsyncEngine, grace_s: float = STOP_GRACE_S) -> None:
    """The runtime is stopping: from `grace_s` on, no call of `engine` waits for a lock another
    connection holds any longer ("database is locked"). A process stopping while another holds
    the write lock otherwise waited for it in each of its stop's steps that writes. No effect on
    an engine whose connections `open_connections_safely` does not open (PostgreSQL's)."""
    waits = _WAITS.get(engine.sync_engine)
    if waits is not None:
        waits.until = min(waits.until, time.monotonic() + grace_s)


def open_connections_safely(engine: AsyncEngine) -> None:
    """Open each of `engine`'s aiosqlite connections through `open_connection`, before the
    dialect or any `connect` listener makes a call on it; and never hand out one that a
    cancelled call has closed."""

    waits = _WAITS.setdefault(engine.sync_engine, _LockWaits())
    opener = functools.partial(open_connection, lock_waits=waits)

    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
        # SQLAlchemy's own aiosqlite adapter, given the connection our creator opens (the same
        # hook its `async_creator` uses), with the arguments it would have opened it with.
        return dialect.loaded_dbapi.connect(*cargs, async_creator_fn=opener, **cparams)

    @event.listens_for(engine.sync_engine, "checkout")
    def _usable(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if _closed_by_a_cancelled_call(dbapi_connection.driver_connection):
            # The pool replaces a connection refused here with a fresh one (SQLAlchemy's
            # documented pessimistic disconnect handling).
            raise exc.DisconnectionError("closed when a call on it was cancelled")


async def open_connection(
    *args: Any, lock_waits: _LockWaits | None = None, **kwargs: Any
) -> aiosqlite.Connection:
    """`aiosqlite.connect(*args, **kwargs)`, whose calls are waited for when cancelled, and
    whose waits for a lock end with `lock_waits` (its engine's).

    Cancelled during the open (a stop while the pool grows), aiosqlite's own open gave up at
    once, queued its thread's stop without waiting for it, and the thread answered the open and
    the stop later, after the loop may have closed. Here the open is waited for, the connection
    closed and its thread ended before the cancellation goes on."""
    driver: Any = aiosqlite.connect(*args, **kwargs)  # Any: its private parts are used below
    # As SQLAlchemy's own connect does: a connection left unclosed never keeps the process
    # alive (aiosqlite 0.22 holds its thread; before 0.22 it was one).
    getattr(driver, "_thread", driver).daemon = True
    _finish_calls_when_cancelled(driver, lock_waits or _LockWaits())
    opening = asyncio.ensure_future(_opened(driver))
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        await run_to_end(_close_once_open(driver, opening), give_up_after=CLEAN_UP_S)
        raise


async def _close_once_open(driver: Any, opening: asyncio.Future[Any]) -> None:
    """The clean-up of a cancelled open: the connection, once open, closed (a failed open has
    nothing to close, and its error is the cancelled caller's no more)."""
    await _ended(opening)
    if not opening.cancelled() and opening.exception() is None:
        with contextlib.suppress(Exception):
            await driver.close()


async def _opened(driver: aiosqlite.Connection) -> aiosqlite.Connection:
    return await driver


def _finish_calls_when_cancelled(driver: Any, waits: _LockWaits) -> None:
    """A task cancelled while `driver` runs one of its calls waits for the call to end; then
    the connection is rolled back and closed, both waited for, so that its write lock is free
    and its thread has ended when the cancellation goes on. SQLAlchemy would only drop it, by a
    close it does not wait for (answered from the thread later, after the loop may have closed,
    and holding the lock until then); a close alone leaves the transaction open while a cursor
    lives, hence the rollback first. (The pool's checkout refuses the closed connection.)"""
    execute = driver._execute

    async def _execute(fn: Any, *args: Any, **kwargs: Any) -> Any:
        attempt = _tried_once(driver, fn) if _waits_for_locks(fn) else fn
        give_up_at = time.monotonic() + BUSY_WAIT_S
        while True:
            call = asyncio.ensure_future(execute(attempt, *args, **kwargs))
            try:
                return await asyncio.shield(call)
            except asyncio.CancelledError:
                # A statement is interrupted, not waited for: it can run for any length of
                # time, and a stop that waited for one past its bound returned with the
                # statement still holding the write lock. (`interrupt` is SQLite's way from
                # another thread. A wait for a lock is not ended by it: `BUSY_TRY_S` at most.)
                await run_to_end(
                    _release_after(driver, execute, fn, call, interrupt=_is_statement_work(fn)),
                    give_up_after=CLEAN_UP_S,
                )
                raise
            except _LockBusy as busy:
                # SQLite waited `BUSY_TRY_S` for another connection's lock, and the call did
                # nothing: tried again until `BUSY_WAIT_S` have passed, or a stop's grace. A
                # cancellation meanwhile is the one above, at most one try later.
                if time.monotonic() >= min(give_up_at, waits.until):
                    raise busy.error from None

    driver._execute = _execute


class _LockBusy(Exception):
    """A call that SQLite gave up on because another connection held a lock, having changed
    nothing: it can be tried again as it was. `error` is SQLite's own."""

    def __init__(self, error: sqlite3.OperationalError) -> None:
        super().__init__(str(error))
        self.error = error


def _tried_once(driver: Any, fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn`, run in the connection's thread, raising `_LockBusy` where SQLite waited its whole
    try for a lock and gave up, and no row was changed (the connection's change count the same
    after: an `executemany` stopped part-way is not tried again). A lock SQLite did not wait
    for at all fails at once, as it always did: SQLite does not wait where waiting could
    deadlock (a transaction that already reads and now wants to write), nor for a snapshot that
    has gone stale; trying again there would spin for `BUSY_WAIT_S`."""

    def attempt(*args: Any, **kwargs: Any) -> Any:
        before = driver._conn.total_changes
        started = time.monotonic()
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if (
                exc.sqlite_errorcode & 0xFF == _SQLITE_BUSY
                # SQLite's busy timeout sleeps its whole length before it gives up.
                and time.monotonic() - started >= BUSY_TRY_S * 0.9
                and driver._conn.total_changes == before
            ):
                raise _LockBusy(exc) from None
            raise

    return attempt


# The calls that may wait for another connection's lock: running a statement (its first step
# takes the locks it needs) and a commit (in a rollback journal, not WAL, it takes the file's
# exclusive lock).
_LOCK_WAITS = frozenset(
    ["execute", "executemany", "commit", "_execute_fetchall", "_execute_insert"]
)


def _waits_for_locks(fn: Any) -> bool:
    return getattr(fn, "__name__", None) in _LOCK_WAITS


async def _release_after(
    driver: Any, execute: Any, fn: Any, call: asyncio.Future[Any], *, interrupt: bool
) -> None:
    """The clean-up of a cancelled call: the call ended (its statement interrupted until it
    does, with `interrupt`), then the connection rolled back and closed. Their outcomes are
    the cancelled caller's no more (a failed rollback of a closed connection included)."""
    if interrupt:
        await _interrupted_until_ended(driver, call)
    await _ended(call)
    # A cancelled close ends here: aiosqlite's close, which made the call, stops the thread
    # next. Stopping it here too left that stop queued on a thread that had ended, and the
    # close waiting for its answer for ever (a dispose cancelled once).
    if not _is_close_of(driver, fn):
        with contextlib.suppress(Exception):
            await execute(lambda: driver._conn.rollback())
        with contextlib.suppress(Exception):
            await driver.close()


# How often a cancelled call's statement is interrupted again while the call has not ended.
INTERRUPT_EVERY_S = 0.02


async def _interrupted_until_ended(driver: Any, call: asyncio.Future[Any]) -> None:
    """Interrupt the connection until `call` ends. SQLite's interrupt reaches only statements
    already running: one sent while the call still waited in aiosqlite's queue behind another
    (a loaded machine) was lost, the statement then ran to its end, and the stop returned,
    its clean-up bound spent, with the statement holding the write lock."""
    while not call.done():
        _interrupt(driver)
        await asyncio.wait({call}, timeout=INTERRUPT_EVERY_S)


async def _ended(call: asyncio.Future[Any]) -> None:
    """Wait for `call` to end, without cancelling it if this wait is (the call runs in
    aiosqlite's thread whatever happens here); its outcome is retrieved and dropped."""
    await asyncio.wait({call})
    if not call.cancelled():
        call.exception()


# The calls of sqlite3's connections and cursors (and aiosqlite's helpers around them) that run
# or step a statement.
_STATEMENT_WORK = frozenset(
    ["execute", "executemany", "executescript", "fetchone", "fetchmany", "fetchall"]
    + ["_execute_fetchall", "_execute_insert"]
)


def _is_statement_work(fn: Any) -> bool:
    """Whether `fn` runs or steps a statement, whose work can be interrupted; a commit,
    rollback or close is short and always finishes."""
    return getattr(fn, "__name__", None) in _STATEMENT_WORK


def _interrupt(driver: Any) -> None:
    own = driver._connection
    if own is not None:
        own.interrupt()


def _is_close_of(driver: Any, fn: Any) -> bool:
    """Whether `fn` is aiosqlite's close of the connection itself (not of a cursor)."""
    own = driver._connection
    return own is not None and getattr(fn, "__self__", None) is own and fn.__name__ == "close"


def _closed_by_a_cancelled_call(driver: Any) -> bool:
    """Whether `driver` was closed by a cancelled call (the pool closes its connections only as
    it drops them). A cancellation outside SQLAlchemy's statement handling (SQLAlchemy closes
    each statement's cursor by awaiting aiosqlite directly) closes the connection without
    SQLAlchemy knowing: its rollback of a closed aiosqlite connection is a silent no-op, so the
    connection went back into the pool and the next task to take it failed with "no active
    connection"."""
    return driver._connection is None
