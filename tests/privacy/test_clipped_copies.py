"""A rumour incident's headline quotes its claim cut short ("Rumour: “<first 147 characters>…”"),
and digests carry that headline: when the claim's posts are deleted on their platform (or their
excerpts pass retention), the cut-short copies go from stored digests and delivered mailbox
messages as the whole ones do. Found by purging the demo week and searching every column for
its posts' text: the headline was left in 4 digests and 4 mailbox messages."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.alerts.config import DigestSpec
from monitor.alerts.digests import digest_view
from monitor.alerts.render import make_environment, render_digest
from monitor.alerts.schedule import Period, parse_cron
from monitor.safeguards import retention
from monitor.store import posts as post_store
from monitor.store.erase import REMOVED, scrub, variants
from monitor.store.tables import digest_runs, incidents, mailbox
from tests.incidents.test_store import T0, WALL, feed, fictional, hit
from tests.privacy.helpers import db_path, engine, file_bytes

__all__ = ["db_path", "engine"]  # fixtures

ROOT = Path(__file__).resolve().parents[2]
# Longer than a headline quotes, so the headline cuts it; the marker lies inside the quoted part.
CLAIM = (
    "FICTIONCLIP the old mill on Tollerby Lane is being turned into flats for newcomers and "
    "locals are being moved down the waiting list for it, my cousin at the office says so, "
    "share before they take it down"
)


async def test_a_deleted_claims_cut_short_headline_leaves_digests_and_the_mailbox(
    engine: AsyncEngine, db_path: Path
) -> None:
    claim = [fictional(i, 10 * i, "Toller", CLAIM) for i in range(6)]
    await feed(engine, claim, hit("rumour", "unverified_claim"))
    envs = make_environment(ROOT / "alerts" / "templates")
    spec = DigestSpec(
        name="comms", title="Comms brief", cron=parse_cron("30 7 * * *"), receivers=("comms",),
        sections=("incidents",), excerpts=True,
    )  # fmt: skip
    period = Period(T0 - timedelta(hours=1), T0 + timedelta(days=1), "2026-11-06T07:30")
    async with engine.begin() as conn:
        await conn.execute(update(incidents).values(status="open"))  # past the precision gate
        headline = (await conn.execute(select(incidents.c.headline))).scalar_one()
        view = await digest_view(conn, spec, period, late=False, now=WALL)
        digest = render_digest(view, envs)
        await conn.execute(
            insert(digest_runs).values(
                digest="comms", period=period.key, period_start=period.start,
                period_end=period.end, late=False, claimed_by="test", claimed_at=WALL,
                subject=digest.subject, text=digest.text, html=digest.html, data=view,
            )
        )  # fmt: skip
        await conn.execute(
            insert(mailbox).values(
                idempotency_key="d1", mailbox="comms", subject=digest.subject, text=digest.text,
                html=digest.html, kind="digest", sent_at=WALL,
            )
        )  # fmt: skip
    assert headline.endswith("…”") and "FICTIONCLIP" in headline
    assert b"FICTIONCLIP" in file_bytes(db_path), "the copies must exist for the test to mean much"

    async with engine.begin() as conn:
        assert await post_store.purge_text(conn, [p.id for p in claim], WALL) == len(claim)
    await retention.checkpoint(engine)

    async with engine.connect() as conn:
        run = (await conn.execute(select(digest_runs.c.text, digest_runs.c.html))).one()
        data = (await conn.execute(select(digest_runs.c.data))).scalar_one()
        box = (await conn.execute(select(mailbox.c.text, mailbox.c.html))).one()
    for stored in (*run, str(data), *box):
        assert "FICTIONCLIP" not in stored and "Tollerby Lane" not in stored
    assert REMOVED in run.text and REMOVED in box.html
    assert b"FICTIONCLIP" not in file_bytes(db_path)


def test_a_text_that_only_begins_the_same_way_is_left_alone() -> None:
    erased = "FICTIONCLIP " + "the old mill on Tollerby Lane is being turned into flats " * 3
    other = erased[:60] + "a car park, says nobody at all"
    # Cut short past where the two part: not a copy of the erased text.
    message = f"Rumour: “{other[:75]}…” and “{other}”"
    assert scrub(message, variants(erased)) == message
    assert scrub(f"Rumour: “{erased[:50]}…”", variants(erased)) == f"Rumour: “{REMOVED}”"
