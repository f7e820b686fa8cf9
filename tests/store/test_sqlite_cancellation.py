"""A SQLite store stopped at any moment: no aiosqlite thread answers after the event loop has
closed, and no stop hangs. (The cancellation of a statement itself:
tests/runtime/test_zero_drain.py.)"""

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

from monitor.store import db

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


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
