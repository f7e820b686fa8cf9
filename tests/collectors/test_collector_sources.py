"""Finding 18: posts are stored under the source that collected them, not "import"."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import aiohttp

from monitor.types import RawPost
from tests.collectors.conftest import BASE_US, FakeClock, MemorySink, wait_until
from tests.collectors.test_jetstream import make, running, stream


class SourceRecordingSink(MemorySink):
    """The pipeline stores each RawPost's own `source`; this sink keeps what it was handed."""

    def __init__(self) -> None:
        super().__init__()
        self.handed: list[str] = []

    async def deliver(self, source: str, posts: Sequence[RawPost], cursor: str | None) -> None:
        self.handed.extend(p.source for p in posts)
        await super().deliver(source, posts, cursor)


async def test_jetstream_posts_carry_their_source_name(
    jetstream_server: Callable[..., Any], clock: FakeClock
) -> None:
    sink = SourceRecordingSink()
    frames, kept = stream(6)
    server = await jetstream_server(frames)
    async with aiohttp.ClientSession() as session:
        collector = make(server.url, sink, clock, session)
        async with running(collector):
            await wait_until(lambda: sink.cursors.get("bsky") == str(BASE_US + 5000))
    assert len(sink.handed) == len(kept)
    assert set(sink.handed) == {"bsky"}
