"""A periodic job (the governance refresh, the audit head export, the retention purge) whose
store is away says so in one line a try, not with a traceback.

During a store outage the governance refresh logged a full traceback (about a hundred lines)
every minute, for as long as the outage lasted, while the worker and the leadership loop said
the same in one line a try. A failure that is not the store being away is a bug and keeps its
traceback. Port 1 has no server behind it, so nothing here needs one.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from monitor.safeguards import retention
from monitor.safeguards.governance import GovernanceGate
from monitor.store import db

NOW = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)


async def _tries(job: retention.Job, caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    caplog.set_level(logging.INFO, logger="monitor.safeguards.retention")

    def tries() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "governance-refresh failed" in r.getMessage()]

    async with retention.periodic("governance-refresh", 0.01, job, clock=lambda: NOW):
        for _ in range(100):  # two failed tries at least, whatever the machine's speed
            await asyncio.sleep(0.05)
            if len(tries()) >= 2:
                break
    return tries()


async def test_a_store_away_is_one_line_a_try(caplog: pytest.LogCaptureFixture) -> None:
    engine = db.create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    gate = GovernanceGate()

    async def refresh(now: datetime) -> None:
        await gate.refresh(engine, [], now, 30)

    try:
        tries = await _tries(refresh, caplog)
    finally:
        await engine.dispose()
    assert len(tries) >= 2
    assert all(r.exc_info is None for r in tries), "a traceback for a store that is away"
    assert all(r.levelno == logging.WARNING for r in tries)
    assert all("Connect call failed" in r.getMessage() for r in tries)  # the reason, in line


async def test_a_job_that_fails_on_a_bug_keeps_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(now: datetime) -> None:
        raise KeyError("a bug in the job")

    tries = await _tries(broken, caplog)
    assert len(tries) >= 2
    assert all(r.exc_info is not None for r in tries)
    assert all(r.levelno == logging.ERROR for r in tries)
