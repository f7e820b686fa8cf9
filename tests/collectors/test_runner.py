"""Building and running the configured collectors; their health in a private registry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from monitor.collectors.config import parse_sources
from monitor.collectors.health import BLOCKED_AFTER, CollectorMetrics, SourceHealth
from monitor.collectors.jetstream import JetstreamCollector
from monitor.collectors.mastodon import MastodonCollector
from monitor.collectors.reddit import RedditCollector
from monitor.collectors.rss import RssCollector
from monitor.collectors.runner import CollectorSet, build_collector, build_filter
from monitor.tasks import stop_task
from monitor.types import RawPost
from tests.collectors.conftest import FIXTURES, MemorySink, ScriptedHttp, post_frame, wait_until

UA = "python:uk.gov.example.monitor:v0.1 (by /u/ExampleCouncilData)"
CONFIGS = parse_sources(
    [
        {"kind": "jetstream", "name": "bsky", "places": ["Exampletown"]},
        {
            "kind": "mastodon",
            "name": "m",
            "servers": ["m.example"],
            "hashtags": ["x"],
            "token_env": "M_TOKEN",
        },
        {"kind": "rss", "name": "news", "feeds": ["https://a.example/rss"]},
        {
            "kind": "reddit",
            "name": "r",
            "subreddits": ["exampletown"],
            "client_id_env": "R_ID",
            "client_secret_env": "R_SECRET",
            "user_agent": UA,
        },
    ],
    "test",
)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def test_each_kind_builds_its_collector_with_secrets_from_the_environment(
    session: aiohttp.ClientSession, sink: MemorySink
) -> None:
    env = {"M_TOKEN": "fictional-token", "R_ID": "id"}  # R_SECRET missing
    built = [build_collector(c, session, sink, environ=env) for c in CONFIGS]
    jet, masto, rss, reddit = built
    assert isinstance(jet, JetstreamCollector) and isinstance(rss, RssCollector)
    assert isinstance(masto, MastodonCollector) and masto._token == "fictional-token"
    assert isinstance(reddit, RedditCollector) and reddit._credentials is None
    assert [c.health.kind for c in built] == ["jetstream", "mastodon", "rss", "reddit"]


def test_the_filter_adds_the_gazetteer_matcher_when_given() -> None:
    jet_config, _, rss_config, _ = CONFIGS

    def gazetteer(text: str) -> bool:
        return "Northfield" in text

    jet = build_filter(jet_config, gazetteer)
    assert jet("Exampletown fair") and jet("Northfield fair") and not jet("cricket")
    rss = build_filter(rss_config, gazetteer)  # no terms of its own: the gazetteer decides
    assert rss("Northfield") and not rss("cricket")
    assert build_filter(rss_config)("anything at all")


async def test_a_set_runs_collectors_and_drains_a_stream_on_stop(
    session: aiohttp.ClientSession,
    sink: MemorySink,
    http: ScriptedHttp,
    jetstream_server: Callable[..., Any],
) -> None:
    http.serve("/rss", (FIXTURES / "rss" / "council_news.rss").read_bytes())
    frames = [post_frame(i, f"Exampletown fictional post {i}") for i in range(3)]
    stream = await jetstream_server(frames)
    configs = parse_sources(
        [
            {"kind": "rss", "name": "news", "feeds": [http.base + "/rss"]},
            {
                "kind": "jetstream",
                "name": "bsky",
                "hosts": [stream.url],
                "places": ["Exampletown"],
                "batch_size": 1000,
                "flush_seconds": 3600,
            },
            {"kind": "rss", "name": "off", "feeds": [http.base + "/rss"], "enabled": False},
        ],
        "test",
    )
    registry = CollectorRegistry()
    collectors = CollectorSet.build(configs, session, sink, registry)
    assert [c.name for c in collectors.collectors] == ["news", "bsky"]
    reports: list[list[dict[str, Any]]] = []

    async def report(snapshots: list[dict[str, Any]]) -> None:
        reports.append(snapshots)

    collectors.start(report, report_seconds=0.01)
    await wait_until(lambda: len(sink.posts) == 3 and stream.sent == 3 and bool(reports))
    await collectors.stop()  # the three queued Bluesky posts are applied, not dropped
    assert len(sink.posts) == 6
    assert sink.cursors["bsky"] == "1787220930002000"
    assert {s["name"]: s["state"] for s in collectors.snapshot()} == {
        "news": "stopped",
        "bsky": "stopped",
    }
    assert [s["name"] for s in reports[-1]] == ["news", "bsky"]
    metrics = generate_latest(registry).decode()
    assert 'monitor_source_posts_total{source="news"} 3.0' in metrics
    assert 'monitor_source_posts_total{source="bsky"} 3.0' in metrics


def test_health_records_and_metrics() -> None:
    registry = CollectorRegistry()
    health = SourceHealth("news", "rss", CollectorMetrics(registry))
    now = datetime(2026, 8, 20, 10, 0, tzinfo=UTC)
    for _ in range(BLOCKED_AFTER - 1):
        health.auth_failure("HTTP 403")
    assert not health.looks_blocked and health.state == "backoff"
    health.auth_failure("HTTP 403")
    assert health.looks_blocked and health.state == "blocked"
    assert 'monitor_source_looks_blocked{source="news"} 1.0' in generate_latest(registry).decode()
    health.rate_limited()
    health.malformed()
    health.observe_event(datetime(2026, 8, 20, 9, 59, 30, tzinfo=UTC), now)
    health.success(now)
    snap = health.snapshot()
    assert snap["looks_blocked"] is False and snap["state"] == "ok"
    assert snap["lag_seconds"] == 30.0 and snap["error_count"] == BLOCKED_AFTER
    assert snap["rate_limit_waits"] == 1 and snap["malformed_count"] == 1
    assert snap["last_success"] == "2026-08-20T10:00:00+00:00"
    text = generate_latest(registry).decode()
    assert 'monitor_source_looks_blocked{source="news"} 0.0' in text
    assert 'monitor_source_errors_total{kind="auth",source="news"} 3.0' in text
    assert 'monitor_source_lag_seconds{source="news"} 30.0' in text
    # Two services in one process keep apart: each has its own registry.
    other = SourceHealth("news", "rss", CollectorMetrics(CollectorRegistry()))
    other.malformed()
    assert 'monitor_source_malformed_total{source="news"} 1.0' in generate_latest(registry).decode()


class DeliverMoment:
    """A sink whose deliveries go through `asyncio.wait_for`, as a client with a timeout sends
    its commands (redis-py's, for a queue on Redis), and that wakes a waiter as a delivery
    completes, before `wait_for` hands it back to the collector. On Python 3.11 `wait_for`
    drops a cancellation landing at that moment."""

    def __init__(self, inner: MemorySink) -> None:
        self.inner = inner
        self.reached: asyncio.Future[None] | None = None

    async def deliver(self, source: str, posts: Sequence[RawPost], cursor: str | None) -> None:
        async def delivery() -> None:
            await self.inner.deliver(source, posts, cursor)
            if self.reached is not None and not self.reached.done():
                self.reached.set_result(None)

        await asyncio.wait_for(delivery(), 30)

    async def load_cursor(self, source: str) -> str | None:
        return await self.inner.load_cursor(source)

    async def delete_posts(self, post_ids: Sequence[str]) -> int:
        return await self.inner.delete_posts(post_ids)

    async def delete_author(self, platform: str, author_id: str) -> int:
        return await self.inner.delete_author(platform, author_id)


async def test_a_set_stops_when_a_collectors_cancellation_lands_as_a_delivery_completes(
    session: aiohttp.ClientSession, sink: MemorySink, http: ScriptedHttp
) -> None:
    """The collector carried on (to its next poll, 15 minutes on) and the stop, with it
    `monitor run`, waited for it."""
    http.serve("/rss", (FIXTURES / "rss" / "council_news.rss").read_bytes())
    configs = parse_sources([{"kind": "rss", "name": "news", "feeds": [http.base + "/rss"]}], "t")
    moment = DeliverMoment(sink)
    collectors = CollectorSet.build(configs, session, moment)
    moment.reached = asyncio.get_running_loop().create_future()
    collectors.start()
    async with asyncio.timeout(10):  # not `wait_for`, whose own hop would let the collector on
        await moment.reached
    stopping = asyncio.ensure_future(collectors.stop())  # before the collector has its answer
    done, _ = await asyncio.wait({stopping}, timeout=5)
    if not done:  # free what hung so that the failure is reported, not the run hung
        for task in asyncio.all_tasks():
            if task.get_name() == "collector:news":
                await stop_task(task)
        await asyncio.wait({stopping}, timeout=5)
    assert done, "the collectors' stop had not returned 5 s after it began"
    stopping.result()
    assert len(sink.posts) == 3
    assert [s["state"] for s in collectors.snapshot()] == ["stopped"]
