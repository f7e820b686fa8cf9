"""The Redis stream queue with a consumer group, against the local Redis server."""

from __future__ import annotations

import asyncio
import socket
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.ingest.service import KeyedIngestor
from monitor.runtime.pipeline import Pipeline
from monitor.runtime.queues import Envelope, RedisSettings, RedisStreamQueue
from monitor.store import db
from monitor.store.tables import alert_posts, posts
from monitor.types import RawPost
from tests.conftest import ROOT

pytestmark = pytest.mark.redis

START = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def raw(i: int) -> RawPost:
    return RawPost(
        platform="bluesky",
        native_id=f"at://did:plc:fictional{i % 7}/app.bsky.feed.post/q{i}",
        text=f"(fictional) apparently they're not telling you about the mill in Toller {i}",
        created_at=START + timedelta(seconds=i),
        author_id=f"did:plc:fictional{i % 7}",
        source="test",
    )


def queue(url: str, stream: str, consumer: str, visibility: float = 30.0) -> RedisStreamQueue:
    return RedisStreamQueue(
        RedisSettings(
            url=url, stream=stream, consumer=consumer, visibility_timeout=visibility, chunk=4
        )
    )


async def test_round_trip_keeps_every_field(redis_url: str) -> None:
    stream = f"test:{uuid.uuid4().hex}"
    q = queue(redis_url, stream, "a")
    try:
        original = RawPost(
            platform="mastodon",
            native_id="https://social.example/users/fictional/statuses/1",
            text="<p>(fictional) hello</p>",
            created_at=START,
            author_id="https://social.example/users/fictional",
            reply_to="mastodon:https://social.example/users/other/statuses/0",
            like_count=3,
            is_html=True,
        )
        await q.put(Envelope("src", (original,), cursor=None))
        got = await q.take(16, 0.1)
        assert got.envelopes == [Envelope("src", (original,), None)]
        await q.ack(got)
        await q.join()  # acknowledged entries are gone
    finally:
        await q.redis.delete(stream, f"{stream}:posts")
        await q.close()


async def test_entries_of_a_dead_consumer_are_claimed_by_another(redis_url: str) -> None:
    stream = f"test:{uuid.uuid4().hex}"
    dead = queue(redis_url, stream, "dead", visibility=0.2)
    alive = queue(redis_url, stream, "alive", visibility=0.2)
    try:
        await dead.put(Envelope("src", tuple(raw(i) for i in range(8))))
        taken = await dead.take(8, 0.1)
        assert taken.size == 8  # ... and the consumer dies without acknowledging
        await asyncio.sleep(0.3)
        claimed = await alive.take(8, 0.1)
        assert sorted(p.native_id for e in claimed.envelopes for p in e.posts) == sorted(
            raw(i).native_id for i in range(8)
        )
        await alive.ack(claimed)
        assert await alive.redis.xlen(stream) == 0
    finally:
        await alive.redis.delete(stream, f"{stream}:posts")
        await dead.close()
        await alive.close()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def test_worker_killed_mid_batch_every_post_processed_once(
    redis_url: str, backend: str, request: pytest.FixtureRequest
) -> None:
    url = (
        request.getfixturevalue("sqlite_url")
        if backend == "sqlite"
        else request.getfixturevalue("migrated_pg_url")
    )
    stream = f"test:{uuid.uuid4().hex}"
    settings = Settings(database_url=url, home=str(ROOT), classifier="keyword")
    engine = db.create_engine(url)
    await db.upgrade(engine)

    class StallingClassifier(KeywordClassifier):
        """Worker one dies here: after taking a batch, before storing its results."""

        async def analyse(self, texts):  # type: ignore[no-untyped-def]
            await asyncio.sleep(3600)

    def make(consumer: str, classifier: KeywordClassifier) -> Pipeline:
        return Pipeline(
            engine,
            KeyedIngestor.from_settings(settings, ROOT, engine),
            classifier,
            _NoRules(),
            queue=queue(redis_url, stream, consumer, visibility=0.5),
            batch_size=16,
            max_wait=0.05,
        )

    n = 64
    producer = make("producer", KeywordClassifier())
    first = make("first", StallingClassifier())
    second = make("second", KeywordClassifier())
    try:
        for i in range(0, n, 8):
            await producer.deliver("test", [raw(j) for j in range(i, i + 8)], cursor=None)
        await first.start()
        await asyncio.sleep(0.5)  # it has taken a batch and stored its posts, unprocessed
        await first.stop(drain=False)  # killed: its entries stay pending in the group
        await second.start()
        await asyncio.wait_for(second.drain(), 30)
        async with engine.connect() as conn:
            total = (await conn.execute(select(func.count()).select_from(posts))).scalar_one()
            done = (
                await conn.execute(
                    select(func.count()).select_from(posts).where(posts.c.processed_at.is_not(None))
                )
            ).scalar_one()
            evidence = (
                await conn.execute(select(func.count()).select_from(alert_posts))
            ).scalar_one()
            distinct_evidence = (
                await conn.execute(select(func.count(func.distinct(alert_posts.c.post_id))))
            ).scalar_one()
        assert (total, done) == (n, n)
        assert second.stats.processed == n  # including those the first worker had stored
        assert evidence == distinct_evidence  # no post's results recorded twice
    finally:
        await second.stop(drain=False)
        await producer.queue.redis.delete(stream, f"{stream}:posts")  # type: ignore[attr-defined]
        for p in (producer, first, second):
            await p.queue.close()
        await engine.dispose()


