"""Jetstream intake speed on one core: frames parsed, filtered and delivered per second.

Rows, all measured in the same run on the same synthetic frames:
- baseline: `json.loads` of each frame and nothing else (the floor any parser pays);
- collector: `JetstreamCollector.handle_frame` per frame (parse, v1/v2 shape checks, keyword and
  place filter, stream-order queue of posts, deletions and account purges, batched delivery
  with the cursor) into an in-memory sink that deduplicates like the store;
- websocket: the same through a real aiohttp websocket on localhost (server and client share the
  core, so this is a lower bound for the client alone).

The stream mimics `wantedCollections=app.bsky.feed.post` as captured in July 2026: mostly post
creates, some deletes, a few identity/account events; about 5% of posts name a watched place.
All text is fictional.

    .venv/bin/python benchmarks/jetstream.py [--frames 50000] [--no-ws]

Aim (issue #3): at least 2,000 frames/s on one core (the whole network's post stream is
~25-60 posts/s, with peaks a few times that).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402

from monitor.collectors.jetstream import JetstreamCollector, JetstreamConfig  # noqa: E402
from monitor.collectors.runner import build_filter  # noqa: E402
from monitor.types import RawPost  # noqa: E402

BASE_US = 1787220930000000
# A district-sized watch list: wards and neighbourhoods (fictional names) and local tags.
PLACES = [
    f"{a}{b}"
    for a in ("North", "South", "East", "West", "Upper", "Lower", "Old", "New")
    for b in (
        "field",
        "brook",
        "moor",
        "gate",
        "ton",
        "ley",
        "wick",
        "bury",
        "holme",
        "thorpe",
        "croft",
        "stead",
        "wood",
        "bridge",
        "ford",
    )
]
HASHTAGS = ["Exampletown", "MakeSureItAddsUp", "ExampletownNews", "NorthfieldFC"]
WORDS = (
    "the bus was late again today and the queue outside the shop went round the corner "
    "lovely weather for a walk by the canal has anyone seen the new mural near the station "
    "thinking about the match tonight what a goal that was last week"
).split()


class CountingSink:
    """Deduplicates by post id and keeps the cursor, like the store (no I/O)."""

    def __init__(self) -> None:
        self.posts: dict[str, RawPost] = {}
        self.cursor: str | None = None
        self.deleted = 0

    async def deliver(self, source: str, posts: Sequence[RawPost], cursor: str | None) -> None:
        for p in posts:
            self.posts.setdefault(p.post_id, p)
        if cursor is not None:
            self.cursor = cursor

    async def load_cursor(self, source: str) -> str | None:
        return self.cursor

    async def delete_posts(self, post_ids: Sequence[str]) -> int:
        n = 0
        for pid in post_ids:
            n += self.posts.pop(pid, None) is not None
        self.deleted += n
        return n

    async def delete_author(self, platform: str, author_id: str) -> int:
        gone = [k for k, p in self.posts.items() if p.author_id == author_id]
        return await self.delete_posts(gone)

    async def update_post(self, post: RawPost) -> None:
        if post.post_id in self.posts:
            self.posts[post.post_id] = post


def make_frames(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    frames: list[str] = []
    created: list[tuple[str, str]] = []  # (did, rkey) of earlier posts, for deletes
    for i in range(n):
        did = f"did:plc:{rng.randrange(200_000):024d}"
        t = BASE_US + i * 20_000
        roll = rng.random()
        if roll < 0.05 and created:
            did, rkey = created.pop(rng.randrange(max(0, len(created) - 500), len(created)))
            body: dict[str, Any] = {
                "did": did,
                "time_us": t,
                "kind": "commit",
                "commit": {
                    "rev": f"3mq{i:010d}",
                    "operation": "delete",
                    "collection": "app.bsky.feed.post",
                    "rkey": rkey,
                },
            }
        elif roll < 0.06:
            body = {
                "did": did,
                "time_us": t,
                "kind": "identity",
                "identity": {
                    "did": did,
                    "handle": "someone.example",
                    "seq": i,
                    "time": "2026-08-20T10:18:19.877Z",
                },
            }
        elif roll < 0.062:
            body = {
                "did": did,
                "time_us": t,
                "kind": "account",
                "account": {
                    "active": False,
                    "did": did,
                    "seq": i,
                    "status": "deleted",
                    "time": "2026-08-20T10:18:19.877Z",
                },
            }
        else:
            words = rng.sample(WORDS, rng.randrange(6, 30))
            if rng.random() < 0.05:
                words.insert(rng.randrange(len(words)), rng.choice(PLACES))
            record: dict[str, Any] = {
                "$type": "app.bsky.feed.post",
                "createdAt": "2026-08-20T10:15:29.871Z",
                "langs": ["en"],
                "text": "(fictional) " + " ".join(words),
            }
            if rng.random() < 0.2:
                tag = rng.choice(HASHTAGS) if rng.random() < 0.1 else "photography"
                record["facets"] = [
                    {
                        "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}],
                        "index": {"byteStart": 0, "byteEnd": 5},
                    }
                ]
            if rng.random() < 0.3:
                parent = f"at://{did}/app.bsky.feed.post/3mqparent{i:06d}"
                record["reply"] = {
                    "parent": {"cid": "bafyfake", "uri": parent},
                    "root": {"cid": "bafyfake", "uri": parent},
                }
            created.append((did, f"3mq{i:09d}"))
            body = {
                "did": did,
                "time_us": t,
                "kind": "commit",
                "commit": {
                    "rev": f"3mq{i:010d}",
                    "operation": "create",
                    "collection": "app.bsky.feed.post",
                    "rkey": f"3mq{i:09d}",
                    "record": record,
                    "cid": f"bafyreifake{i:010d}",
                },
            }
        frames.append(json.dumps(body, separators=(",", ":")))
    return frames


def collector_for(
    sink: CountingSink, hosts: tuple[str, ...] = ("localhost",)
) -> JetstreamCollector:
    config = JetstreamConfig(
        name="bench",
        hosts=hosts,
        places=tuple(PLACES),
        hashtags=tuple(HASHTAGS),
        batch_size=500,
        flush_seconds=2.0,
    )
    session = cast(aiohttp.ClientSession, None)  # handle_frame never touches the network
    return JetstreamCollector(config, session, sink, build_filter(config))


def bench_baseline(frames: list[str]) -> float:
    start = time.perf_counter()
    for f in frames:
        json.loads(f)
    return time.perf_counter() - start


async def bench_collector(frames: list[str]) -> tuple[float, CountingSink]:
    sink = CountingSink()
    collector = collector_for(sink)
    start = time.perf_counter()
    for f in frames:
        await collector.handle_frame(f)
    await collector.flush()
    return time.perf_counter() - start, sink


async def bench_websocket(frames: list[str]) -> tuple[float, CountingSink]:
    """Serve the frames over a localhost websocket; time until the last one is committed."""

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        for f in frames:
            await ws.send_str(f)
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/subscribe", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    sink = CountingSink()
    last = str(json.loads(frames[-1])["time_us"])
    async with aiohttp.ClientSession() as session:
        config = JetstreamConfig(
            name="bench",
            hosts=(f"ws://127.0.0.1:{port}/subscribe",),
            places=tuple(PLACES),
            hashtags=tuple(HASHTAGS),
            batch_size=500,
            flush_seconds=0.2,
        )
        collector = JetstreamCollector(config, session, sink, build_filter(config))
        start = time.perf_counter()
        task = asyncio.create_task(collector.run())
        while sink.cursor != last:
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - start
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
    await runner.cleanup()
    return elapsed, sink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=50_000)
    parser.add_argument("--no-ws", action="store_true", help="skip the websocket row")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    frames = make_frames(args.frames)
    size = sum(len(f) for f in frames) / len(frames)
    base = bench_baseline(frames)
    elapsed, sink = asyncio.run(bench_collector(frames))
    rows = [("baseline: json.loads only", base), ("collector: parse+filter+deliver", elapsed)]
    if not args.no_ws:
        ws_elapsed, ws_sink = asyncio.run(bench_websocket(frames))
        assert len(ws_sink.posts) == len(sink.posts)
        rows.append(("websocket: localhost end to end", ws_elapsed))
    n = len(frames)
    print(
        f"{n} frames, mean {size:.0f} bytes; {len(sink.posts)} posts kept by a filter of "
        f"{len(PLACES)} places + {len(HASHTAGS)} hashtags; {sink.deleted} deletions applied"
    )
    print(f"{'run':34} {'seconds':>9} {'frames/s':>12}")
    for name, seconds in rows:
        print(f"{name:34} {seconds:9.3f} {n / seconds:12,.0f}")
    rate = n / elapsed
    print(f"collector / baseline: {base / elapsed:.2f}x the speed of json.loads alone")
    print(
        f"aim 2,000 frames/s on one core: {'met' if rate >= 2000 else 'NOT met'} "
        f"({rate / 2000:.1f}x)"
    )


if __name__ == "__main__":
    main()
