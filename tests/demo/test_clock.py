"""The demo runs on its own clock: a simulated "now" that follows the replayed (fictional)
week, so the digests it sends report that week rather than today's empty days."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
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


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], Path]:
    """`monitor demo --once --json` on the bundled week, as a newcomer runs it."""
    home = tmp_path_factory.mktemp("demo")
    db = home / "m.db"
    env = dict(os.environ)
    env.update(MONITOR_DATABASE_URL=f"sqlite+aiosqlite:///{db}", MONITOR_HOME=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "demo", "--once", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=home,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout), db


def digest_text(db: Path, digest: str, period: str) -> str:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "select text from digest_runs where digest = ? and period = ?", (digest, period)
        ).fetchone()
    assert row is not None, f"{digest} for {period} was not sent"
    return str(row[0])


def test_demo_sends_the_weeks_digests_on_the_weeks_days(
    demo_run: tuple[dict[str, object], Path],
) -> None:
    summary, db = demo_run
    assert summary["replayed_week"] == "Mon 02 Nov – Fri 06 Nov 2026"
    sent = summary["digests_sent"]
    assert isinstance(sent, list)
    # Each morning of the week, and the weekly summary of the whole week the Monday after.
    assert "liaison-daily 2026-11-06T07:00" in sent
    assert "tension-weekly 2026-11-09T08:00" in sent
    with sqlite3.connect(db) as conn:
        late = conn.execute("select count(*) from digest_runs where late").fetchone()[0]
    assert late == 0  # sent on the replay's clock, not caught up on today's


def test_demo_digests_are_not_empty_and_name_the_weeks_incidents(
    demo_run: tuple[dict[str, object], Path],
) -> None:
    _, db = demo_run
    daily = digest_text(db, "liaison-daily", "2026-11-06T07:00")
    assert "Little Horton" in daily
    assert "Centenary Square, Friday 19:00" in daily
    assert "critical" in daily
    assert "No incidents in this period" not in daily
    weekly = digest_text(db, "tension-weekly", "2026-11-09T08:00")
    assert "Tension after the fire in Little Horton" in weekly
    assert "Toller" in weekly  # the week's rumour, by its places (no post text for liaison)
    # The weekly one reads as a Community Tension Summary of the week.
    assert "COMMUNITY TENSION SUMMARY" in weekly
    assert "Overall level: critical." in weekly
    assert "A gathering at Centenary Square, Friday 19:00" in weekly


def test_the_liaison_digest_of_the_demo_week_reads_as_sentences(
    demo_run: tuple[dict[str, object], Path],
) -> None:
    _, db = demo_run
    daily = digest_text(db, "liaison-daily", "2026-11-06T07:00")
    assert "Where: Little Horton" in daily
    assert "Level: critical" in daily
    assert "Expected next: a gathering at Centenary Square, Friday 19:00." in daily
    assert "Recommended action:" in daily
    for digest, period in (
        ("liaison-daily", "2026-11-06T07:00"),
        ("tension-weekly", "2026-11-09T08:00"),
    ):
        text = digest_text(db, digest, period)
        for raw in ("kind=", "area=", "severity=", "unplaced", "(ward)", "<10"):
            assert raw not in text, (digest, raw)
        assert not re.search(r"\b0 posts", text), digest  # no zero-post rows


def test_demo_rumour_alerts_reach_comms_in_the_weeks_office_hours(
    demo_run: tuple[dict[str, object], Path],
) -> None:
    _, db = demo_run
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "select status, not_before from notifications where receiver = 'comms' "
            "and kind = 'alert'"
        ).fetchall()
    assert rows, "no rumour alert reached comms"
    assert {status for status, _ in rows} == {"sent"}  # none left held for "office hours"
    for _, not_before in rows:
        at = datetime.fromisoformat(str(not_before)).replace(tzinfo=UTC)
        # Held overnight and sent in that week's office hours, not today's.
        assert datetime(2026, 11, 2, tzinfo=UTC) <= at <= datetime(2026, 11, 9, 9, tzinfo=UTC)
        assert at.weekday() < 5 and 8 <= at.hour < 18


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

    def held_job(engine: Any, policy: retention.Policy) -> retention.Job:
        job = real_job(engine, policy)

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
