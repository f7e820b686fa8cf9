"""Collector test kit: an in-memory sink that behaves like the store, a fake clock, fixtures.

`MemorySink` follows the store's contract (monitor/runtime/pipeline.py over monitor/store/posts.py):
posts are deduplicated by post id; a delivery's posts and its cursor are committed together or
not at all; a purged post keeps its id (so a replayed create stays out) but loses its text; an
edit replaces the text of a stored, unpurged post and is ignored otherwise.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from monitor.collectors.base import PostSink
from monitor.collectors.common import Backoff
from monitor.collectors.health import CollectorMetrics, SourceHealth
from monitor.collectors.jetstream import JetstreamCollector, JetstreamConfig
from monitor.collectors.text import KeywordFilter
from monitor.types import RawPost

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "collectors"


class SinkDown(RuntimeError):
    """The store is unavailable (used to test that nothing is half-committed)."""


class MemorySink:
    def __init__(self) -> None:
        self.posts: dict[str, RawPost] = {}
        self.purged: set[str] = set()  # ids whose text was purged; no text is kept for them
        self.cursors: dict[str, str] = {}
        self.offered: Counter[str] = Counter()  # how often each id was delivered (at least once)
        self.deliveries = 0
        self.fail_deliveries = 0  # the next N deliveries raise SinkDown, committing nothing
        self.deleted_calls: list[list[str]] = []
        self.author_calls: list[tuple[str, str]] = []

    async def deliver(self, source: str, posts: Sequence[RawPost], cursor: str | None) -> None:
        await asyncio.sleep(0)  # a real store yields to the loop here
        if self.fail_deliveries:
            self.fail_deliveries -= 1
            raise SinkDown("store unavailable")
        staged = dict(self.posts)
        for post in posts:
            self.offered[post.post_id] += 1
            if post.post_id in staged or post.post_id in self.purged:
                continue
            staged[post.post_id] = replace(post, source=source)
        self.posts = staged
        if cursor is not None:
            self.cursors[source] = cursor
        self.deliveries += 1

    async def load_cursor(self, source: str) -> str | None:
        return self.cursors.get(source)

    async def delete_posts(self, post_ids: Sequence[str]) -> int:
        self.deleted_calls.append(list(post_ids))
        n = 0
        for pid in post_ids:
            if pid in self.posts:
                del self.posts[pid]
                self.purged.add(pid)
                n += 1
        return n

    async def delete_author(self, platform: str, author_id: str) -> int:
        self.author_calls.append((platform, author_id))
        gone = [
            pid
            for pid, p in self.posts.items()
            if p.platform == platform and p.author_id == author_id
        ]
        return await self.delete_posts(gone)

    async def update_post(self, post: RawPost) -> None:
        if post.post_id in self.posts:
            self.posts[post.post_id] = replace(post, source=self.posts[post.post_id].source)

    def texts(self) -> list[str]:
        return [p.text for p in self.posts.values()]

    def holds_text(self, fragment: str) -> bool:
        """Whether `fragment` survives anywhere in the sink's state (posts, cursors, anything)."""
        return fragment in repr(vars(self))


