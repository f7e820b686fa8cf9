"""A claim cluster that splits, through the real store: the signals stage moves the diverged
posts to the new rumour, the new rumour's alert opens its own incident, and both incidents'
history says it was split and when (fictional posts, tests/signals/test_split.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.classify.keyword import hashed_embedding
from monitor.incidents import store as incident_store
from monitor.incidents.config import IncidentsConfig
from monitor.signals.config import SignalsConfig
from monitor.signals.stage import SignalsStage
from monitor.store.tables import incident_events, incidents, rumour_posts, rumours
from monitor.types import Processed, as_utc
from tests.signals.conftest import T0, feed, item
from tests.signals.test_split import BRIDGE, FIRE, MOSQUE

WALL = datetime(2026, 12, 1, tzinfo=UTC)
WARDS = ("Little Horton", "Manningham", "Bowling and Barkerend")


async def _embed(texts: Any) -> list[Any]:
    return [hashed_embedding(t) for t in texts]


def _stream() -> list[Processed]:
    # The drift (as in test_split), then both stories go on, told by more people, for long
    # enough to pass a checkpoint and the lateness after it (SPLIT_EVERY, SPLIT_LATENESS in
    # monitor.signals.clustering): a split is decided there.
    texts = [*FIRE, *BRIDGE, *("apparently " + t for t in MOSQUE)]
    for lead in ("apparently ", "word is ", "people say "):
        for fire, mosque in zip(FIRE, MOSQUE, strict=False):
            texts += [lead + fire, "they say " + mosque, lead + mosque]
    return [
        item(t, T0 + timedelta(minutes=3 * i), author=f"a{i}", ward=WARDS[i % 3])
        for i, t in enumerate(texts)
    ]


async def test_a_split_moves_posts_and_opens_its_own_incident(
    store: AsyncEngine, config: SignalsConfig
) -> None:
    stage = SignalsStage(config, embed=_embed, embedder="keyword-v1")
    items = _stream()
    ids = {i.post.text: i.post.id for i in items}
    await feed(store, stage, items, batch=7)
    async with store.connect() as conn:
        split = (
            await conn.execute(
                select(rumours.c.id, rumours.c.split_from, rumours.c.split_at).where(
                    rumours.c.split_from.is_not(None)
                )
            )
        ).one()
        members = {
            r.post_id: r.rumour_id
            for r in await conn.execute(
                select(rumour_posts.c.post_id, rumour_posts.c.rumour_id).where(
                    rumour_posts.c.state == "member"
                )
            )
        }
    source, target = int(split.split_from), int(split.id)
    assert split.split_at is not None
    assert {members[ids[t]] for t in FIRE if ids[t] in members} == {source}
    assert {members[ids["they say " + t]] for t in MOSQUE} == {target}
    # A restart finds the same clusters where the split left them.
    restarted = SignalsStage(config, embed=_embed, embedder="keyword-v1")
    async with store.begin() as conn:
        await restarted(conn, [], items[-1].post.created_at)
    assert restarted.engine.board.rumours[target].split_from == source
    assert restarted.engine.board.clusterer.members[ids["they say " + MOSQUE[0]]] == target

    async with store.begin() as conn:
        await conn.run_sync(lambda c: incident_store.refresh(c, IncidentsConfig(), WALL))
        rows = (await conn.execute(select(incidents.c.id, incidents.c.cluster))).all()
        by_cluster = {int(r.cluster): int(r.id) for r in rows if r.cluster is not None}
        assert {source, target} <= set(by_cluster), "both stories spread and opened incidents"
        history = (
            await conn.execute(
                select(incident_events.c.incident_id, incident_events.c.at,
                       incident_events.c.reason).where(incident_events.c.kind == "split")
            )
        ).all()  # fmt: skip
    said = {int(h.incident_id): h.reason for h in history}
    assert f"split from incident {by_cluster[source]}" in said[by_cluster[target]]
    assert f"split off into incident {by_cluster[target]}" in said[by_cluster[source]]
    assert all(as_utc(h.at) == split.split_at for h in history)


async def test_a_restart_across_a_split_resumes_where_it_stopped(
    store: AsyncEngine, config: SignalsConfig, tmp_path: object
) -> None:
    """Cut before the split, during it and after it: the same rumours as in one run."""
    from tests.signals.conftest import make_store

    items = _stream()

    async def rumour_rows(engine: AsyncEngine) -> list[tuple[Any, ...]]:
        async with engine.connect() as conn:
            cols = (rumours.c.id, rumours.c.status, rumours.c.post_count, rumours.c.author_count,
                    rumours.c.split_from, rumours.c.spreading)  # fmt: skip
            return [tuple(r) for r in await conn.execute(select(*cols).order_by(rumours.c.id))]

    once = await make_store(f"sqlite+aiosqlite:///{tmp_path}/once.db")
    try:
        await feed(once, SignalsStage(config, embed=_embed, embedder="keyword-v1"), items, batch=7)
        expected = await rumour_rows(once)
    finally:
        await once.dispose()
    assert any(row[4] is not None for row in expected), "the stream splits"
    await feed(
        store, SignalsStage(config, embed=_embed, embedder="keyword-v1"), items[:14], batch=7
    )
    await feed(
        store, SignalsStage(config, embed=_embed, embedder="keyword-v1"), items[14:], batch=7
    )
    assert await rumour_rows(store) == expected


async def test_a_late_telling_moves_its_rows_and_merges_the_rumour_it_began(
    store: AsyncEngine, config: SignalsConfig
) -> None:
    """The third telling of a drifting claim (tests/signals/test_arrival_order.py) comes first
    and begins a rumour of its own; when the first two come, the store ends as time order
    would have left it: every telling a member of one rumour, the one it began merged in."""
    import numpy as np

    from monitor.classify.keyword import EMBEDDING_DIM
    from monitor.store import posts as post_store

    def towards(degrees: float) -> Any:
        v = np.zeros(EMBEDDING_DIM, dtype=np.float32)
        v[0], v[1] = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
        return v

    claim = {"rumour": 0.9, "stance_support": 0.6}
    texts = {  # worded apart, so that no two are near-duplicates
        "a": "apparently the council sold the old library to a developer a",
        "b": "word is that building went cheap to some property firm b",
        "c": "heard they are knocking down half the high street for flats c",
    }
    tellings = {
        k: replace(
            item(texts[k], T0 + timedelta(minutes=m), author=f"teller-{k}", scores=claim),
            embedding=towards(degrees),
        )
        for k, m, degrees in (("a", 10, 0), ("b", 14, 40), ("c", 18, 80))
    }
    stage = SignalsStage(config, embed=_embed, embedder="keyword-v1")
    for k in "cab":  # the third telling first
        chunk = [tellings[k]]
        async with store.begin() as conn:
            await post_store.insert_posts(conn, [i.post for i in chunk])
        async with store.begin() as conn:
            await post_store.save_processed(conn, chunk, tellings["c"].post.created_at)
            await stage(conn, chunk, tellings["c"].post.created_at)
    async with store.connect() as conn:
        members = {
            r.post_id: r.rumour_id
            for r in await conn.execute(
                select(rumour_posts.c.post_id, rumour_posts.c.rumour_id).where(
                    rumour_posts.c.state == "member"
                )
            )
        }
        merged = (
            await conn.execute(
                select(rumours.c.id, rumours.c.merged_into).where(
                    rumours.c.merged_into.is_not(None)
                )
            )
        ).all()
    ids = {k: i.post.id for k, i in tellings.items()}
    assert set(members) == set(ids.values())
    (kept,) = set(members.values())
    assert [(int(r.merged_into)) for r in merged] == [kept]
    assert stage.engine.board.clusterer.members == {p: kept for p in ids.values()}
