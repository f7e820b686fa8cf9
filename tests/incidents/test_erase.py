"""A rumour incident's headline quotes its claim: when that text is erased (a platform deletion,
or the excerpt's retention), the headline names the incident by its places instead."""

from __future__ import annotations

from sqlalchemy import select

from monitor.store import db
from monitor.store.erase import erase_copies
from monitor.store.tables import incidents
from tests.incidents.test_store import WALL, feed, fictional, hit

CLAIM = "the old mill on Toller Lane is being turned into flats for newcomers, they say"


async def test_erased_claim_text_leaves_the_incident_headline(migrated_sqlite_url: str) -> None:
    engine = db.create_engine(migrated_sqlite_url)
    try:
        await db.upgrade(engine)
        claim = [fictional(i, 10 * i, "Toller", CLAIM) for i in range(6)]
        await feed(engine, claim, hit("rumour", "unverified_claim"))
        async with engine.begin() as conn:
            before = (await conn.execute(select(incidents.c.headline))).scalar_one()
            assert CLAIM[:40] in before
            await erase_copies(conn, (), WALL, excerpts=[f"Fictional: {CLAIM}"])
            after = (await conn.execute(select(incidents.c.headline))).scalar_one()
    finally:
        await engine.dispose()
    assert after == "Rumour in Toller (claim text removed)"
