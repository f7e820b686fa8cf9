"""Every role answers /healthz, /readyz and /metrics (issue 14): scaled out, the collector,
worker and scheduler serve them on their own ports, and `monitor_queue_depth` is read from the
Redis stream itself, so every role reports the posts waiting there, not the 0 a process that
never took from the stream saw. Against the real PostgreSQL and Redis servers."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.runtime.app import open_runtime
from monitor.runtime.probes import PORT_SETTINGS, serve_probes
from monitor.runtime.queues import Envelope, RedisSettings, RedisStreamQueue
from monitor.runtime.state import Runtime
from monitor.types import RawPost
from tests.conftest import ROOT, free_port
from tests.runtime.scaled import scaled_out

pytestmark = [pytest.mark.redis]

START = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
DEPTH = re.compile(r"^monitor_queue_depth (\S+)$", re.MULTILINE)


def raw(i: int) -> RawPost:
    return RawPost(
        platform="bluesky",
        native_id=f"at://did:plc:fictional{i % 5}/app.bsky.feed.post/p{i}",
        text=f"(fictional) the market in Toller is closing early today {i}",
        created_at=START + timedelta(seconds=i),
        author_id=f"did:plc:fictional{i % 5}",
        source="test",
    )


def stream_queue(url: str, stream: str, consumer: str) -> RedisStreamQueue:
    return RedisStreamQueue(
        RedisSettings(url=url, stream=stream, consumer=consumer, visibility_timeout=0.2, chunk=4)
    )


async def test_the_stream_s_depth_in_posts_is_read_by_any_process(redis_url: str) -> None:
    stream = f"test:{uuid.uuid4().hex}"
    producer = stream_queue(redis_url, stream, "producer")
    other = stream_queue(redis_url, stream, "other")  # another process: never put or took
    worker = stream_queue(redis_url, stream, "worker")
    late = stream_queue(redis_url, stream, "late")
    try:
        assert await other.measure() == 0
        await producer.put(Envelope("a", tuple(raw(i) for i in range(10))))  # entries 4, 4, 2
        await producer.put(Envelope("b", (raw(10),)))
        assert other.depth() == 0  # what the old gauge showed in a role that never took
        assert await other.measure() == 11
        taken = await worker.take(max_posts=8, max_wait=0.1)
        assert taken.size == 8
        assert await other.measure() == 11  # taken but not acknowledged: still to do
        await worker.ack(taken)
        assert await other.measure() == 3
        # A worker too slow for the visibility timeout: its entries are claimed by another,
        # and both acknowledge them. The posts are taken off the count once.
        slow = await worker.take(max_posts=8, max_wait=0.1)
        await asyncio.sleep(0.3)
        claimed = await late.take(max_posts=8, max_wait=0.1)
        assert sorted(claimed.token) == sorted(slow.token)
        await late.ack(claimed)
        await worker.ack(slow)
        assert await other.measure() == 0
        assert int(await other.redis.get(other.count_key) or 0) == 0
    finally:
        await producer.redis.delete(stream, producer.count_key)
        for q in (producer, other, worker, late):
            await q.close()


async def test_entries_without_a_count_are_counted_one_post_each(redis_url: str) -> None:
    """A stream an older version filled (entries without `n`) never reads as empty."""
    stream = f"test:{uuid.uuid4().hex}"
    q = stream_queue(redis_url, stream, "c")
    try:
        for i in range(3):
            await q.redis.xadd(stream, {"env": '{"source": "old", "posts": []}', "i": i})
        assert await q.measure() == 3
    finally:
        await q.redis.delete(stream, q.count_key)
        await q.close()


@asynccontextmanager
async def role(settings: Settings, name: str) -> AsyncIterator[tuple[Runtime, str]]:
    """A runtime of this role serving its probes; yields it and its base URL."""
    async with open_runtime(settings, classifier=KeywordClassifier(), role=name) as rt:
        runner = await serve_probes(rt)
        assert runner is not None, f"role {name} serves no probes"
        try:
            port = getattr(settings, PORT_SETTINGS[name])
            yield rt, f"http://127.0.0.1:{port}"
        finally:
            await runner.cleanup()


async def get(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url) as response:
        return response.status, await response.text()


def depth_of(metrics: str) -> float:
    found = DEPTH.search(metrics)
    assert found, "no monitor_queue_depth in /metrics"
    return float(found.group(1))


@pytest.mark.postgres
async def test_collector_worker_and_scheduler_each_serve_health_and_metrics(
    migrated_pg_url: str, redis_url: str
) -> None:
    stream = f"test:{uuid.uuid4().hex}"
    ports = {name: free_port() for name in PORT_SETTINGS}
    settings = scaled_out(
        migrated_pg_url,
        redis_url,
        stream,
        collector_port=ports["collector"],
        worker_port=ports["worker"],
        scheduler_port=ports["scheduler"],
    )
    async with (
        aiohttp.ClientSession() as http,
        role(settings, "scheduler") as (_, scheduler),
        role(settings, "collector") as (collector_rt, collector),
    ):
        # Posts wait on the stream and no worker runs yet: every role says how many.
        await collector_rt.pipeline.deliver("test", [raw(i) for i in range(30)], cursor=None)
        for base in (collector, scheduler):
            status, body = await get(http, f"{base}/metrics")
            assert status == 200
            assert depth_of(body) == 30, base
        deadline = time.monotonic() + 30  # the scheduler takes the lead at its first try
        while "monitor_scheduler_leader 1.0" not in (await get(http, f"{scheduler}/metrics"))[1]:
            assert time.monotonic() < deadline, "the only scheduler never led"
            await asyncio.sleep(0.1)
        for base, name in ((collector, "collector"), (scheduler, "scheduler")):
            status, body = await get(http, f"{base}/healthz")
            assert status == 200 and f'"role": "{name}"' in body, body
            status, body = await get(http, f"{base}/readyz")
            assert status == 200 and '"store": "writable"' in body, body
        assert (await get(http, f"{collector}/"))[0] == 404  # nothing but the probes

        async with role(settings, "worker") as (worker_rt, worker):
            status, body = await get(http, f"{worker}/healthz")
            assert status == 200 and '"role": "worker"' in body, body
            await asyncio.wait_for(worker_rt.pipeline.queue.join(), 60)
            status, body = await get(http, f"{worker}/readyz")
            assert status == 200 and '"queue_depth": 0' in body, body
            for base in (collector, worker, scheduler):
                assert depth_of((await get(http, f"{base}/metrics"))[1]) == 0, base
            body = (await get(http, f"{worker}/metrics"))[1]
            assert "monitor_posts_processed_total 30.0" in body
        await collector_rt.pipeline.queue.redis.delete(stream, f"{stream}:posts")  # type: ignore[attr-defined]


@pytest.mark.postgres
@pytest.mark.slow
def test_monitor_run_role_worker_serves_its_probes(
    migrated_pg_url: str, redis_url: str, tmp_path: Path
) -> None:
    """The command itself: `monitor run --role worker` answers on worker_port."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        MONITOR_DATABASE_URL=migrated_pg_url,
        MONITOR_HOME=str(ROOT),
        MONITOR_CLASSIFIER="keyword",
        MONITOR_QUEUE_URL=redis_url,
        MONITOR_QUEUE_STREAM=f"test:{uuid.uuid4().hex}",
        MONITOR_WORKER_PORT=str(port),
        MONITOR_RETENTION_PURGE_MINUTES="0",
    )
    log = (tmp_path / "worker.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--role", "worker"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        answers: dict[str, tuple[int, str]] = {}
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                answers = {
                    path: _fetch(f"http://127.0.0.1:{port}{path}")
                    for path in ("/healthz", "/readyz", "/metrics")
                }
                break
            except OSError:
                time.sleep(0.2)
        assert answers, (tmp_path / "worker.log").read_text()[-2000:]
        assert answers["/healthz"][0] == 200 and '"role": "worker"' in answers["/healthz"][1]
        assert answers["/readyz"][0] == 200, answers["/readyz"][1]
        assert depth_of(answers["/metrics"][1]) == 0
        # SIGTERM: the worker role drains nothing (the stream keeps what it did not take).
        proc.terminate()
        code = proc.wait(60)
        assert code == 0, (tmp_path / "worker.log").read_text()[-2000:]
    finally:
        # Whatever failed above, no `monitor run` outlives the test (one that hung on SIGTERM
        # ran on for minutes, retrying its jobs against the dropped database).
        proc.terminate()
        try:
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()


def _fetch(url: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_each_role_s_port_is_its_own_by_default() -> None:
    s = Settings()
    ports = [s.web_port, *(getattr(s, name) for name in PORT_SETTINGS.values())]
    assert len(set(ports)) == len(ports) and all(ports)
