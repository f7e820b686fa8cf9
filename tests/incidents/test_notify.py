"""Notifications work on incidents: an incident held below the precision gate tells nobody;
once it opens its alerts are routed with the incident's labels, grouped as one story, and a
silence on the incident quiets it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.alerts import outbox
from monitor.alerts.config import parse_config
from monitor.alerts.matchers import parse_matchers
from monitor.alerts.silences import Silence
from monitor.store import db
from monitor.store.tables import notifications
from tests.incidents.test_store import WALL, angry, feed, hit

ROUTING = """
route:
  receiver: team
  group_by: [incident]
  group_wait: 30s
  routes:
    - name: team
      matchers: ['incident_kind="episode"']
      receiver: team
receivers:
  - {name: team, excerpts: true, local: [{mailbox: team}]}
"""


async def routed(engine: AsyncEngine) -> list[dict[str, object]]:
    config = parse_config(ROUTING, "routing.yaml", {})
    async with engine.begin() as conn:
        await outbox.route_changed_alerts(conn, config, WALL, {})
        rows = (await conn.execute(select(notifications).order_by(notifications.c.id))).all()
    return [dict(r._mapping) for r in rows]


async def test_held_incidents_tell_nobody_and_open_ones_travel_as_one_story(
    migrated_sqlite_url: str,
) -> None:
    engine = db.create_engine(migrated_sqlite_url)
    try:
        await db.upgrade(engine)
        await feed(engine, angry(0, 2, 0), hit("tension", "incident_anger"))
        assert await routed(engine) == []  # two posts: held below the gate

        await feed(engine, angry(10, 4, 30), hit("tension", "incident_anger"))
        await feed(engine, angry(20, 3, 60), hit("tension", "retaliation"))
        rows = await routed(engine)
        assert len(rows) == 2  # both alerts of the one incident ...
        assert {r["labels"]["incident"] for r in rows} == {"1"}  # type: ignore[index]
        assert len({r["group_key"] for r in rows}) == 1  # ... in one message

        config = parse_config(ROUTING, "routing.yaml", {})
        quiet = Silence(
            id=1,
            matchers=parse_matchers(["incident=1"]),
            reason="reviewed: one story",
            created_by="analyst",
            starts_at=WALL - timedelta(hours=1),
            ends_at=WALL + timedelta(hours=1),
        )
        async with engine.begin() as conn:
            await outbox.form_deliveries(conn, config, [quiet], WALL + timedelta(minutes=5))
            statuses = (await conn.execute(select(notifications.c.status))).scalars().all()
        assert set(statuses) == {"silenced"}
    finally:
        await engine.dispose()


async def test_scaled_out_an_alert_waits_for_its_incident(migrated_sqlite_url: str) -> None:
    """Workers open alerts before the scheduler leader groups them: nobody is told until the
    alert is in an open incident."""
    from monitor.incidents import store
    from tests.incidents.test_store import CFG

    engine = db.create_engine(migrated_sqlite_url)
    config = parse_config(ROUTING, "routing.yaml", {})
    try:
        await db.upgrade(engine)
        await feed(engine, angry(0, 6, 0), hit("tension", "incident_anger"))
        async with engine.begin() as conn:
            await conn.execute(notifications.delete())
            await conn.execute(outbox.alert_routing.delete())
            await conn.execute(store.incident_alerts.delete())  # as a worker left it
            await outbox.route_changed_alerts(conn, config, WALL, {}, require_incident=True)
            assert (await conn.execute(select(notifications))).all() == []
            await conn.run_sync(store.refresh, CFG, WALL)  # the leader groups it
            await outbox.route_changed_alerts(conn, config, WALL, {}, require_incident=True)
            rows = (await conn.execute(select(notifications))).all()
        assert len(rows) == 1 and rows[0].labels["incident"]  # routed once grouped
    finally:
        await engine.dispose()
