"""The signals stage on a real store (SQLite and PostgreSQL): what it writes, that a restart
resumes where it stopped, rollbacks, failures, and what people do between batches."""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.classify.keyword import hashed_embedding
from monitor.evaluation.simulate import ScenarioSpec, generate
from monitor.signals.config import SignalsConfig
from monitor.signals.stage import SignalsStage
from monitor.store import db
from monitor.store import posts as post_store
from monitor.store import signals as queries
from monitor.store.tables import (
    alert_posts,
    alerts,
    area_counts,
    level_changes,
    metadata,
    rumour_claims,
    rumour_posts,
    rumours,
)
from tests.conftest import run_sync
from tests.signals.conftest import T0, feed, item, make_store, minutes, shipped_config
from tests.signals.test_clustering import VARIANTS

SPEC = ScenarioSpec(
    seed=5,
    weeks=3 / 7,
    volume=0.5,
    rumour_at=timedelta(days=1, hours=9),
    counter_after=timedelta(hours=6),
    tension_at=timedelta(days=2, hours=1),
    tension_hours=6,
)


async def _embed(texts: Sequence[str]) -> list[Sequence[float]]:
    return [hashed_embedding(t) for t in texts]


def _stage(config: SignalsConfig) -> SignalsStage:
    return SignalsStage(config, embed=_embed, embedder="keyword-v1")


async def _snapshot(engine: AsyncEngine) -> dict[str, object]:
    async with engine.connect() as conn:
        alert_rows = (await conn.execute(select(alerts.c.key, alerts.c.labels))).all()
        changes = (
            await conn.execute(
                select(level_changes.c.area, level_changes.c.at, level_changes.c.to_level)
            )
        ).all()
        live = await queries.list_rumours(conn, limit=100)
        live += await queries.list_rumours(conn, "new", limit=100)
        members = (await conn.execute(select(func.count()).select_from(rumour_posts))).scalar()
        weighted = (await conn.execute(select(func.sum(area_counts.c.weighted)))).scalar()
    return {
        "alerts": sorted(r.key for r in alert_rows),
        "changes": sorted((a, t.isoformat(), lvl) for a, t, lvl in changes),
        "rumours": sorted((r["id"], r["post_count"], r["author_count"]) for r in live),
        "members": members,
        "weighted": round(float(weighted or 0), 3),
    }


@pytest.fixture(scope="module")
def uninterrupted(
    tmp_path_factory: pytest.TempPathFactory, sqlite_migrated_template: Path
) -> dict[str, object]:
    """SPEC's posts in one run on a SQLite store: the reference a restarted run must equal,
    whichever backend that run is on, so it is built once for the module (both store cases
    used to build the same one)."""
    path = tmp_path_factory.mktemp("once") / "once.db"
    shutil.copyfile(sqlite_migrated_template, path)

    async def run() -> dict[str, object]:
        once = await make_store(f"sqlite+aiosqlite:///{path}")
        try:
            await feed(once, _stage(shipped_config()), generate(SPEC)[0])
            return await _snapshot(once)
        finally:
            await once.dispose()

    return run_sync(run)


async def test_a_restart_resumes_where_it_stopped(
    config: SignalsConfig, store: AsyncEngine, uninterrupted: dict[str, object]
) -> None:
    items, truth = generate(SPEC)
    # Split on a batch boundary: centroids move at the end of each batch, so a run cut
    # mid-batch would see slightly different centroids for the rest of that batch.
    half = len(items) // 2 // 64 * 64
    await feed(store, _stage(config), items[:half])
    await feed(store, _stage(config), items[half:])  # a new process: state from the store
    resumed = await _snapshot(store)
    assert resumed == uninterrupted
    keys = resumed["alerts"]
    assert "area=Little Horton,area_kind=ward,kind=rising_tension" in keys  # type: ignore[operator]
    assert any("kind=rumour_spreading" in k for k in keys)  # type: ignore[union-attr]
    assert truth.tension_ward == "Little Horton"


