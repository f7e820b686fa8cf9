"""Queue entries no worker can read are counted: /metrics and the stop report say how many wait
on `<stream>:dead`.

Found by reading the queue: an unreadable entry (another release's envelope format during a
rolling upgrade, a hand-made XADD) is moved to `<stream>:dead` and logged once, and then
nothing said it was there; the posts it holds are accepted and will not be processed until a
person replays them.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.classify.keyword import KeywordClassifier
from monitor.runtime.metrics import exposition, make_registry, refresh_store_gauges
from monitor.runtime.pipeline import Pipeline, StopReport
from monitor.runtime.queues import Envelope, InProcessQueue, RedisStreamQueue
from monitor.store import db
from tests.runtime.test_queue_outage import pipeline, queue
from tests.runtime.test_redis_queue import raw

GAUGE = "monitor_queue_dead_entries"


async def scrape(engine: AsyncEngine, pipeline: Pipeline) -> dict[str, float]:
    await refresh_store_gauges(engine, pipeline)
    text = exposition(make_registry(pipeline)).decode()
    return {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("monitor_queue_")
    }


async def unreadable(q: RedisStreamQueue, n: int) -> None:
    """Entries `put` did not write, as a hand-made XADD leaves them (counted as `put` would)."""
    for i in range(n):
        await q.redis.xadd(q.settings.stream, {"env": f"{{not json {i}", "n": "1"})
    await q.redis.incrby(q.count_key, n)


@pytest.mark.redis
async def test_metrics_give_the_length_of_the_dead_stream(
    redis_url: str, migrated_sqlite_url: str
) -> None:
    stream = f"test:{uuid.uuid4().hex}"
    engine = db.create_engine(migrated_sqlite_url)
    q = queue(redis_url, stream, "worker")
    scraped = Pipeline(engine, None, KeywordClassifier(), None, queue=q)  # type: ignore[arg-type]
    try:
        await q.put(Envelope("src", (raw(1),)))
        assert (await scrape(engine, scraped))[GAUGE] == 0
        await unreadable(q, 2)
        got = await q.take(64, 0.1)  # the good entry is delivered, the two set aside
        await q.ack(got)
        assert await scrape(engine, scraped) == {"monitor_queue_depth": 0, GAUGE: 2}
        # Left there until a person deals with them: a later scrape still counts them.
        assert (await scrape(engine, scraped))[GAUGE] == 2
        await q.redis.delete(q.dead_key)  # replayed or discarded: the alarm clears
        assert (await scrape(engine, scraped))[GAUGE] == 0
    finally:
        await q.redis.delete(stream, q.count_key, q.dead_key)
        await q.close()
        await engine.dispose()


async def test_in_one_process_nothing_is_ever_set_aside(migrated_sqlite_url: str) -> None:
    engine = db.create_engine(migrated_sqlite_url)
    scraped = Pipeline(engine, None, KeywordClassifier(), None, queue=InProcessQueue())  # type: ignore[arg-type]
    try:
        assert (await scrape(engine, scraped))[GAUGE] == 0
    finally:
        await engine.dispose()


@pytest.mark.redis
async def test_a_stop_says_how_many_entries_wait_on_the_dead_stream(
    redis_url: str, migrated_sqlite_url: str
) -> None:
    stream = f"test:{uuid.uuid4().hex}"
    engine = db.create_engine(migrated_sqlite_url)
    worker = pipeline(engine, migrated_sqlite_url, redis_url, stream, "worker")
    q = worker.queue
    assert isinstance(q, RedisStreamQueue)
    try:
        await worker.accept("push", [raw(i) for i in range(4)])
        await unreadable(q, 3)
        await worker.start()
        report = await worker.stop(drain=True, timeout=10)
        assert report.drained and report.dead == 3
        said = report.message()
        assert "3 queue entries that no worker could read set aside" in said, said
        assert "everything accepted is stored and processed" not in said
    finally:
        await q.redis.delete(stream, q.count_key, q.dead_key)
        await q.close()
        await engine.dispose()


def test_the_stop_report_mentions_dead_entries_only_when_there_are_some() -> None:
    def said(dead: int | None, queued: int | None = 0) -> str:
        return StopReport(True, 0, 0, 0, "stopped", queued=queued, dead=dead).message()

    assert said(0) == "stopped: everything accepted is stored and processed"
    assert "1 queue entry that no worker could read" in said(1)
    # The queue away: its own line says so, and no second line about the dead stream.
    assert said(None, queued=None) == (
        "stopped: the queue could not be reached to count the posts waiting on it"
    )