class FakeClock:
    """Time stands still unless slept through; sleeps are recorded and return at once."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 8, 20, 10, 20, tzinfo=UTC)
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.current += timedelta(seconds=seconds)
        await asyncio.sleep(0.001)  # let the server and the test run between retries


def load_text(*parts: str) -> str:
    return FIXTURES.joinpath(*parts).read_text(encoding="utf-8")


def load_json(*parts: str) -> Any:
    return json.loads(load_text(*parts))


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for `condition` (polling); fail the test with a clear message on timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.01)


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# --- a Jetstream server that speaks the v1 /subscribe wire ------------------------------------

BASE_US = 1787220930000000


def post_frame(i: int, text: str, did: str | None = None, time_us: int | None = None) -> str:
    """A create frame in the recorded v1 shape (synthetic DID, rkey and text)."""
    return json.dumps(
        {
            "did": did or f"did:plc:fict{i % 7:020d}",
            "time_us": time_us if time_us is not None else BASE_US + i * 1000,
            "kind": "commit",
            "commit": {
                "rev": f"3mq2rev{i:06d}",
                "operation": "create",
                "collection": "app.bsky.feed.post",
                "rkey": f"3mq2rk{i:06d}",
                "record": {
                    "$type": "app.bsky.feed.post",
                    "createdAt": "2026-08-20T10:15:29.871Z",
                    "langs": ["en"],
                    "text": text,
                },
                "cid": f"bafyreifake{i:06d}",
            },
        },
        separators=(",", ":"),
    )


def delete_frame(i: int, time_us: int, did: str | None = None) -> str:
    return json.dumps(
        {
            "did": did or f"did:plc:fict{i % 7:020d}",
            "time_us": time_us,
            "kind": "commit",
            "commit": {
                "rev": f"3mq2del{i:06d}",
                "operation": "delete",
                "collection": "app.bsky.feed.post",
                "rkey": f"3mq2rk{i:06d}",
            },
        },
        separators=(",", ":"),
    )


def frame_time(frame: str) -> int | None:
    try:
        value = json.loads(frame).get("time_us")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


class JetstreamServer:
    """Replays `frames` from the requested cursor, one connection script at a time.

    A script entry is a dict: {"close_after": n} closes the socket after n frames,
    {"stall_after": n} goes silent after n frames (socket left open), {"status": 403}
    refuses the upgrade with that HTTP status (plus optional "headers").
    """

    def __init__(self, frames: list[str], scripts: list[dict[str, Any]] | None = None) -> None:
        self.frames = frames
        self.scripts = scripts or []
        self.connections: list[dict[str, Any]] = []
        self.sent = 0

    def selected(self, cursor: int | None) -> list[str]:
        if cursor is None:
            return list(self.frames)
        out: list[str] = []
        for frame in self.frames:
            t = frame_time(frame)
            # Frames without a time (errors, garbage) are only sent on a fresh tail.
            if t is not None and t >= cursor:
                out.append(frame)
        return out

    async def handler(self, request: Any) -> Any:
        from aiohttp import web

        n = len(self.connections)
        self.connections.append(
            {
                "cursor": request.query.get("cursor"),
                "wantedCollections": request.query.getall("wantedCollections", []),
                "user_agent": request.headers.get("User-Agent", ""),
            }
        )
        script = self.scripts[n] if n < len(self.scripts) else {}
        if "status" in script:
            return web.Response(status=script["status"], headers=script.get("headers", {}))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        cursor = request.query.get("cursor")
        frames = self.selected(int(cursor) if cursor else None)
        for i, frame in enumerate(frames):
            if i == script.get("close_after"):
                await ws.close()
                return ws
            if i == script.get("stall_after"):
                break
            await ws.send_str(frame)
            self.sent += 1
        async for _ in ws:  # hold the socket open (silent) until the client leaves
            pass
        return ws


@pytest.fixture
async def jetstream_server(aiohttp_server: Any) -> Callable[..., Any]:
    from aiohttp import web

    async def start(frames: list[str], scripts: list[dict[str, Any]] | None = None) -> Any:
        fake = JetstreamServer(frames, scripts)
        app = web.Application()
        app.router.add_get("/subscribe", fake.handler)
        server = await aiohttp_server(app)
        fake.url = str(server.make_url("/subscribe")).replace("http://", "ws://")  # type: ignore[attr-defined]
        return fake

    return start


def exampletown_collector(
    url: str, session: aiohttp.ClientSession, sink: PostSink, batch_size: int
) -> JetstreamCollector:
    """A real Jetstream collector reading `url`, accepting Exampletown posts, flushing every
    `batch_size` frames (never on time), on a fake clock and a seeded backoff."""
    config = JetstreamConfig(
        name="bsky",
        hosts=(url,),
        batch_size=batch_size,
        flush_seconds=60,
        receive_timeout_seconds=5,
    )
    return JetstreamCollector(
        config,
        session,
        sink,
        KeywordFilter(places=["Exampletown"], hashtags=[]),
        health=SourceHealth("bsky", "jetstream", CollectorMetrics(CollectorRegistry())),
        clock=FakeClock(),
        backoff=Backoff(1.0, 60.0, random.Random(7)),
    )


# --- a scripted HTTP server for polled sources -----------------------------------------------


class ScriptedHttp:
    """Serves fixed documents; per-path scripts of responses are used first, one per request.

    A document may carry an ETag; a request with a matching If-None-Match gets 304.
    Every request's path, query and headers are recorded.
    """

    def __init__(self) -> None:
        self.docs: dict[str, tuple[bytes, dict[str, str]]] = {}
        self.scripts: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[dict[str, Any]] = []
        self.base = ""

    def serve(self, path: str, body: bytes | str, **headers: str) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.docs[path] = (data, {k.replace("_", "-"): v for k, v in headers.items()})

    def script(self, path: str, *responses: dict[str, Any]) -> None:
        self.scripts.setdefault(path, []).extend(responses)

    def hits(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]

    async def handler(self, request: Any) -> Any:
        from aiohttp import web

        body_in = await request.read()
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "query_all": list(request.query.items()),
                "headers": dict(request.headers),
                "body": body_in,
            }
        )
        queue = self.scripts.get(request.path)
        if queue:
            step = queue.pop(0)
            if "callable" in step:
                return await step["callable"](request)
            return web.Response(
                status=step.get("status", 200),
                body=step.get("body", b""),
                headers=step.get("headers", {}),
                content_type=step.get("content_type"),
            )
        if request.path not in self.docs:
            return web.Response(status=404, text='{"error":"Record not found"}')
        data, headers = self.docs[request.path]
        etag = headers.get("ETag")
        if etag and request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=data, headers=headers)


@pytest.fixture
async def http(aiohttp_server: Any) -> ScriptedHttp:
    from aiohttp import web

    fake = ScriptedHttp()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handler)
    server = await aiohttp_server(app)
    fake.base = str(server.make_url("")).rstrip("/")
    return fake
