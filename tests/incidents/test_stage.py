"""The pipeline stage regroups only when an alert changed or a cooling/closing falls due, so a
quiet batch costs two small queries, yet cooling still happens on time (event time)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from monitor.incidents import store
from monitor.incidents.stage import IncidentStage
from monitor.store import db
from monitor.store.tables import incidents
from tests.incidents.test_store import CFG, WALL, angry, feed, fictional, hit


async def test_quiet_batches_skip_regrouping_until_a_deadline(
    migrated_sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Any] = []
    real = store.refresh

    def counting(*args: Any) -> list[int]:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(store, "refresh", counting)
    engine = db.create_engine(migrated_sqlite_url)
    stage = IncidentStage(CFG)
    try:
        await db.upgrade(engine)
        await feed(engine, angry(0, 6, 0), hit("tension", "incident_anger"))
        calls.clear()
        async with engine.begin() as conn:
            await stage(conn, [], WALL)  # first batch: regroups
            await stage(conn, [], WALL)  # nothing changed: skipped
        assert len(calls) == 1
        # A post elsewhere with no alert moves event time past the cooling deadline
        async with engine.begin() as conn:
            from monitor.store import posts as post_store

            late = fictional(90, 13 * 60, "Wibsey", "bins day")
            await post_store.insert_posts(conn, [late])
            await conn.execute(
                post_store.posts.update()
                .where(post_store.posts.c.id == late.id)
                .values(processed_at=WALL)
            )
            await stage(conn, [], WALL)
            status = (await conn.execute(select(incidents.c.status))).scalar_one()
        assert len(calls) == 2 and status == "cooling"
    finally:
        await engine.dispose()
