"""Old posts are re-checked on their platform before their excerpts are shown or sent (issue
13, finding 9): against aiohttp test servers speaking Bluesky's `app.bsky.feed.getPosts` and
Mastodon's `GET /api/v1/statuses/:id` shapes (docs: /work/shared/reference/platforms.md). A
post the platform no longer has is purged everywhere; an error or timeout leaves it shown and
is counted; rate limits are respected; a check never takes longer than its bound. All posts,
accounts and servers are fictional."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.safeguards.recheck import BlueskyChecker, MastodonChecker, Rechecker
from monitor.store.tables import alert_posts, post_tombstones, posts
from monitor.types import Post
from tests.privacy.helpers import MANNINGHAM, NOW, make_post, store_posts

OLD = NOW - timedelta(days=3)


def post_view(uri: str, text: str = "(fictional) still here") -> dict[str, Any]:
    """An app.bsky.feed.defs#postView as getPosts returns it (shape from platforms.md)."""
    did = uri.split("/")[2]
    return {
        "uri": uri,
        "cid": "bafyreifakefakefakefakefakefakefakefakefakefakefakefakefake1",
        "author": {"did": did, "handle": "resident.bsky.social", "labels": []},
        "record": {
            "$type": "app.bsky.feed.post",
            "createdAt": "2026-11-17T09:00:00.000Z",
            "text": text,
        },
        "replyCount": 0,
        "repostCount": 0,
        "likeCount": 1,
        "quoteCount": 0,
        "indexedAt": "2026-11-17T09:00:01.000Z",
        "labels": [],
    }


def status(status_id: str, visibility: str = "public") -> dict[str, Any]:
    return {
        "id": status_id,
        "created_at": "2026-11-17T09:00:00.000Z",
        "visibility": visibility,
        "uri": f"https://mastodon.example/users/resident/statuses/{status_id}",
        "content": "<p>(fictional) still here</p>",
        "account": {"id": "1", "username": "resident", "acct": "resident"},
    }


@dataclass
class Platform:
    """Both fake platforms in one server: which posts exist, and scripted trouble."""

    bluesky: dict[str, dict[str, Any]] = field(default_factory=dict)  # uri -> postView
    mastodon: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> Status
    trouble: str | None = None  # "500", "429" or "hang"
    requests: list[str] = field(default_factory=list)
    url: str = ""

    async def get_posts(self, request: web.Request) -> web.Response:
        self.requests.append(request.path_qs)
        if self.trouble == "hang":
            await asyncio.sleep(30)
        if self.trouble == "500":
            return web.json_response({"error": "InternalServerError"}, status=500)
        if self.trouble == "429":
            reset = str(int(NOW.timestamp()) + 300)  # five minutes after the test clock
            return web.json_response(
                {"error": "RateLimitExceeded"},
                status=429,
                headers={"ratelimit-remaining": "0", "ratelimit-reset": reset},
            )
        found = [self.bluesky[u] for u in request.query.getall("uris", []) if u in self.bluesky]
        return web.json_response({"posts": found})

    async def get_status(self, request: web.Request) -> web.Response:
        self.requests.append(request.path_qs)
        found = self.mastodon.get(request.match_info["id"])
        if found is None:
            return web.json_response({"error": "Record not found"}, status=404)
        return web.json_response(found, headers={"X-RateLimit-Remaining": "299"})


@pytest.fixture
async def platform(aiohttp_server: Callable[..., Any]) -> Platform:
    fake = Platform()
    app = web.Application()
    app.router.add_get("/xrpc/app.bsky.feed.getPosts", fake.get_posts)
    app.router.add_get("/api/v1/statuses/{id}", fake.get_status)
    server = await aiohttp_server(app)
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def rechecker(engine: AsyncEngine, session: aiohttp.ClientSession, platform: Platform) -> Rechecker:
    return Rechecker(
        engine,
        {
            "bluesky": BlueskyChecker(session, platform.url, timeout=1.0),
            "mastodon": MastodonChecker(
                session, timeout=1.0, servers={"https://mastodon.example": platform.url}
            ),
        },
        after=timedelta(hours=24),
        timeout=1.5,
    )


def toot(n: int, text: str) -> Post:
    base = make_post(n, text, collected=OLD)
    return Post(
        id=f"mastodon:https://mastodon.example/users/resident{n}/statuses/{9000 + n}",
        platform="mastodon",
        source="test",
        text=text,
        language="en",
        created_at=base.created_at,
        collected_at=OLD,
        author_ref=base.author_ref,
        places=(MANNINGHAM,),
    )


async def excerpts(engine: AsyncEngine) -> dict[str, str | None]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(alert_posts.c.post_id, alert_posts.c.excerpt))
        return {r.post_id: r.excerpt for r in rows.all()}


