"""Alert rows: one open alert per key, also when two workers open it at the same moment."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select

from monitor.store import alerts as alert_store
from monitor.store import db
from monitor.store import posts as post_store
from monitor.store.tables import alert_posts, alerts
from monitor.types import Processed, RuleHit
from tests.store.test_posts import make_post

NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
HIT = RuleHit("tension.call_to_gather", {"kind": "call_to_gather", "severity": "high"})


async def test_two_workers_opening_the_same_alert_make_one(migrated_store_url: str) -> None:
    first, second = db.create_engine(migrated_store_url), db.create_engine(migrated_store_url)
    try:
        await db.upgrade(first)
        batch = [make_post(n) for n in range(2)]
        async with first.begin() as conn:
            await post_store.insert_posts(conn, batch)

        async def worker(engine, post) -> None:  # type: ignore[no-untyped-def]
            async with engine.begin() as conn:
                await alert_store.record_hits(conn, [Processed(post=post, hits=(HIT,))], NOW)
                await asyncio.sleep(0.2)  # both transactions are open at once

        await asyncio.gather(worker(first, batch[0]), worker(second, batch[1]))
        async with first.connect() as conn:
            rows = (await conn.execute(select(alerts))).all()
        assert len(rows) == 1
        assert rows[0].post_count == 2
        # out-of-order posts: the span covers both
        assert rows[0].first_seen == min(p.created_at for p in batch)
        assert rows[0].last_seen == max(p.created_at for p in batch)
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_closed_alert_lets_a_new_one_open(migrated_store_url: str) -> None:
    engine = db.create_engine(migrated_store_url)
    try:
        await db.upgrade(engine)
        posts = [make_post(n, created_at=NOW + timedelta(minutes=n)) for n in range(2)]
        async with engine.begin() as conn:
            await post_store.insert_posts(conn, posts)
            await alert_store.record_hits(conn, [Processed(post=posts[0], hits=(HIT,))], NOW)
            await conn.execute(alerts.update().values(status="closed"))
            await alert_store.record_hits(conn, [Processed(post=posts[1], hits=(HIT,))], NOW)
        async with engine.connect() as conn:
            statuses = sorted((await conn.execute(select(alerts.c.status))).scalars())
        assert statuses == ["closed", "new"]
    finally:
        await engine.dispose()


async def test_one_batch_extends_each_alert_once_per_post_and_keeps_its_highest_severity(
    migrated_store_url: str,
) -> None:
    """A batch's posts for one key join one alert: each post counted once (a post seen twice
    in the batch too), the span covering posts out of order, and the labels of its most
    severe post; a key with no new evidence is not counted as touched."""
    engine = db.create_engine(migrated_store_url)
    try:
        posts = [make_post(n, created_at=NOW + timedelta(minutes=(7 * n) % 5)) for n in range(5)]
        low = RuleHit("tension.gather_low", {"kind": "call_to_gather", "severity": "low"})
        critical = RuleHit("tension.gather_now", {"kind": "call_to_gather", "severity": "critical"})
        threat = RuleHit("tension.threat", {"kind": "threat", "severity": "high"})
        async with engine.begin() as conn:
            await post_store.insert_posts(conn, posts)
            touched = await alert_store.record_hits(
                conn,
                [
                    Processed(post=posts[0], hits=(HIT,)),
                    Processed(post=posts[1], hits=(low, threat)),
                    Processed(post=posts[2], hits=(critical,)),
                    Processed(post=posts[3], hits=(HIT,)),
                    Processed(post=posts[3], hits=(low,)),  # the same post again
                ],
                NOW,
            )
            assert touched == 2
            # Nothing new for the key: not touched, and the evidence is not counted twice.
            again = await alert_store.record_hits(
                conn, [Processed(post=posts[0], hits=(low,))], NOW + timedelta(hours=1)
            )
            assert again == 0
        async with engine.connect() as conn:
            rows = {r.labels["kind"]: r for r in (await conn.execute(select(alerts))).all()}
            evidence = (await conn.execute(select(alert_posts))).all()
        gather = rows["call_to_gather"]
        assert gather.labels["severity"] == "critical"
        assert gather.post_count == 4
        counted = [posts[n].created_at for n in range(4)]
        assert (gather.first_seen, gather.last_seen) == (min(counted), max(counted))
        assert rows["threat"].post_count == 1
        assert rows["threat"].first_seen == rows["threat"].last_seen == posts[1].created_at
        assert len(evidence) == 5
        rules = {(r.alert_id, r.post_id): r.rules for r in evidence}
        assert rules[(gather.id, posts[1].id)] == ["tension.gather_low", "tension.threat"]
    finally:
        await engine.dispose()


async def test_a_later_batch_extends_the_open_alerts_it_reads_at_once(
    migrated_store_url: str,
) -> None:
    """A live stream extends the same open alerts batch after batch: the batch reads them in
    one statement and tries to open none of them again; a higher severity still relabels."""
    engine = db.create_engine(migrated_store_url)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    try:
        posts = [make_post(n, created_at=NOW + timedelta(minutes=n)) for n in range(4)]
        threat = RuleHit("tension.threat", {"kind": "threat", "severity": "high"})
        critical = RuleHit("tension.gather_now", {"kind": "call_to_gather", "severity": "critical"})
        async with engine.begin() as conn:
            await post_store.insert_posts(conn, posts)
            await alert_store.record_hits(conn, [Processed(post=posts[0], hits=(HIT, threat))], NOW)
        event.listen(engine.sync_engine, "before_cursor_execute", seen)
        async with engine.begin() as conn:
            touched = await alert_store.record_hits(
                conn,
                [
                    Processed(post=posts[1], hits=(HIT,)),
                    Processed(post=posts[2], hits=(critical, threat)),
                ],
                NOW + timedelta(hours=1),
            )
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
        assert touched == 2
        assert not [s for s in statements if s.lstrip().upper().startswith("INSERT INTO ALERTS")]
        assert len([s for s in statements if "FROM alerts" in s]) == 1
        async with engine.connect() as conn:
            rows = {r.labels["kind"]: r for r in (await conn.execute(select(alerts))).all()}
        assert len(rows) == 2
        assert rows["call_to_gather"].labels["severity"] == "critical"
        assert rows["call_to_gather"].post_count == 3 and rows["threat"].post_count == 2
        assert rows["call_to_gather"].last_seen == posts[2].created_at
    finally:
        await engine.dispose()
