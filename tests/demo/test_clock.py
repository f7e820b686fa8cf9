"""The demo runs on its own clock: a simulated "now" that follows the replayed (fictional)
week, so the digests it sends report that week rather than today's empty days (those digests,
from a whole `monitor demo --once` run: tests/demo/test_once.py)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from monitor.demo.clock import ReplayClock

pytestmark = pytest.mark.slow  # the demo week replayed


ROOT = Path(__file__).resolve().parent.parent.parent


def processed(at: datetime) -> Any:
    """What the pipeline hands its listeners, as far as the clock reads it."""
    return SimpleNamespace(post=SimpleNamespace(created_at=at))


def test_clock_starts_at_the_first_post_and_only_moves_forward(tmp_path: Path) -> None:
    data = tmp_path / "week.jsonl"
    lines = [
        {"created_at": "2026-11-03T10:00:00+00:00"},
        {"created_at": "2026-11-02T09:30:00+00:00"},
        {"created_at": "not a time"},
        {"created_at": "2026-11-06T23:00:00+00:00"},
    ]
    data.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    clock = ReplayClock.for_file(data)
    assert clock() == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    assert clock.end == datetime(2026, 11, 6, 23, 0, tzinfo=UTC)
    clock.advance(datetime(2026, 11, 5, 12, 0, tzinfo=UTC))
    assert clock() == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)  # delivered is not processed
    clock.on_processed([processed(datetime(2026, 11, 4, 12, 0, tzinfo=UTC))])
    clock.on_processed([processed(datetime(2026, 11, 3, 12, 0, tzinfo=UTC))])  # older: stays
    assert clock() == datetime(2026, 11, 4, 12, 0, tzinfo=UTC)
    clock.close(datetime(2026, 11, 9, 8, 0, tzinfo=UTC))  # the week closed on Monday morning
    assert clock() == datetime(2026, 11, 9, 8, 0, tzinfo=UTC)
    assert clock.label == "Mon 02 Nov – Fri 06 Nov 2026"


def test_clock_refuses_a_file_without_times(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "no time"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="no post with a readable created_at"):
        ReplayClock.for_file(data)


DEMO = ROOT / "monitor" / "data" / "demo" / "bradford-scenario.jsonl"


def demo_lines(path: Path, start: str, end: str) -> Path:
    """The bundled week's posts with start <= created_at < end, as a file to replay."""
    lines = [
        line
        for line in DEMO.read_text(encoding="utf-8").splitlines()
        if start <= json.loads(line)["created_at"] < end
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_a_retention_purge_during_the_replay_keeps_the_replayed_weeks_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduled purge fires a minute after start-up, so on a slow (loaded) machine it fell
    inside the demo's replay, judged the posts' age on today's clock and erased the text of
    Thursday's calls to gather before their incident was regrouped: the digests then named
    "Centenary Square" without "Friday 19:00". Here the purge is held until Thursday
    evening's posts are processed and then let go, on any machine."""
    from monitor.classify.keyword import KeywordClassifier
    from monitor.config import Settings
    from monitor.demo.clock import ReplaySink
    from monitor.ingest.importer import import_file
    from monitor.runtime.app import open_runtime
    from monitor.safeguards import retention
    from monitor.safeguards import service as safeguards
    from monitor.store.tables import incidents, posts

    thursday = demo_lines(tmp_path / "thursday.jsonl", "2026-11-05T19", "2026-11-06T00")
    night = demo_lines(tmp_path / "night.jsonl", "2026-11-06T00", "2026-11-06T04")
    week = tmp_path / "week.jsonl"
    week.write_text(thursday.read_text("utf-8") + night.read_text("utf-8"), encoding="utf-8")

    release, purged = asyncio.Event(), asyncio.Event()
    real_job = retention.purge_job

    def held_job(engine: Any, policy: retention.Policy, encodings: Any = None) -> retention.Job:
        job = real_job(engine, policy, encodings)

        async def run(now: datetime) -> object:
            await release.wait()
            try:
                return await job(now)
            finally:
                purged.set()

        return run

    monkeypatch.setattr(retention, "purge_job", held_job)
    monkeypatch.setattr(safeguards, "FIRST_PURGE_AFTER_SECONDS", 0.0)
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'm.db'}",
        home=str(ROOT),
        classifier="keyword",
        alerts_deliver=False,
        recheck_after_hours=0,
        retention_purge_minutes=60,
        # One day: today's clock finds the whole week expired on any date after it, the
        # replayed week's clock none of these posts.
        retention_days=1,
    )
    clock = ReplayClock.for_file(week)
    async with open_runtime(settings, classifier=KeywordClassifier(), replay=clock) as rt:
        rt.pipeline.on_processed(clock.on_processed)
        sink = ReplaySink(rt.pipeline, clock)
        await import_file(thursday, sink, batch_size=settings.ingest_batch_size)
        await rt.pipeline.drain()
        release.set()  # the purge fires here, mid-replay
        await asyncio.wait_for(purged.wait(), timeout=60)
        await import_file(night, sink, batch_size=settings.ingest_batch_size)
        await rt.pipeline.drain()
        async with rt.engine.connect() as conn:
            erased = (
                await conn.execute(select(func.count()).where(posts.c.text.is_(None)))
            ).scalar_one()
            gatherings = [
                r.gathering
                for r in await conn.execute(select(incidents.c.gathering))
                if r.gathering and r.gathering.get("where") == "Centenary Square"
            ]
    assert erased == 0
    # Thursday's "7pm tomorrow" calls outnumber the night's (Saturday's) ones.
    assert [g["when"] for g in gatherings] == ["Friday 19:00"]
