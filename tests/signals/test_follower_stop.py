"""The signals follower stops when the scheduler leader stops it, whatever its step is doing.

On Python 3.11 `asyncio.wait_for` returns the wrapped call's result and drops a cancellation
that arrives as that call completes (fixed in 3.12); database and Redis clients wrap their
calls in it. A follower whose one cancellation was dropped so carried on polling, and its stop
waited for it for ever (bounded only by the leader's own stop bound, with the follower left
running beside the next leader). These tests make the stop land at exactly that moment: the
store query the follower sends through `wait_for` wakes the test as it completes, before
`wait_for` hands it back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.signals.follower import SignalsFollower
from monitor.signals.stage import SignalsStage
from monitor.store import signals as queries
from monitor.tasks import stop_task
from tests.signals.conftest import make_store

# A follower that took its cancellation ends at its next await, within milliseconds.
STOP_BOUND_S = 5.0


class QueryMoment:
    """Sends the follower's read of processed posts through `asyncio.wait_for`, as a client
    with a timeout does, and wakes a waiter as the read completes, before `wait_for` hands it
    back to the follower."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reached: asyncio.Future[None] | None = None
        read = queries.processed_after
        moment = self

        async def through_wait_for(*args: Any) -> Any:
            async def query() -> Any:
                rows = await read(*args)
                if moment.reached is not None and not moment.reached.done():
                    moment.reached.set_result(None)
                return rows

            return await asyncio.wait_for(query(), 30)

        monkeypatch.setattr(queries, "processed_after", through_wait_for)

    def arm(self) -> asyncio.Future[None]:
        self.reached = asyncio.get_running_loop().create_future()
        return self.reached


@pytest.fixture
async def engine(migrated_sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = await make_store(migrated_sqlite_url)
    yield engine
    await engine.dispose()


def follower_on(engine: AsyncEngine, url: str) -> SignalsFollower:
    settings = Settings(database_url=url, classifier="keyword")
    stage = SignalsStage.from_settings(settings, KeywordClassifier())
    return SignalsFollower(engine, stage, poll_seconds=0.01)


async def test_a_follower_stops_when_its_cancellation_lands_as_a_query_completes(
    engine: AsyncEngine, migrated_sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    moment = QueryMoment(monkeypatch)
    follower = follower_on(engine, migrated_sqlite_url)
    reached = moment.arm()
    await follower.start()
    running = [t for t in asyncio.all_tasks() if t.get_name() == "signals-follower"]
    assert len(running) == 1
    async with asyncio.timeout(10):  # not `wait_for`, whose own hop would let the follower on
        await reached
    stopping = asyncio.ensure_future(follower.stop())  # before the follower has the rows
    done, _ = await asyncio.wait({stopping}, timeout=STOP_BOUND_S)
    if not done:  # free what hung so that the failure is reported, not the run hung
        await stop_task(running[0])
        await asyncio.wait({stopping}, timeout=5)
    assert done, f"the follower's stop had not returned {STOP_BOUND_S:.0f}s after it began"
    stopping.result()
    assert running[0].done(), "the follower runs on after its stop returned"


async def test_a_follower_stop_that_is_itself_cancelled_says_so(
    engine: AsyncEngine, migrated_sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second signal cancels the stop: the follower is cancelled once more and the stop's
    caller sees its cancellation (it had been swallowed, so a caller hurrying to exit went on
    waiting for whatever came after the stop)."""
    moment = QueryMoment(monkeypatch)
    follower = follower_on(engine, migrated_sqlite_url)
    reached = moment.arm()
    await follower.start()
    running = next(t for t in asyncio.all_tasks() if t.get_name() == "signals-follower")
    async with asyncio.timeout(10):
        await reached
    stopping = asyncio.ensure_future(follower.stop())
    await asyncio.sleep(0)  # the stop has begun (and cancelled the follower)
    stopping.cancel()
    try:
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(stopping, STOP_BOUND_S)
    finally:
        await stop_task(running)
