"""A SQLite store stopped at any moment: no aiosqlite thread answers after the event loop has
closed, no stop hangs, and no connection a cancellation closed is handed to the next task.
(The cancellation of a statement itself: tests/runtime/test_zero_drain.py.)"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from monitor.store import db, sqlite_connections

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")

# About a second of work in SQLite (as in test_zero_drain).
SLOW_SQL = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) "
    "SELECT count(*) FROM c"
)


def _join_threads_started_since(before: set[threading.Thread]) -> None:
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=10)


def test_a_stop_while_a_connection_opens_waits_for_the_open_and_closes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop landing while the pool opens a connection (the open is slow here: a busy disk).
    aiosqlite's own open gave up at once and its thread answered the open ~0.3 s later, after
    the loop had closed."""
    real_connect: Callable[..., sqlite3.Connection] = sqlite3.connect

    def slow_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        time.sleep(0.3)
        return real_connect(*args, **kwargs)

    url = f"sqlite+aiosqlite:///{tmp_path / 'monitor.db'}"
    # An aiosqlite thread answering a closed loop raises "Event loop is closed" in the thread.
    thread_errors: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: thread_errors.append(args.exc_value))
    before = set(threading.enumerate())

    async def stopped_while_opening() -> bool:
        engine = db.create_engine(url)
        try:

            async def query() -> None:
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))

            task = asyncio.create_task(query())
            await asyncio.sleep(0.1)  # the open is in aiosqlite's thread
            task.cancel()
            await asyncio.wait({task})
            return task.cancelled()
        finally:
            await engine.dispose()

    with monkeypatch.context() as patch:
        patch.setattr(sqlite3, "connect", slow_connect)
        assert asyncio.run(stopped_while_opening())
    # The loop has closed; whatever the connection's thread still had to answer, it answers now.
    _join_threads_started_since(before)
    assert thread_errors == []


async def test_a_connection_closed_by_a_cancelled_call_is_not_handed_out_again(
    tmp_path: Path,
) -> None:
    """A cancellation that SQLAlchemy does not see (it closes each statement's cursor by
    awaiting aiosqlite directly, as this test calls the driver) closes the connection; the pool
    used to take it back as it was and give it to the next task, whose query failed with "no
    active connection" (a query that had done nothing wrong)."""
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'monitor.db'}")
    try:
        started = asyncio.Event()

        async def cancelled_mid_call() -> None:
            async with engine.connect() as conn:
                raw = await conn.get_raw_connection()
                started.set()
                await raw.driver_connection.execute(SLOW_SQL)  # type: ignore[union-attr]

        task = asyncio.create_task(cancelled_mid_call())
        await started.wait()
        await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.wait({task})
        assert task.cancelled()
        for _ in range(3):  # the pool had that one connection to hand out
            async with engine.connect() as conn:
                assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()


@pytest.mark.parametrize("turns", [1, 2, 3, 4])
async def test_a_dispose_cancelled_while_it_closes_a_connection_still_ends(
    tmp_path: Path, turns: int
) -> None:
    """One cancellation (a second Ctrl-C, a supervisor's stop) of an engine's dispose as it
    closes a pooled connection, after `turns` turns of the event loop: the close used to stop
    the connection's thread twice and wait for ever on the second stop's answer."""
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'monitor.db'}")
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    disposing = asyncio.ensure_future(engine.dispose())
    for _ in range(turns):
        await asyncio.sleep(0)
    disposing.cancel()
    done, _ = await asyncio.wait({disposing}, timeout=10)
    assert done, "the cancelled dispose never ended"


async def test_a_cancelled_call_that_does_not_end_is_left_after_the_clean_up_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The clean-up of a cancelled call waits for the call to end, but within a bound: a call
    that SQLite cannot interrupt (here a function of the query's own, blocked in aiosqlite's
    thread; in life a disk that stops answering) is left, logged, and the cancellation goes on.
    The wait had no bound: the cancelled task, and a stop waiting for it, hung as long as the
    call did."""
    monkeypatch.setattr(sqlite_connections, "CLEAN_UP_S", 0.2)
    release = threading.Event()
    driver = await sqlite_connections.open_connection(str(tmp_path / "monitor.db"))
    await driver.create_function("blocks", 0, lambda: release.wait(60))
    task = asyncio.create_task(driver.execute("SELECT blocks()"))
    try:
        await asyncio.sleep(0.1)  # the call is in aiosqlite's thread
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=10)
        assert done, "the cancelled call's clean-up waited past its bound"
        assert task.cancelled()
        assert "had not ended" in caplog.text
    finally:
        release.set()
        await asyncio.wait({task}, timeout=60)
        await driver.close()


async def test_a_statement_cancelled_before_it_began_is_interrupted_once_it_begins(
    tmp_path: Path,
) -> None:
    """A cancelled statement still queued behind another call in aiosqlite's thread (what a
    loaded machine makes of a stop mid-batch): SQLite's interrupt reaches only a running
    statement, so the one sent at the cancellation was lost, the statement ran to its end
    (here a minute or more), and the clean-up gave up at its bound with the write lock held.
    It is interrupted as soon as it begins: the cancellation ends within a second or two of
    the call ahead, and another writer gets the lock at once."""
    path = tmp_path / "monitor.db"
    driver = await sqlite_connections.open_connection(str(path))
    await driver.execute("CREATE TABLE t (x)")
    await driver.commit()
    await driver.execute("INSERT INTO t VALUES (1)")  # a write transaction, held open
    ahead_started = threading.Event()

    def ahead() -> None:  # keeps aiosqlite's thread busy while the statement waits behind it
        ahead_started.set()
        time.sleep(0.5)

    ahead_call = asyncio.ensure_future(driver._execute(ahead))
    await asyncio.to_thread(ahead_started.wait, 10)
    long_sql = SLOW_SQL.replace("3000000", "300000000")  # about two minutes of work
    task = asyncio.create_task(driver.execute(long_sql))
    await asyncio.sleep(0.05)  # queued behind `ahead`, not begun
    started = time.monotonic()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=30)
    took = time.monotonic() - started
    await asyncio.wait({ahead_call}, timeout=10)
    assert done and task.cancelled()
    assert took < sqlite_connections.CLEAN_UP_S / 2, f"the cancellation took {took:.1f}s"
    # Rolled back and closed: another connection writes without waiting.
    other = sqlite3.connect(path, timeout=0.5)
    try:
        other.execute("BEGIN IMMEDIATE")
        assert other.execute("SELECT count(*) FROM t").fetchone() == (0,)
        other.rollback()
    finally:
        other.close()
