"""Retention: post text goes after retention_days and alert excerpts after a year, from the
database file and its write-ahead log alike; aggregates stay; every purge leaves a receipt."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.safeguards import audit, retention
from monitor.store.keys import period_start
from monitor.store.tables import alert_posts, audit_events, author_keys, mailbox, posts
from tests.privacy.helpers import NOW, db_path, engine, file_bytes, make_post, store_posts

__all__ = ["db_path", "engine"]  # fixtures

POLICY = retention.Policy(text_days=30, excerpt_days=365, key_rotation_days=30)


async def test_purge_leaves_no_old_post_text_in_the_file_or_its_wal(
    engine: AsyncEngine, db_path: Path
) -> None:
    old = [make_post(i, f"FICTIONOLD{i:03d} meet at Fern Street tonight") for i in range(40)]
    for i, p in enumerate(old):
        old[i] = make_post(i, p.text, collected=NOW - timedelta(days=31))
    fresh = [make_post(100 + i, f"FICTIONNEW{i:03d} bins not collected") for i in range(5)]
    await store_posts(engine, old, alert=False, at=NOW - timedelta(days=31))
    await store_posts(engine, fresh, alert=False, at=NOW)
    assert b"FICTIONOLD000" in file_bytes(db_path)  # the check below can see text

    report = await retention.purge(engine, POLICY, NOW)

    assert report.posts_text_purged == 40 and report.wal_truncated is True
    raw = file_bytes(db_path)
    assert not any(f"FICTIONOLD{i:03d}".encode() in raw for i in range(40))
    assert all(f"FICTIONNEW{i:03d}".encode() in raw for i in range(5))
    async with engine.connect() as conn:
        kept = (await conn.execute(select(func.count()).select_from(posts))).scalar_one()
        purged_at = (
            await conn.execute(select(posts.c.text_purged_at).where(posts.c.id == old[0].id))
        ).scalar_one()
    assert kept == 45  # the rows (times, places, counts) stay for aggregates
    assert purged_at == NOW


async def test_alert_excerpts_outlive_post_text_then_go_with_their_copies(
    engine: AsyncEngine, db_path: Path
) -> None:
    month = make_post(1, "FICTIONMONTH everyone to Fern Street at 7pm, enough is enough")
    year = make_post(2, "FICTIONYEAR protest at the Greyfield Hotel after prayers, be there")
    month = make_post(1, month.text, collected=NOW - timedelta(days=40))
    year = make_post(2, year.text, collected=NOW - timedelta(days=400))
    await store_posts(engine, [month], alert=True, at=NOW - timedelta(days=40))
    await store_posts(engine, [year], alert=True, at=NOW - timedelta(days=400))
    async with engine.begin() as conn:
        await conn.execute(
            insert(mailbox).values(
                idempotency_key="k1",
                mailbox="analysts",
                subject="call to gather: gathering in Manningham",
                text=f"  > {year.text}\n",
                html=f"<blockquote>{year.text}</blockquote>",
                kind="alert",
                sent_at=NOW - timedelta(days=399),
            )
        )

    report = await retention.purge(engine, POLICY, NOW)

    assert (report.posts_text_purged, report.alert_excerpts_purged) == (2, 1)
    assert report.copies_scrubbed == 1
    raw = file_bytes(db_path)
    assert b"FICTIONYEAR" not in raw
    assert b"FICTIONMONTH" in raw  # the 40-day-old excerpt is kept for a year
    async with engine.connect() as conn:
        excerpts = dict(
            (await conn.execute(select(alert_posts.c.post_id, alert_posts.c.excerpt))).all()
        )
    assert excerpts[year.id] is None and excerpts[month.id].startswith("FICTIONMONTH")


async def test_purge_destroys_retired_keys_and_writes_a_verifiable_receipt(
    engine: AsyncEngine,
) -> None:
    current = period_start(NOW, 30)
    labels = [(current - timedelta(days=d)).isoformat() for d in (60, 30, 0)]
    async with engine.begin() as conn:
        for period in labels:
            await conn.execute(
                insert(author_keys).values(period=period, key=b"x" * 32, created_at=NOW)
            )
    report = await retention.purge(engine, POLICY, NOW)
    async with engine.connect() as conn:
        periods = (await conn.execute(select(author_keys.c.period))).scalars().all()
        events = (await conn.execute(select(audit_events))).all()
        assert await audit.verify(conn) == []
    assert list(periods) == [current.isoformat()]
    assert report.keys_destroyed == 2
    assert [(e.actor, e.action) for e in events] == [("system:retention", "purge")]
    assert events[0].detail["keys_destroyed"] == 2
    assert events[0].detail["posts_text_purged"] == 0


async def test_dry_run_counts_but_changes_nothing(engine: AsyncEngine, db_path: Path) -> None:
    await store_posts(
        engine,
        [make_post(1, "FICTIONDRY litter on the green", collected=NOW - timedelta(days=31))],
        alert=False,
        at=NOW,
    )
    report = await retention.purge(engine, POLICY, NOW, dry_run=True)
    assert report.dry_run and report.posts_text_purged == 1
    async with engine.connect() as conn:
        text = (await conn.execute(select(posts.c.text))).scalar_one()
        events = (await conn.execute(select(func.count()).select_from(audit_events))).scalar_one()
    assert text == "FICTIONDRY litter on the green" and events == 0


async def test_the_periodic_job_runs_with_the_injected_clock(engine: AsyncEngine) -> None:
    await store_posts(
        engine,
        [make_post(1, "FICTIONTICK old news", collected=NOW - timedelta(days=31))],
        alert=False,
        at=NOW,
    )
    ran = asyncio.Event()
    job = retention.purge_job(engine, POLICY)

    async def tick(now):  # type: ignore[no-untyped-def]
        await job(now)
        ran.set()

    async with retention.periodic("retention", 3600, tick, clock=lambda: NOW):
        await asyncio.wait_for(ran.wait(), 5)
    async with engine.connect() as conn:
        assert (await conn.execute(select(posts.c.text))).scalar_one() is None


async def test_the_wal_is_truncated_past_a_reader_that_holds_it_for_several_tries(
    engine: AsyncEngine, db_path: Path
) -> None:
    """SQLite waits a short try at a time for the readers (so that a stop is never kept
    waiting); the checkpoint is tried again, so a reader holding the log for 1 s (four tries)
    delays it but does not leave old page images behind, as SQLite's one 30 s wait did not."""
    await store_posts(engine, [make_post(1, "FICTIONWAL bins not collected")], alert=False, at=NOW)
    reader = sqlite3.connect(db_path, isolation_level=None)
    try:
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM posts").fetchone() == (1,)  # in the log
        checkpoint = asyncio.create_task(retention.checkpoint(engine))
        await asyncio.sleep(1.0)
        assert not checkpoint.done()
        reader.execute("COMMIT")
        assert await asyncio.wait_for(checkpoint, 30) is True
    finally:
        reader.close()
    assert db_path.with_name(db_path.name + "-wal").stat().st_size == 0