async def test_a_restart_keeps_the_places_in_a_rumours_window(
    config: SignalsConfig, store: AsyncEngine
) -> None:
    """A claim told in Manningham, then (after a restart) in Toller, within the hour: two
    places, so it spreads on the earlier way's fewer posts as it would have in one run."""
    cfg = config.rumours
    wards = ["Manningham"] + ["Toller"] * (cfg.early_posts - 1)
    # The variants the keyword classifier's vectors put in one cluster (copies are shared).
    texts = [VARIANTS[k] for k in (0, 1, 2, 4)]
    posts = [
        item(texts[i % len(texts)], T0 + minutes(4 * i), author=f"teller-{i % 3}",
             ward=ward, locality="Bradford West")
        for i, ward in enumerate(wards)
    ]  # fmt: skip
    await feed(store, _stage(config), posts[:2])
    await feed(store, _stage(config), posts[2:])  # a new process: state from the store
    keys = (await _snapshot(store))["alerts"]
    assert any("kind=rumour_spreading" in k for k in keys)  # type: ignore[union-attr]


async def test_a_restart_keeps_which_tellings_a_rumour_rule_matched(
    config: SignalsConfig, store: AsyncEngine
) -> None:
    """Three people pass a claim on in words a rumour rule knows, in two wards within the
    hour: too few posts for any other way to spread, so it spreads on the rule-matched
    authors alone, at the third telling, also when the process restarted after the second
    (a scaled-out follower reloads whenever another moved the cursor)."""
    cfg = replace(config, rumours=replace(config.rumours, early_rule_authors=2))
    n = cfg.rumours.early_rule_posts
    assert 0 < n < cfg.rumours.early_posts
    texts = [VARIANTS[k] for k in (0, 1, 2, 4)]
    posts = [
        item(texts[i % len(texts)], T0 + minutes(4 * i), author=f"teller-{i}",
             ward=("Toller", "Manningham")[i % 2], locality="Bradford West",
             hits=[{"kind": "rumour"}])
        for i in range(n)
    ]  # fmt: skip
    await feed(store, _stage(cfg), posts[:-1])
    assert not (await _snapshot(store))["alerts"]
    await feed(store, _stage(cfg), posts[-1:])  # a new process: state from the store
    keys = (await _snapshot(store))["alerts"]
    assert any("kind=rumour_spreading" in k for k in keys)  # type: ignore[union-attr]


async def test_alerts_carry_labels_summary_and_evidence(
    config: SignalsConfig, store: AsyncEngine
) -> None:
    items, _ = generate(SPEC)
    await feed(store, _stage(config), items)
    async with store.connect() as conn:
        rows = (await conn.execute(select(alerts))).all()
        by_kind = {r.labels["kind"]: r for r in rows}
        tension = by_kind["rising_tension"]
        assert tension.labels["area"] == "Little Horton"
        assert tension.labels["level"] in ("high", "critical")
        assert tension.labels["severity"] == tension.labels["level"]
        evidence = (
            await conn.execute(select(alert_posts).where(alert_posts.c.alert_id == tension.id))
        ).all()
        assert evidence and tension.post_count == len(evidence)
        assert all(e.excerpt and e.rules == ["signals:rising_tension"] for e in evidence)
        linked = (
            (
                await conn.execute(
                    select(level_changes.c.alert_id).where(level_changes.c.alert_id.is_not(None))
                )
            )
            .scalars()
            .all()
        )
        assert tension.id in linked
        spreading = by_kind["rumour_spreading"]
        assert spreading.labels["cluster"].startswith("r")
        assert "distinct authors" in spreading.summary


