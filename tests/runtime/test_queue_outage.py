"""Scaled out, the Redis stream holds accepted posts as the store does in one process, so a
Redis that is away (restarting, loading its append-only file, a network cut) is waited out
with backoff, not counted as a worker failure.

Found by stopping the Redis of `monitor run` (queue_url set) for 30 s under a steady push: the
worker's XREADGROUP failed, each failure counted against `pipeline_max_restarts`, and after six
in a row (about 10 s) the pipeline failed and the process exited 1; a systemd unit would give up
after 10 such starts. Here Redis is reached through a TCP proxy the test cuts (every connection
dropped, new ones refused), as a Redis restart does.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.ingest.service import KeyedIngestor
from monitor.runtime.health import worker_checks
from monitor.runtime.pipeline import Pipeline
from monitor.runtime.queues import RedisSettings, RedisStreamQueue
from monitor.store import db
from monitor.store.tables import posts
from tests.conftest import ROOT
from tests.runtime.test_redis_queue import _NoRules, raw
from tests.runtime.test_store_outage import Proxy

pytestmark = [pytest.mark.redis, pytest.mark.slow]  # an outage of real seconds


def queue(url: str, stream: str, consumer: str) -> RedisStreamQueue:
    return RedisStreamQueue(RedisSettings(url=url, stream=stream, consumer=consumer, chunk=4))


async def migrated(sqlite_url: str) -> AsyncEngine:
    engine = db.create_engine(sqlite_url)
    await db.upgrade(engine)
    return engine


def pipeline(
    engine: AsyncEngine,
    sqlite_url: str,
    url: str,
    stream: str,
    consumer: str,
    classifier: KeywordClassifier | None = None,
    **options: Any,
) -> Pipeline:
    """A pipeline on the store and the Redis stream, as `monitor run` builds one scaled out."""
    settings = Settings(database_url=sqlite_url, home=str(ROOT), classifier="keyword")
    return Pipeline(
        engine,
        KeyedIngestor.from_settings(settings, ROOT, engine),
        classifier or KeywordClassifier(),
        _NoRules(),
        queue=queue(url, stream, consumer),
        **options,
    )


async def processed(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        stmt = select(func.count()).select_from(posts).where(posts.c.processed_at.is_not(None))
        return int((await conn.execute(stmt)).scalar_one())


async def test_a_redis_outage_is_waited_out_not_counted_as_worker_failures(
    redis_url: str, sqlite_url: str
) -> None:
    parts = urlsplit(redis_url)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 6379)
    await proxy.start()
    via_proxy = parts._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()
    stream = f"test:{uuid.uuid4().hex}"
    engine = await migrated(sqlite_url)

    def make(url: str, consumer: str) -> Pipeline:
        # Retries at most 0.1 s apart: the restarts after which the worker used to give up
        # (5) pass within the first second of the outage.
        return pipeline(engine, sqlite_url, url, stream, consumer, max_backoff=0.1, max_restarts=5)

    web = make(redis_url, "web")  # a web role pushing straight to Redis
    worker = make(via_proxy, "worker")
    try:
        await worker.start()
        await web.accept("push", [raw(i) for i in range(20)])
        assert await worker.drain(timeout=30)
        proxy.cut()
        await web.accept("push", [raw(i) for i in range(20, 40)])  # on the stream, waiting
        saw_unavailable = False
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            assert worker.failure is None, "the worker gave up while Redis was away"
            reasons = worker_checks(worker, 300).reasons
            saw_unavailable = saw_unavailable or any("queue: " in r for r in reasons)
        assert saw_unavailable, "readiness never said the queue was unavailable"
        proxy.restore()
        assert await worker.drain(timeout=60)
        assert await processed(engine) == 40
        assert worker.stats.worker_restarts == 0 and worker.stats.store_retries > 5
        assert worker_checks(worker, 300).ready
    finally:
        await worker.stop(drain=False)
        await web.queue.redis.delete(stream, f"{stream}:posts")
        await web.queue.close()
        await worker.queue.close()
        await proxy.close()
        await engine.dispose()


async def test_a_consumer_group_gone_with_a_flushed_redis_is_made_again(
    redis_url: str, sqlite_url: str
) -> None:
    """Found by FLUSHALL under `monitor run` (queue_url set): the worker's group went with the
    stream, every XREADGROUP answered NOGROUP while pushes recreated the stream without it, and
    after six restarts in a row the process exited 1. Here the stream is deleted (what FLUSHALL
    does to it, without touching other tests' streams on the shared server)."""
    stream = f"test:{uuid.uuid4().hex}"
    engine = await migrated(sqlite_url)
    worker = pipeline(
        engine, sqlite_url, redis_url, stream, "worker", max_backoff=0.1, max_restarts=5
    )
    redis = worker.queue.redis  # type: ignore[attr-defined]
    try:
        await worker.start()
        await worker.accept("push", [raw(i) for i in range(8)])
        assert await worker.drain(timeout=30)
        await redis.delete(stream, f"{stream}:posts")
        await asyncio.sleep(0.5)  # the worker meets the missing group
        await worker.accept("push", [raw(i) for i in range(8, 16)])
        assert await worker.drain(timeout=30)
        assert await processed(engine) == 16
        assert worker.failure is None and worker.stats.worker_restarts == 0
    finally:
        await worker.stop(drain=False)
        await redis.delete(stream, f"{stream}:posts")
        await worker.queue.close()
        await engine.dispose()


async def test_a_stop_while_redis_is_away_drains_for_its_bound_and_reports(
    redis_url: str, sqlite_url: str
) -> None:
    """Found by SIGTERM to `monitor run` (queue_url set) while its Redis was stopped: the drain
    asked Redis how much was left, the connection error came out of the stop, and the process
    exited 1 at once with two tracebacks and no stop report. The drain now waits for its bound,
    as it does for a store that is away, and the stop says what it left."""
    parts = urlsplit(redis_url)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 6379)
    await proxy.start()
    via_proxy = parts._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()
    stream = f"test:{uuid.uuid4().hex}"
    engine = await migrated(sqlite_url)
    worker = pipeline(engine, sqlite_url, via_proxy, stream, "worker", max_backoff=0.1)
    web = queue(redis_url, stream, "web")
    try:
        await worker.start()
        proxy.cut()
        started = time.monotonic()
        report = await worker.stop(drain=True, timeout=1.5)
        assert time.monotonic() - started >= 1.5  # waited for its bound, then stopped
        assert not report.drained
        said = report.message()
        assert "stopped before draining" in said
        # Not "nothing was left unprocessed": what waits on the stream is not known.
        assert "the queue could not be reached to count the posts waiting on it" in said
    finally:
        await worker.stop(drain=False)
        await web.redis.delete(stream, f"{stream}:posts")
        await web.close()
        await worker.queue.close()
        await proxy.close()
        await engine.dispose()


class Stuck(KeywordClassifier):
    """A classifier that never answers: the worker holds its first batch until stopped."""

    async def analyse(self, texts: Sequence[str]) -> Any:
        await asyncio.Event().wait()


async def test_a_stop_that_leaves_posts_on_the_stream_says_how_many(
    redis_url: str, sqlite_url: str
) -> None:
    """The stop report counted what this process held and the store's unprocessed posts, and
    said "nothing was left unprocessed" while thousands of accepted posts still waited on the
    Redis stream (a drain cut short by its bound). It now counts the stream too."""
    stream = f"test:{uuid.uuid4().hex}"
    engine = await migrated(sqlite_url)
    worker = pipeline(engine, sqlite_url, redis_url, stream, "worker", Stuck())
    try:
        await worker.accept("push", [raw(i) for i in range(12)])  # 3 entries of 4 posts
        await worker.start()
        report = await worker.stop(drain=True, timeout=0.5)
        assert not report.drained
        assert "12 posts wait on the queue" in report.message()
    finally:
        await worker.queue.redis.delete(stream, f"{stream}:posts")  # type: ignore[attr-defined]
        await worker.queue.close()
        await engine.dispose()