async def test_posts_gone_or_hidden_on_their_platform_are_purged_everywhere(
    engine: AsyncEngine, session: aiohttp.ClientSession, platform: Platform
) -> None:
    kept_b = make_post(1, "(fictional) everyone to Fern Street at 7pm", collected=OLD)
    gone_b = make_post(2, "(fictional) withdrawn claim about the Greyfield Hotel", collected=OLD)
    young = make_post(3, "(fictional) meet at the Greyfield Hotel tonight", collected=NOW)
    kept_m, gone_m, hidden_m = (
        toot(4, "(fictional) road closed by the station"),
        toot(5, "(fictional) deleted toot about Manningham"),
        toot(6, "(fictional) toot now followers-only"),
    )
    await store_posts(engine, [kept_b, gone_b, young, kept_m, gone_m, hidden_m], alert=True, at=NOW)
    platform.bluesky[kept_b.id.split(":", 1)[1]] = post_view(kept_b.id.split(":", 1)[1])
    platform.mastodon["9004"] = status("9004")
    platform.mastodon["9006"] = status("9006", visibility="private")

    check = rechecker(engine, session, platform)
    async with engine.connect() as conn:
        (alert_id,) = set((await conn.execute(select(alert_posts.c.alert_id))).scalars().all())
    assert await check.verify_alerts([alert_id], NOW) == 3

    shown = await excerpts(engine)
    assert shown[kept_b.id] and shown[kept_m.id] and shown[young.id]
    assert shown[gone_b.id] is None and shown[gone_m.id] is None and shown[hidden_m.id] is None
    async with engine.connect() as conn:
        texts = dict((await conn.execute(select(posts.c.id, posts.c.text))).all())
        dead = set((await conn.execute(select(post_tombstones.c.post_id))).scalars().all())
    assert texts[gone_b.id] is None and texts[kept_b.id] is not None
    assert dead == {gone_b.id, gone_m.id, hidden_m.id}  # a replayed create stays out
    assert not any(young.id.split(":", 1)[1] in r for r in platform.requests)  # too recent
    assert (check.stats.checked, check.stats.purged, check.stats.failures) == (5, 3, 0)
    # Checked once per period: another view asks nothing.
    asked = len(platform.requests)
    await check.verify_alerts([alert_id], NOW + timedelta(hours=1))
    assert len(platform.requests) == asked


@pytest.mark.parametrize("trouble", ["500", "hang"])
async def test_an_error_or_a_silent_platform_leaves_the_excerpt_shown_and_counts_it(
    engine: AsyncEngine, session: aiohttp.ClientSession, platform: Platform, trouble: str
) -> None:
    post = make_post(7, "(fictional) everyone to Fern Street at 7pm", collected=OLD)
    await store_posts(engine, [post], alert=True, at=NOW)
    platform.trouble = trouble
    check = rechecker(engine, session, platform)
    started = time.monotonic()
    async with engine.connect() as conn:
        alert_id = (await conn.execute(select(alert_posts.c.alert_id))).scalar_one()
    assert await check.verify_alerts([alert_id], NOW) == 0
    assert time.monotonic() - started < 3.0  # bounded: a page never hangs on a platform
    assert (await excerpts(engine))[post.id] is not None
    assert check.stats.failures == 1 and check.stats.purged == 0
    from prometheus_client import CollectorRegistry, generate_latest

    from monitor.runtime.metrics import RecheckCollector

    registry = CollectorRegistry()
    registry.register(RecheckCollector(check))
    assert b"monitor_recheck_failures_total 1.0" in generate_latest(registry)


async def test_a_rate_limit_is_respected_until_its_reset(
    engine: AsyncEngine, session: aiohttp.ClientSession, platform: Platform
) -> None:
    post = make_post(8, "(fictional) everyone to Fern Street at 7pm", collected=OLD)
    await store_posts(engine, [post], alert=True, at=NOW)
    platform.trouble = "429"
    check = rechecker(engine, session, platform)
    async with engine.connect() as conn:
        alert_id = (await conn.execute(select(alert_posts.c.alert_id))).scalar_one()
    await check.verify_alerts([alert_id], NOW)
    assert len(platform.requests) == 1
    platform.trouble = None
    await check.verify_alerts([alert_id], NOW + timedelta(minutes=1))
    assert len(platform.requests) == 1  # nothing asked before ratelimit-reset
    assert (await excerpts(engine))[post.id] is not None
    assert check.stats.failures == 2


async def test_a_post_gone_from_its_platform_leaves_the_encoding_cache_too(
    engine: AsyncEngine, session: aiohttp.ClientSession, platform: Platform, tmp_path: Path
) -> None:
    """With `classifier_encoding_cache` on, the rows the classifier wrote for a purged post's
    text (monitor/classify/disk_cache.py) are deleted with it; the others stay."""
    from monitor.classify.disk_cache import DiskCacheConfig, EncodingEraser
    from tests.classify.cache_rows import found, served, store

    kept = make_post(1, "(fictional) everyone to Fern Street at 7pm", collected=OLD)
    gone = make_post(2, "(fictional) withdrawn claim about the Greyfield Hotel", collected=OLD)
    await store_posts(engine, [kept, gone], alert=True, at=NOW)
    platform.bluesky[kept.id.split(":", 1)[1]] = post_view(kept.id.split(":", 1)[1])
    rows = [served(kept.text), served(gone.text)]
    store(tmp_path, rows)
    check = rechecker(engine, session, platform)
    check.encodings = EncodingEraser(DiskCacheConfig(tmp_path, 1000, 30))
    async with engine.connect() as conn:
        (alert_id,) = set((await conn.execute(select(alert_posts.c.alert_id))).scalars().all())

    assert await check.verify_alerts([alert_id], NOW) == 1

    assert found(tmp_path, rows) == {served(kept.text)}
