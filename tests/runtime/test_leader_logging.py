"""A scheduler that cannot reach its store says so in one line a try, not with a traceback.

Found in a 60 s PostgreSQL outage under `monitor run`: the worker logged one line a retry, but
the leadership loop logged a full traceback (about a hundred lines) every 5 s, 12 of them, and
did so for as long as the outage lasted. A failure that is not the store being away is a bug
and keeps its traceback. Port 1 has no server behind it, so nothing here needs one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from monitor.runtime.leader import Leadership
from monitor.store import db


async def _nothing() -> None:
    return None


async def test_a_store_away_is_one_line_a_try(caplog: pytest.LogCaptureFixture) -> None:
    engine = db.create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    leadership = Leadership(engine, retry_seconds=0.05, retry_max_s=0.05)
    caplog.set_level(logging.INFO, logger="monitor.runtime.leader")
    task = asyncio.create_task(leadership.run(_nothing, _nothing))
    try:
        await asyncio.sleep(0.5)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await engine.dispose()
    tries = [r for r in caplog.records if "lost the database" in r.getMessage()]
    assert len(tries) >= 2
    assert all(r.exc_info is None for r in tries), "a traceback for a store that is away"
    assert all("Connect call failed" in r.getMessage() for r in tries)  # the reason, in line
    assert leadership.error is not None and not leadership.is_leader


async def test_a_start_that_fails_on_a_bug_keeps_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = db.create_engine("sqlite+aiosqlite://")  # one process: leads at once

    async def broken() -> None:
        raise KeyError("a bug in the scheduler's start")

    leadership = Leadership(engine, retry_max_s=0.05)
    caplog.set_level(logging.INFO, logger="monitor.runtime.leader")
    task = asyncio.create_task(leadership.run(broken, _nothing))
    try:
        await asyncio.sleep(0.3)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await engine.dispose()
    tries = [r for r in caplog.records if "failed to start" in r.getMessage()]
    assert tries and all(r.exc_info is not None for r in tries)
