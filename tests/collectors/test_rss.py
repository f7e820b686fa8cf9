"""RSS/Atom: recorded documents parse to plain text; conditional GET avoids refetching; items
are stored once across polls and restarts; bad feeds and 429s don't stop the source."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from monitor.collectors.common import Backoff, MalformedPayload
from monitor.collectors.health import CollectorMetrics, SourceHealth
from monitor.collectors.rss import RssCollector, RssConfig, parse_feed
from monitor.collectors.text import KeywordFilter, TextFilter
from tests.collectors.conftest import FIXTURES, FakeClock, MemorySink, ScriptedHttp

NOW = datetime(2026, 8, 20, 12, 0, tzinfo=UTC)
COUNCIL = "https://www.example-council.gov.uk/news/rss"


def doc(name: str) -> bytes:
    return (FIXTURES / "rss" / name).read_bytes()


def test_rss_items_become_plain_text_posts_with_stable_ids() -> None:
    feed = parse_feed(doc("council_news.rss"), COUNCIL, NOW)
    assert feed.title == "Example Council News"
    assert feed.warning is None
    ids = [p.native_id for p in feed.posts]
    # A bare guid is qualified by its feed; a permalink guid stands alone; no guid: the link.
    assert ids == [
        f"{COUNCIL}#news-2026-08-20-001",
        "https://www.example-council.gov.uk/news/bins",
        "https://www.example-council.gov.uk/news/library",
    ]
    first = feed.posts[0]
    assert first.text == (
        "Statement on town centre event\n\nThe council is aware of social media posts about "
        "Saturday\u2019s gathering in Exampletown square.\nPlease check before you share."
    )
    assert "<" not in first.text and "alert(1)" not in first.text
    assert first.created_at == datetime(2026, 8, 20, 9, 0, tzinfo=UTC)
    assert first.language == "en"
    assert first.author_id == "www.example-council.gov.uk"
    assert first.url == "https://www.example-council.gov.uk/news/statement"


def test_atom_entries_use_content_and_resolve_relative_links() -> None:
    url = "https://gazette.example/feed.atom"
    feed = parse_feed(doc("local_paper.atom"), url, NOW)
    station, cricket = feed.posts
    assert station.native_id == "tag:gazette.example,2026-08-20:/news/station"
    assert station.text.endswith("the force said.\nNo arrests were made.")
    assert station.created_at == datetime(2026, 8, 20, 10, 30, tzinfo=UTC)  # published
    assert cricket.created_at == datetime(2026, 8, 19, 18, 0, tzinfo=UTC)  # updated only
    assert cricket.url == "https://gazette.example/sport/cricket"


def test_an_ill_formed_feed_is_still_read_and_a_non_feed_is_refused() -> None:
    feed = parse_feed(doc("ill_formed.rss"), "https://residents.example/rss", NOW)
    assert feed.warning and "not well-formed" in feed.warning
    assert [p.text for p in feed.posts] == [
        "Meeting about the Exampletown park & ride\n\nAll welcome & free tea"
    ]
    assert feed.posts[0].created_at == NOW  # no date in the item
    with pytest.raises(MalformedPayload):
        parse_feed(doc("not_a_feed.html"), "https://residents.example/rss", NOW)
    with pytest.raises(MalformedPayload):
        parse_feed(b"", "https://residents.example/rss", NOW)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def make(
    http: ScriptedHttp,
    paths: list[str],
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
    accept: TextFilter | None = None,
) -> RssCollector:
    config = RssConfig(name="news", feeds=tuple(http.base + p for p in paths))
    health = SourceHealth("news", "rss", CollectorMetrics(CollectorRegistry()))
    return RssCollector(
        config,
        session,
        sink,
        accept or KeywordFilter(),
        health=health,
        clock=clock,
        backoff=Backoff(5.0, 300.0, random.Random(1)),
    )


async def test_conditional_get_stores_items_once_and_sends_validators(
    http: ScriptedHttp, sink: MemorySink, clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    http.serve(
        "/news/rss",
        doc("council_news.rss"),
        ETag='"v1"',
        Last_Modified="Thu, 20 Aug 2026 09:00:00 GMT",
    )
    collector = make(http, ["/news/rss"], sink, clock, session)
    await collector.start()
    assert await collector.poll_round() == 900.0
    assert len(sink.posts) == 3
    await collector.poll_round()
    second = http.hits("/news/rss")[1]["headers"]
    assert second["If-None-Match"] == '"v1"'
    assert second["If-Modified-Since"] == "Thu, 20 Aug 2026 09:00:00 GMT"
    assert max(sink.offered.values()) == 1  # 304: nothing re-offered
    assert "community-tension-monitor" in second["User-Agent"]


async def test_a_restarted_collector_resumes_with_the_stored_validators(
    http: ScriptedHttp, sink: MemorySink, clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    http.serve("/news/rss", doc("council_news.rss"), ETag='"v1"')
    first = make(http, ["/news/rss"], sink, clock, session)
    await first.start()
    await first.poll_round()
    restarted = make(http, ["/news/rss"], sink, clock, session)
    await restarted.start()
    await restarted.poll_round()
    assert http.hits("/news/rss")[1]["headers"]["If-None-Match"] == '"v1"'
    assert len(sink.posts) == 3 and max(sink.offered.values()) == 1


async def test_a_changed_feed_without_validators_offers_only_new_items(
    http: ScriptedHttp, sink: MemorySink, clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    http.serve("/news/rss", doc("council_news.rss"))
    collector = make(http, ["/news/rss"], sink, clock, session)
    await collector.start()
    await collector.poll_round()
    extra = (
        "<item><title>Road works in Exampletown</title>"
        "<link>https://www.example-council.gov.uk/news/roads</link></item></channel>"
    )
    http.serve("/news/rss", doc("council_news.rss").decode().replace("</channel>", extra))
    await collector.poll_round()
    assert len(sink.posts) == 4
    assert max(sink.offered.values()) == 1


async def test_keywords_and_places_filter_items_before_storage(
    http: ScriptedHttp, sink: MemorySink, clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    http.serve("/news/rss", doc("council_news.rss"))
    accept = KeywordFilter(places=["Exampletown"])
    collector = make(http, ["/news/rss"], sink, clock, session, accept)
    await collector.start()
    await collector.poll_round()
    assert sorted(p.url or "" for p in sink.posts.values()) == [
        "https://www.example-council.gov.uk/news/library",
        "https://www.example-council.gov.uk/news/statement",
    ]


async def test_429_with_retry_after_is_waited_out_then_the_feed_is_read(
    http: ScriptedHttp, sink: MemorySink, clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    http.serve("/news/rss", doc("council_news.rss"))
    http.script("/news/rss", {"status": 429, "headers": {"Retry-After": "120"}})
    collector = make(http, ["/news/rss"], sink, clock, session)
    await collector.start()
    await collector.poll_round()
    assert clock.sleeps == [120.0]
    assert collector.health.rate_limit_waits == 1
    assert not sink.posts
    await collector.poll_round()
    assert len(sink.posts) == 3


async def test_a_broken_feed_is_counted_and_the_other_feeds_still_arrive(
    http: ScriptedHttp,
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    http.serve("/moved", doc("not_a_feed.html"), Content_Type="text/html")
    http.serve("/gazette.atom", doc("local_paper.atom"))
    collector = make(http, ["/moved", "/gone", "/gazette.atom"], sink, clock, session)
    await collector.start()
    delay = await collector.poll_round()
    assert len(sink.posts) == 2
    assert collector.health.malformed_count == 1
    assert collector.health.error_count == 2  # the HTML page and the 404
    assert delay < 900.0  # failures are retried sooner (with backoff)
    assert "404" in caplog.text


async def test_server_errors_back_off_and_the_loop_lives_on(
    http: ScriptedHttp, sink: MemorySink, clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    http.serve("/news/rss", doc("council_news.rss"))
    http.script("/news/rss", {"status": 503}, {"status": 502}, {"status": 500})
    collector = make(http, ["/news/rss"], sink, clock, session)
    await collector.start()
    delays = [await collector.poll_round() for _ in range(4)]
    assert delays[0] < delays[1] < delays[2]
    assert delays[3] == 900.0
    assert len(sink.posts) == 3
    assert collector.health.error_count == 3 and collector.health.state == "ok"


async def test_check_reads_each_feed_once_and_stores_nothing(
    http: ScriptedHttp, sink: MemorySink, clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    http.serve("/news/rss", doc("council_news.rss"))
    http.serve("/moved", doc("not_a_feed.html"))
    ok = await make(http, ["/news/rss"], sink, clock, session).check()
    assert ok.ok and "Example Council News: 3 items, 3 kept" in ok.detail
    bad = await make(http, ["/news/rss", "/moved"], sink, clock, session).check()
    assert not bad.ok and "not an RSS or Atom feed" in bad.detail
    assert not sink.posts and not sink.cursors


async def test_a_server_that_stalls_mid_response_times_out_and_is_retried(
    http: ScriptedHttp, sink: MemorySink, clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    import asyncio

    from aiohttp import web

    async def stall(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/rss+xml"})
        await response.prepare(request)
        await response.write(doc("council_news.rss")[:200])  # half a feed, then silence
        await asyncio.sleep(30)
        return response

    http.serve("/news/rss", doc("council_news.rss"))
    http.script("/news/rss", {"callable": stall})
    config = RssConfig(name="news", feeds=(http.base + "/news/rss",), timeout_seconds=0.3)
    collector = RssCollector(config, session, sink, KeywordFilter(), clock=clock)
    await collector.start()
    delay = await collector.poll_round()
    assert collector.health.error_count == 1 and "Timeout" in (collector.health.last_error or "")
    assert delay < 900.0 and not sink.posts and not sink.cursors
    await collector.poll_round()
    assert len(sink.posts) == 3


async def test_an_item_dated_past_year_9999_in_utc_does_not_stop_its_feed(
    http: ScriptedHttp, sink: MemorySink, clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    # feedparser turns this date into UTC without checking the year (10000): datetime() raised
    # ValueError and the whole feed failed at every poll while the item was in it.
    odd = (
        "<item><title>Fictional: odd date in Exampletown</title>"
        "<link>https://www.example-council.gov.uk/news/odd-date</link>"
        "<dc:date xmlns:dc='http://purl.org/dc/elements/1.1/'>9999-12-31T23:59:59-23:59</dc:date>"
        "</item></channel>"
    )
    http.serve("/news/rss", doc("council_news.rss").decode().replace("</channel>", odd))
    collector = make(http, ["/news/rss"], sink, clock, session)
    await collector.start()
    await collector.poll_round()
    assert collector.health.error_count == 0
    assert len(sink.posts) == 4  # the feed's three, and the odd one dated when it was seen
    kept = sink.posts["rss:https://www.example-council.gov.uk/news/odd-date"]
    assert kept.created_at == clock.now()