async def test_a_rolled_back_batch_is_counted_once_when_it_comes_again(
    config: SignalsConfig, store: AsyncEngine
) -> None:
    stage = _stage(config)
    first = [
        item(f"Send them back, simple as. {i}", T0 + minutes(i), author=f"a{i}") for i in range(5)
    ]
    retried = [
        item(f"Vermin, the lot of them. {i}", T0 + minutes(10 + i), author=f"b{i}")
        for i in range(5)
    ]
    await feed(store, stage, first)
    async with store.begin() as conn:
        await post_store.insert_posts(conn, [i.post for i in retried])
    with pytest.raises(RuntimeError):
        async with store.begin() as conn:
            await post_store.save_processed(conn, retried, T0 + minutes(15))
            await stage(conn, retried, T0 + minutes(15))
            raise RuntimeError("a later stage failed: the whole batch rolls back")
    await feed(store, stage, retried)  # processed again after the restart-free retry
    async with store.connect() as conn:
        posts = (
            await conn.execute(
                select(func.sum(area_counts.c.posts)).where(
                    area_counts.c.area == "ward:Little Horton"
                )
            )
        ).scalar()
    assert posts == 10


async def test_a_failure_inside_signals_does_not_lose_the_batch(
    config: SignalsConfig, store: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    stage = _stage(config)
    batch = [item("Send them back, simple as.", T0, author="a")]

    def broken(*_: object, **__: object) -> None:
        raise ValueError("a bug in signals")

    stage.engine.observe = broken  # type: ignore[method-assign]
    stage._stale = False
    with caplog.at_level(logging.ERROR):
        await feed(store, stage, batch)
    assert stage.failures == 1 and stage._stale
    assert "signals failed" in caplog.text
    async with store.connect() as conn:
        processed = (
            await conn.execute(
                select(func.count()).where(post_store.posts.c.processed_at.is_not(None))
            )
        ).scalar()
    assert processed == 1  # the pipeline's own results committed


async def test_a_stop_during_signals_is_a_cancellation_not_the_batchs_failure(
    config: SignalsConfig, store: AsyncEngine
) -> None:
    # A stop cancels the worker mid-batch; the savepoint's rollback then runs on the
    # connection the cancelled call closed, and raises an ordinary error in place of the
    # cancellation ("no active connection"). Counted as the batch's failure, it sent the
    # batch's posts to the quarantine (tests/test_supervision.py saw 2 of 2,944).
    stage = _stage(config)
    batch = [item("Send them back, simple as.", T0, author="a")]

    async def stopped_mid_save(*_: object, **__: object) -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise sqlite3.OperationalError("no active connection") from None

    stage._save = stopped_mid_save  # type: ignore[method-assign]
    stage._stale = False
    with pytest.raises(asyncio.CancelledError):
        await feed(store, stage, batch)
    assert stage.failures == 0 and stage.last_error is None
    async with store.connect() as conn:
        processed = (
            await conn.execute(
                select(func.count()).where(post_store.posts.c.processed_at.is_not(None))
            )
        ).scalar()
    assert processed == 0  # rolled back whole: processed again at the next start


async def test_registered_claim_is_taken_up_and_holds_the_band_for_a_person(
    config: SignalsConfig, store: AsyncEngine
) -> None:
    stage = _stage(config)
    claim = "The tap water in Toller is contaminated and the water company is covering it up."
    async with store.begin() as conn:
        await store_claim(conn, claim)
    posts = [
        item(VARIANTS[4], T0 + minutes(1), author="x1", ward="Toller", scores={}),
        item(
            "Anyone else think the Toller tap water tastes funny lately?",
            T0 + minutes(2),
            author="x2",
            ward="Toller",
            scores={},
        ),
        item("Lovely sunset over Shipley tonight.", T0 + minutes(3), author="x3", ward="Shipley"),
    ]
    await feed(store, stage, posts)
    async with store.connect() as conn:
        (row,) = await queries.load_rumour_rows(conn)
        assert row["registered"] and row["claim_text"] == claim and row["status"] == "watching"
        taken = (await conn.execute(select(rumour_claims.c.rumour_id))).scalar()
        assert taken == row["id"]
        states = dict(
            (await conn.execute(select(rumour_posts.c.post_id, rumour_posts.c.state))).all()
        )
        pending = await queries.pending(conn, row["id"])
    assert states == {posts[0].post.id: "member", posts[1].post.id: "pending"}
    assert [p["post_id"] for p in pending] == [posts[1].post.id]
    # A person confirms it; the running stage counts it from its next batch.
    async with store.begin() as conn:
        assert await queries.decide_pending(
            conn, row["id"], posts[1].post.id, True, "comms", T0 + minutes(5)
        )
    await feed(store, stage, [item("Quiet day in Wibsey.", T0 + minutes(6), ward="Wibsey")])
    async with store.connect() as conn:
        after = await queries.rumour(conn, row["id"])
    assert after is not None and after["post_count"] == 2 and after["author_count"] == 2


async def store_claim(conn: object, text: str) -> int:
    return await queries.register_claim(conn, text, "comms", T0)  # type: ignore[arg-type]


async def test_a_rumour_a_person_closed_stays_closed_and_stops_matching(
    config: SignalsConfig, store: AsyncEngine
) -> None:
    stage = _stage(config)
    first = [
        item(t, T0 + minutes(i), author=f"a{i}", ward="Toller", scores={"rumour": 0.9})
        for i, t in enumerate(VARIANTS[:3])
    ]
    await feed(store, stage, first)
    async with store.begin() as conn:
        (row,) = await queries.load_rumour_rows(conn)
        await queries.set_status(conn, row["id"], "closed", T0 + minutes(5))
    later = [
        item(VARIANTS[3], T0 + minutes(10), author="late", ward="Toller", scores={"rumour": 0.9})
    ]
    await feed(store, stage, later)
    async with store.connect() as conn:
        closed = await queries.rumour(conn, row["id"])
        members = (
            (
                await conn.execute(
                    select(rumour_posts.c.rumour_id).where(
                        rumour_posts.c.post_id == later[0].post.id
                    )
                )
            )
            .scalars()
            .all()
        )
    assert closed is not None and closed["status"] == "closed" and closed["post_count"] == 3
    assert members and row["id"] not in members  # it started a new cluster instead


async def test_missing_tables_switch_signals_off_with_a_clear_error(
    config: SignalsConfig, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A store made before the signals tables existed (not yet upgraded)."""
    from tests.signals.conftest import SIGNAL_TABLES

    engine = db.create_engine(sqlite_url)
    try:
        older = [t for name, t in metadata.tables.items() if name not in SIGNAL_TABLES]
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: metadata.create_all(c, tables=older))
        stage = _stage(config)
        with caplog.at_level(logging.ERROR):
            await feed(engine, stage, [item("Send them back, simple as.", T0)])
        assert stage.disabled and "monitor db upgrade" in caplog.text
        async with engine.connect() as conn:
            processed = (
                await conn.execute(
                    select(func.count()).where(post_store.posts.c.processed_at.is_not(None))
                )
            ).scalar()
        assert processed == 1
    finally:
        await engine.dispose()


async def test_the_store_holds_no_author_list(store: AsyncEngine, config: SignalsConfig) -> None:
    """Authors are only counted: no signals table has a column for who posted."""
    for table in (rumours, rumour_posts, rumour_claims, level_changes, area_counts):
        assert not any("author" in c.name and c.name != "author_count" for c in table.c)


async def test_a_post_dated_a_day_ahead_does_not_stop_levels_after_a_restart(
    config: SignalsConfig, store: AsyncEngine
) -> None:
    """Ingest accepts a post dated up to a day ahead; processed now, it counts now. The clock
    restored at a restart was the latest post *date*, a day ahead, so no level was evaluated
    for the real posts that came in that day: Little Horton's rising tension went unseen."""
    ahead = item("(fictional) lovely morning in Little Horton", T0 + timedelta(hours=23))
    await feed(store, _stage(config), [ahead], now=T0)
    threats = [
        item("(fictional) threat", T0 + minutes(2 + 3 * i), author=f"t{i % 15}",
             hits=[{"kind": "threat", "severity": "high"}])
        for i in range(30)
    ]  # fmt: skip
    await feed(store, _stage(config), threats, batch=8)  # a new process: state from the store
    changes = (await _snapshot(store))["changes"]
    ward = [(at, level) for area, at, level in changes if area == "ward:Little Horton"]  # type: ignore[attr-defined]
    raised = [at for at, level in ward if level != "normal"]
    assert raised and min(raised) < (T0 + timedelta(hours=2)).isoformat()
