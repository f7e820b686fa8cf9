"""A dispatcher whose store is away says so in one line a round, not with a traceback.

During a store outage the dispatcher's round failed at its first query and logged a full
traceback (about a hundred lines) every round, for as long as the outage lasted, while the
worker and the leadership loop said the same in one line a try. A failure that is not the
store being away is a bug and keeps its traceback. Port 1 has no server behind it, so nothing
here needs one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.alerts import outbox
from monitor.alerts.dispatcher import Dispatcher
from monitor.store import db

from .conftest import config_from, envs

ROUTING = """
route:
  receiver: duty
receivers:
  - name: duty
    local: [{mailbox: duty}]
"""


def _dispatcher(engine: AsyncEngine) -> Dispatcher:
    return Dispatcher(engine, config_from(ROUTING), {}, envs(), environ={}, poll_seconds=0.01)


async def _rounds(
    dispatcher: Dispatcher, caplog: pytest.LogCaptureFixture
) -> list[logging.LogRecord]:
    caplog.set_level(logging.INFO, logger="monitor.alerts.dispatcher")
    await dispatcher.start()
    try:
        for _ in range(100):  # two failed rounds at least, whatever the machine's speed
            await asyncio.sleep(0.05)
            if dispatcher.failing >= 2:
                break
    finally:
        await dispatcher.stop()
    return [r for r in caplog.records if "dispatch round failed" in r.getMessage()]


async def test_a_store_away_is_one_line_a_round(caplog: pytest.LogCaptureFixture) -> None:
    engine = db.create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        rounds = await _rounds(_dispatcher(engine), caplog)
    finally:
        await engine.dispose()
    assert len(rounds) >= 2
    assert all(r.exc_info is None for r in rounds), "a traceback for a store that is away"
    assert all(r.levelno == logging.WARNING for r in rounds)
    assert all("Connect call failed" in r.getMessage() for r in rounds)  # the reason, in line


async def test_a_round_that_fails_on_a_bug_keeps_its_traceback(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = db.create_engine("sqlite+aiosqlite://")
    dispatcher = _dispatcher(engine)

    async def broken(now: object = None) -> int:
        raise KeyError("a bug in the round")

    monkeypatch.setattr(dispatcher, "run_once", broken)
    try:
        rounds = await _rounds(dispatcher, caplog)
    finally:
        await engine.dispose()
    assert rounds and all(r.exc_info is not None for r in rounds)
    assert all(r.levelno == logging.ERROR for r in rounds)


async def test_lease_renewals_with_the_store_away_are_one_line_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Sends still running when the store goes away keep renewing their leases, every third
    of a lease: each failed renewal says so in one line, as the round does."""
    engine = db.create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    dispatcher = Dispatcher(
        engine,
        config_from(ROUTING),
        {},
        envs(),
        environ={},
        poll_seconds=0.01,
        lease=timedelta(seconds=0.15),
    )
    held = {1: outbox.Claimed(1, "duty", "local", "mailbox", "duty", "key-1", 1)}
    caplog.set_level(logging.INFO, logger="monitor.alerts.dispatcher")
    beats = asyncio.create_task(dispatcher._keep_leases(held, datetime.now(UTC)))
    try:
        for _ in range(100):
            await asyncio.sleep(0.05)
            if sum("leases failed" in r.getMessage() for r in caplog.records) >= 2:
                break
    finally:
        beats.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beats
        await engine.dispose()
    failed = [r for r in caplog.records if "leases failed" in r.getMessage()]
    assert len(failed) >= 2
    assert all(r.exc_info is None for r in failed), "a traceback for a store that is away"
    assert all("the store is unavailable" in r.getMessage() for r in failed)
