"""A role on a Redis queue stops when told, within its bound, whatever its worker and its
scheduled jobs are doing (issue 14: `monitor run --role worker` printed "stopping" on SIGTERM
and never exited). Against the real PostgreSQL and Redis servers.

On Python 3.11 a cancellation that arrives just as redis-py finishes sending a command is
dropped (`asyncio.wait_for` returns the command instead), so the task carries on as if never
cancelled. These tests make the stop land at exactly that moment: the next command the role
sends wakes the test, which stops the role before the send is handed back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import pytest

from monitor.classify.keyword import KeywordClassifier
from monitor.runtime.app import open_runtime
from monitor.runtime.queues import RedisSettings, RedisStreamQueue
from monitor.safeguards.retention import periodic
from monitor.tasks import stop_task
from tests.runtime.scaled import scaled_out

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

# What a stop with nothing to drain may take here: the in-flight command, the stop report's
# two counts, closing the connections. The drain bound of `monitor run` is on top of this.
STOP_BOUND_S = 5.0


class SendMoment:
    """Wakes a waiter as the next Redis command has been sent, before redis-py hands the send
    back to the caller (inside its `wait_for`)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from redis.asyncio.connection import AbstractConnection

        self.reached: asyncio.Future[None] | None = None
        send = AbstractConnection._send_packed_command
        moment = self

        async def sent(conn: AbstractConnection, command: Iterable[bytes]) -> None:
            await send(conn, command)
            if moment.reached is not None and not moment.reached.done():
                moment.reached.set_result(None)

        monkeypatch.setattr(AbstractConnection, "_send_packed_command", sent)

    async def next_send(self) -> None:
        self.reached = asyncio.get_running_loop().create_future()
        await asyncio.wait_for(self.reached, 10)


async def within(bound: float, work: Awaitable[Any], rescue: Callable[[], Awaitable[Any]]) -> float:
    """Seconds `work` took; fails when it takes longer than `bound`, after `rescue` frees what
    hung (so that the failure is reported, not the run hung)."""
    task = asyncio.ensure_future(work)
    started = time.monotonic()
    done, _ = await asyncio.wait({task}, timeout=bound)
    took = time.monotonic() - started
    if not done:
        await rescue()
        await asyncio.wait({task}, timeout=30)
    assert done, f"the stop had not returned {took:.1f}s after it began"
    task.result()
    return took


async def stop_named(name: str) -> None:
    for task in asyncio.all_tasks():
        if task.get_name() == name:
            await stop_task(task)


@pytest.fixture
def moment(monkeypatch: pytest.MonkeyPatch) -> SendMoment:
    return SendMoment(monkeypatch)


async def test_a_worker_on_a_redis_queue_stops_when_its_stop_lands_on_a_send(
    migrated_pg_url: str, redis_url: str, moment: SendMoment
) -> None:
    stream = f"test:{uuid.uuid4().hex}"
    settings = scaled_out(migrated_pg_url, redis_url, stream, shutdown_drain_s=1)

    async def run_then_stop() -> None:
        # Leaving the block is what SIGTERM does to `monitor run --role worker`.
        async with open_runtime(settings, classifier=KeywordClassifier(), role="worker") as rt:
            await asyncio.sleep(0.2)  # the worker takes from the stream, idle
            assert rt.pipeline.health.state == "running"
            await moment.next_send()
        assert rt.stop_report is not None and rt.stop_report.worker_state == "stopped"

    try:
        took = await within(STOP_BOUND_S, run_then_stop(), lambda: stop_named("pipeline-worker"))
    finally:
        cleanup = RedisStreamQueue(RedisSettings(url=redis_url, stream=stream))
        await cleanup.redis.delete(stream, cleanup.count_key)
        await cleanup.close()
    assert took < STOP_BOUND_S


async def test_a_scheduled_job_on_redis_stops_when_its_stop_lands_on_a_send(
    redis_url: str, moment: SendMoment
) -> None:
    """A periodic job (monitor/safeguards/retention.py, as governance-refresh runs in every
    role) in the middle of its Redis calls when the service stops."""
    queue = RedisStreamQueue(RedisSettings(url=redis_url, stream=f"test:{uuid.uuid4().hex}"))
    runs = 0

    async def job(now: object) -> None:
        nonlocal runs
        runs += 1
        for _ in range(10_000):  # a long job, on Redis throughout
            await queue.measure()

    async def run_then_stop() -> None:
        async with periodic("redis-job", 0.01, job):
            await asyncio.sleep(0.2)
            assert runs == 1, "the job is not running"
            await moment.next_send()

    try:
        await within(STOP_BOUND_S, run_then_stop(), lambda: stop_named("redis-job"))
    finally:
        await queue.close()
