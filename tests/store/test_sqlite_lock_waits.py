"""Waiting for the write lock another connection holds, on a real SQLite file: as long as it
always was (30 s) when nothing stops, yet never what keeps a stop waiting. SQLite does not end a
busy-timeout wait when interrupted (3.40), so a cancelled write used to wait out the whole
timeout (the clean-up bound, 8 s, cut it short, and left it running) and a `monitor import`
stopped then did not exit while the lock was held. (The same through `monitor import`:
tests/ingest/test_import_e2e.py.)"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.store import db, sqlite_connections

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")

# Bounds for a loaded two-core machine: far above what the waits below take (a try of SQLite's
# wait, 0.25 s, or a stop's grace), far below what they took before (8 s or more).
PROMPT_S = 5.0


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "monitor.db"


@pytest.fixture
async def engine(path: Path) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (x INTEGER)"))
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def holder(path: Path, engine: AsyncEngine) -> Iterator[sqlite3.Connection]:
    """Another connection (another process, in life) holding the write lock until released."""
    other = sqlite3.connect(path, timeout=5, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        if other.in_transaction:
            other.rollback()
        other.close()


def inserts_sent(engine: AsyncEngine) -> asyncio.Event:
    """Set once an INSERT has gone to SQLite (where it waits for the lock)."""
    sent = asyncio.Event()

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _sent(*args: Any) -> None:
        if args[2].lstrip().upper().startswith("INSERT"):
            sent.set()

    return sent


async def insert_one(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t VALUES (1)"))


async def rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM t"))).scalar_one())


async def test_a_write_cancelled_while_it_waits_for_the_lock_ends_at_once(
    engine: AsyncEngine, holder: sqlite3.Connection
) -> None:
    sent = inserts_sent(engine)
    writer = asyncio.create_task(insert_one(engine))
    await asyncio.wait_for(sent.wait(), 10)
    await asyncio.sleep(0.5)  # in SQLite's wait for the lock
    started = time.monotonic()
    writer.cancel()
    done, _ = await asyncio.wait({writer}, timeout=30)
    took = time.monotonic() - started
    assert done and writer.cancelled()
    assert took < PROMPT_S, f"the cancelled write took {took:.1f}s to end"
    holder.rollback()
    # Rolled back, and the engine writes as before (the pool replaced the closed connection).
    assert await rows(engine) == 0
    await insert_one(engine)
    assert await rows(engine) == 1


async def test_a_write_still_waits_out_a_lock_held_for_several_of_sqlites_tries(
    engine: AsyncEngine, holder: sqlite3.Connection
) -> None:
    """The wait is cut into tries, not shortened: a lock held for 1.5 s (six tries) is waited
    for, and the write then succeeds, as with SQLite's one 30 s wait."""
    writer = asyncio.create_task(insert_one(engine))
    await asyncio.sleep(1.5)
    assert not writer.done()
    holder.rollback()
    await asyncio.wait_for(writer, 30)
    assert await rows(engine) == 1


async def test_a_write_fails_once_the_whole_wait_has_passed(
    engine: AsyncEngine, holder: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_connections, "BUSY_WAIT_S", 1.0)
    started = time.monotonic()
    with pytest.raises(OperationalError, match="database is locked"):
        await asyncio.wait_for(insert_one(engine), 30)
    assert 1.0 <= time.monotonic() - started < 1.0 + PROMPT_S
    holder.rollback()
    assert await rows(engine) == 0


async def test_once_a_stop_begins_a_write_waits_for_the_lock_no_longer_than_the_grace(
    engine: AsyncEngine, holder: sqlite3.Connection
) -> None:
    """What a stopping runtime still writes (the alert dispatcher's last round) is not
    cancelled: it fails as if the store were away, once the stop's grace has passed, rather
    than keep the stop waiting for the lock."""
    sent = inserts_sent(engine)
    writer = asyncio.create_task(insert_one(engine))
    await asyncio.wait_for(sent.wait(), 10)
    started = time.monotonic()
    sqlite_connections.stop_waiting_for_locks(engine, grace_s=0.5)
    with pytest.raises(OperationalError, match="database is locked"):
        await asyncio.wait_for(writer, 30)
    assert time.monotonic() - started < PROMPT_S
    holder.rollback()
    assert await rows(engine) == 0


async def test_a_write_sqlite_would_not_wait_for_fails_at_once(
    path: Path, holder: sqlite3.Connection
) -> None:
    """A transaction that already reads and then wants to write while another connection
    holds the write lock: SQLite does not wait (they could wait for each other) and says
    "database is locked" at once. Tried again and again here, it would spin for the whole
    30 s instead."""
    driver = await sqlite_connections.open_connection(
        str(path), timeout=sqlite_connections.BUSY_TRY_S, isolation_level=None
    )
    try:
        await driver.execute("BEGIN")
        cursor = await driver.execute("SELECT count(*) FROM t")
        assert await cursor.fetchone() == (0,)
        started = time.monotonic()
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            await driver.execute("INSERT INTO t VALUES (1)")
        assert time.monotonic() - started < PROMPT_S
    finally:
        await driver.close()
