"""Scheduler leadership: one leader at a time over PostgreSQL; a standby takes over; a start
that failed is retried within the store retry cap."""

from __future__ import annotations

import asyncio
import contextlib
import sys

import pytest

from monitor.runtime.leader import Leadership
from monitor.store import db


@pytest.mark.postgres
async def test_standby_takes_over_when_the_leader_stops(pg_url: str) -> None:
    engine_a = db.create_engine(pg_url)
    engine_b = db.create_engine(pg_url)
    events: list[str] = []

    def recorder(name: str) -> tuple:  # type: ignore[type-arg]
        async def start() -> None:
            events.append(f"{name} start")

        async def stop() -> None:
            events.append(f"{name} stop")

        return start, stop

    a = Leadership(engine_a, retry_seconds=0.1, check_seconds=0.1)
    b = Leadership(engine_b, retry_seconds=0.1, check_seconds=0.1)
    task_a = asyncio.create_task(a.run(*recorder("a")))
    await asyncio.sleep(0.3)
    task_b = asyncio.create_task(b.run(*recorder("b")))
    try:
        await asyncio.sleep(0.5)
        assert (a.is_leader, b.is_leader) == (True, False)
        assert events == ["a start"]

        task_a.cancel()  # the leader stops (or dies: its session ends either way)
        with contextlib.suppress(asyncio.CancelledError):
            await task_a
        for _ in range(50):
            if b.is_leader:
                break
            await asyncio.sleep(0.1)
        assert b.is_leader
        assert events == ["a start", "a stop", "b start"]
    finally:
        task_b.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task_b
        await engine_a.dispose()
        await engine_b.dispose()


@pytest.mark.postgres
async def test_a_killed_leaders_lock_passes_to_the_standby(pg_url: str) -> None:
    script = (
        "import asyncio, sys\n"
        "from monitor.runtime.leader import Leadership\n"
        "from monitor.store import db\n"
        "async def main():\n"
        "    async def start():\n"
        "        print('leader', flush=True)\n"
        "    async def stop():\n"
        "        pass\n"
        "    await Leadership(db.create_engine(sys.argv[1]), check_seconds=0.1).run(start, stop)\n"
        "asyncio.run(main())\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, pg_url, stdout=asyncio.subprocess.PIPE
    )
    engine_b = db.create_engine(pg_url)
    b = Leadership(engine_b, retry_seconds=0.1, check_seconds=0.1)

    async def nothing() -> None:
        return None

    task_b: asyncio.Task[None] | None = None
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        assert line.strip() == b"leader"
        task_b = asyncio.create_task(b.run(nothing, nothing))
        await asyncio.sleep(0.5)
        assert not b.is_leader  # standing by while the other process leads
        proc.kill()  # SIGKILL: no clean-up, no unlock; the server ends its session
        await proc.wait()
        for _ in range(100):
            if b.is_leader:
                break
            await asyncio.sleep(0.1)
        assert b.is_leader
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if task_b is not None:
            task_b.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task_b
        await engine_b.dispose()


async def test_a_scheduler_that_failed_to_start_retries_within_the_store_retry_cap(
    sqlite_url: str,
) -> None:
    """A store that was away for a while: the scheduler's start failed several times and is
    retried no more than `retry_max_s` apart (the runtime passes `store_retry_max_s`), not on
    a backoff of its own to 30 s that left it down for seconds after the store came back."""
    engine = db.create_engine(sqlite_url)
    failures = [0]

    async def start() -> None:
        if failures[0] < 5:
            failures[0] += 1
            raise OSError("fictional store outage")

    async def stop() -> None:
        return None

    leadership = Leadership(engine, retry_max_s=0.05)
    task = asyncio.create_task(leadership.run(start, stop))
    try:
        # Five failed starts: 0.25 + 0.5 + 1 + 2 + 4 s at the least on a backoff capped at
        # 30 s; at most 0.25 s in all with the cap at 0.05 s.
        async with asyncio.timeout(3):
            while not leadership.is_leader:
                await asyncio.sleep(0.01)
        assert failures[0] == 5 and leadership.error is None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await engine.dispose()
