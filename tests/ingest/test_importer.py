"""The importer's pacing: `--speed` replays a file on its recorded timeline, faster."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.ingest.importer import import_file
from monitor.types import RawPost

START = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.t = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += timedelta(seconds=seconds)


class ListSink:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.delivered: list[tuple[datetime, str]] = []

    async def deliver(self, source: str, posts: Sequence[RawPost], cursor: str | None) -> None:
        self.delivered += [(self.clock.now(), p.native_id) for p in posts]

    async def load_cursor(self, source: str) -> str | None:
        return None


async def test_speed_replays_the_recorded_gaps_shortened(tmp_path: Path) -> None:
    offsets = [0, 60, 60, 180]  # seconds after the first post
    path = tmp_path / "posts.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(
                {
                    "platform": "mastodon",
                    "id": f"https://social.example/users/fictional/statuses/{i}",
                    "text": f"(fictional) post {i}",
                    "created_at": (START + timedelta(seconds=s)).isoformat(),
                }
            )
            for i, s in enumerate(offsets)
        )
        + "\n",
        encoding="utf-8",
    )
    clock = FakeClock()
    sink = ListSink(clock)
    report = await import_file(path, sink, speed=60, clock=clock)  # type: ignore[arg-type]
    assert report.delivered == 4
    started = sink.delivered[0][0]
    released = [(at - started).total_seconds() for at, _ in sink.delivered]
    assert released == [0.0, 1.0, 1.0, 3.0]  # an hour a minute: 60 s of posts in 1 s


async def test_speed_zero_never_waits(tmp_path: Path) -> None:
    path = tmp_path / "posts.jsonl"
    path.write_text(
        json.dumps(
            {"platform": "rss", "id": "g1", "text": "(fictional)", "created_at": START.isoformat()}
        )
        + "\n"
        + json.dumps(
            {
                "platform": "rss",
                "id": "g2",
                "text": "(fictional)",
                "created_at": (START + timedelta(hours=5)).isoformat(),
            }
        )
        + "\n",
        encoding="utf-8",
    )
    clock = FakeClock()
    report = await import_file(path, ListSink(clock), clock=clock)  # type: ignore[arg-type]
    assert (report.delivered, clock.slept) == (2, [])