class _NoRules:
    def evaluate(self, post, scores, now):  # type: ignore[no-untyped-def]
        return ()


async def test_a_push_accepted_scaled_out_is_on_the_stream_before_the_answer(
    redis_url: str, sqlite_url: str
) -> None:
    """Issue 13, finding 1, scaled out: `accept` returns once the stream holds the posts, so
    a web process killed right after its 202 loses nothing; a worker then processes them."""
    stream = f"test:{uuid.uuid4().hex}"
    settings = Settings(database_url=sqlite_url, home=str(ROOT), classifier="keyword")
    engine = db.create_engine(sqlite_url)
    await db.upgrade(engine)

    def make(consumer: str) -> Pipeline:
        return Pipeline(
            engine,
            KeyedIngestor.from_settings(settings, ROOT, engine),
            KeywordClassifier(),
            _NoRules(),
            queue=queue(redis_url, stream, consumer),
        )

    web = make("web")  # a web role: it produces, it does not consume
    worker = make("worker")
    try:
        await web.accept("push", [raw(i) for i in range(10)])
        assert await web.queue.redis.xlen(stream) == 3  # 10 posts in entries of 4
        await web.queue.close()  # the web process is gone; the stream keeps the posts
        await worker.start()
        assert await worker.drain(timeout=30)
        async with engine.connect() as conn:
            done = (
                await conn.execute(
                    select(func.count()).select_from(posts).where(posts.c.processed_at.is_not(None))
                )
            ).scalar_one()
        assert done == 10
    finally:
        await worker.stop(drain=False)
        await worker.queue.redis.delete(stream, f"{stream}:posts")
        await worker.queue.close()
        await engine.dispose()


@pytest.mark.skipif(not hasattr(socket, "TCP_KEEPIDLE"), reason="TCP_KEEPIDLE is Linux's name")
async def test_the_queue_connection_notices_a_silent_server_within_a_minute(
    redis_url: str,
) -> None:
    """Reads have no client timeout (a stop must never be swallowed by one), so a Redis gone
    silent behind a dead network is found by TCP keepalive, set on the socket itself (redis-py
    probes after 30 s idle, every 5 s, 3 times), not after the kernel's default two hours."""
    q = queue(redis_url, f"test:{uuid.uuid4().hex}", "a")
    try:
        await q.redis.ping()
        conn = await q.redis.connection_pool.get_connection()
        try:
            sock = conn._writer.transport.get_extra_info("socket")  # type: ignore[union-attr]
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            idle = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
            interval = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL)
            probes = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT)
            assert idle + interval * probes <= 60, (idle, interval, probes)
        finally:
            await q.redis.connection_pool.release(conn)
    finally:
        await q.close()


async def test_an_entry_that_cannot_be_read_is_set_aside_not_retried_for_ever(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An entry `put` did not write (a release writing another format during a rolling
    upgrade, a hand-made XADD) failed every take, and, claimed again after the visibility
    timeout, restarted the worker until the process gave up. It is moved to `<stream>:dead`
    with the reason, and the good entries around it are delivered."""
    stream = f"test:{uuid.uuid4().hex}"
    q = queue(redis_url, stream, "a", visibility=0.1)
    try:
        await q.put(Envelope("src", (raw(1),)))
        await q.redis.xadd(stream, {"env": "{not json", "n": "1"})
        await q.redis.xadd(stream, {"env": '{"source": "src"}', "n": "x"})
        await q.redis.incrby(f"{stream}:posts", 1)
        await q.put(Envelope("src", (raw(2),)))
        got = await q.take(64, 0.1)
        assert [p.native_id for e in got.envelopes for p in e.posts] == [
            raw(1).native_id,
            raw(2).native_id,
        ]
        await q.ack(got)
        assert await q.redis.xlen(stream) == 0  # nothing left to be claimed again
        assert (await q.redis.xpending(stream, q.settings.group))["pending"] == 0
        assert await q.measure() == 0  # the post count did not drift
        dead = await q.redis.xrange(f"{stream}:dead")
        assert len(dead) == 2
        assert "JSONDecodeError" in dead[0][1]["error"] and dead[0][1]["env"] == "{not json"
        assert "KeyError" in dead[1][1]["error"]
        assert sum("cannot be read" in r.getMessage() for r in caplog.records) == 2
    finally:
        await q.redis.delete(stream, f"{stream}:posts", f"{stream}:dead")
        await q.close()
