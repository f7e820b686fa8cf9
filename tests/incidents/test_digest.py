"""Digests list incidents: one line per story with its places, kinds, counts and alerts, the
author count suppressed under the privacy threshold, held incidents left out, and a rumour's
claim (post text) only where the digest may carry excerpts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from monitor.alerts.config import DigestSpec
from monitor.alerts.digests import digest_view
from monitor.alerts.schedule import Period, parse_cron
from monitor.store import db
from tests.incidents.test_store import T0, angry, feed, fictional, hit

PERIOD = Period(T0 - timedelta(hours=1), T0 + timedelta(days=1), "2026-11-06T07:00")


def spec(excerpts: bool) -> DigestSpec:
    return DigestSpec(
        name="daily",
        title="Daily",
        cron=parse_cron("0 7 * * *"),
        receivers=("liaison",),
        sections=("incidents",),
        excerpts=excerpts,
    )


async def test_a_digest_lists_each_story_once(tmp_path: Path) -> None:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'd.db'}")
    try:
        await db.upgrade(engine)
        await feed(engine, angry(0, 6, 0), hit("tension", "incident_anger"))
        await feed(engine, angry(10, 3, 30), hit("threat", "vigilante", "high"))
        claim = [
            fictional(100 + i, 40 + i, "Toller", "the old mill is being turned into flats")
            for i in range(6)
        ]
        await feed(engine, claim, hit("rumour", "unverified_claim"))
        await feed(engine, angry(200, 2, 50, "Wibsey"), hit("tension", "incident_anger"))
        async with engine.connect() as conn:
            plain = await digest_view(conn, spec(False), PERIOD, late=False)
            full = await digest_view(conn, spec(True), PERIOD, late=False)
    finally:
        await engine.dispose()
    rows = plain["incidents"]
    assert len(rows) == 2  # the episode and the rumour; Wibsey's two posts are held
    episode = next(r for r in rows if r["family"] == "episode")
    assert episode["headline"] == "Tension after the fire in Little Horton"
    assert episode["alerts"] == 2 and episode["level"] == "high"
    assert episode["authors"] == "<10"  # suppressed like every digest count
    rumour = next(r for r in rows if r["family"] == "rumour")
    assert rumour["headline"] == "Rumour spreading in Toller"  # no post text without excerpts
    with_claim = next(r for r in full["incidents"] if r["family"] == "rumour")
    # With excerpts the claim travels as an excerpt (the e-mail quotes it); the headline, which
    # the stored run shows every role, liaison included, never carries post text.
    assert with_claim["headline"] == "Rumour spreading in Toller"
    assert "old mill" in with_claim["excerpt"]
    assert rumour["excerpt"] is None
