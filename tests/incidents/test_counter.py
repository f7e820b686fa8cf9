"""The council's own counter-post is recognised as the counter message, not one more rumour
post: by its allowlisted account, or by text repeating a recorded counter message. Denials in
the claim's cluster are counted as responses inside the incident; none of them count towards
its posts or open it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import insert, select, update

from monitor.incidents import store
from monitor.store import db
from monitor.store import posts as post_store
from monitor.store.tables import counter_messages, incidents, rumour_posts, rumours
from tests.incidents.test_store import CFG, T0, WALL, feed, fictional, hit

COUNCIL = "Bradford Council (fictional account)"
COUNTER = (
    "Fictional: the old mill on Toller Lane is not being turned into housing and nobody has "
    "been moved down the housing list. Please check before you share."
)


async def test_counter_messages_and_denials_are_responses_not_posts(
    migrated_sqlite_url: str,
) -> None:
    engine = db.create_engine(migrated_sqlite_url)
    try:
        await db.upgrade(engine)
        claim = [
            fictional(i, 10 * i, "Toller", "the old mill on Toller Lane is being turned into flats")
            for i in range(6)
        ]
        council = replace(fictional(50, 65, "Toller", COUNTER[11:]), author_name=COUNCIL)
        shared = fictional(51, 70, "Toller", "RT " + COUNTER[11:])
        denial = fictional(52, 75, "Toller", "nonsense, my sister works in housing")
        # The rumour rule matches the counter posts too (they name the claim to rebut it)
        await feed(engine, [*claim, council, shared], hit("rumour", "unverified_claim"))
        async with engine.begin() as conn:
            await post_store.insert_posts(conn, [denial])
            await conn.execute(
                insert(rumours).values(
                    id=7,
                    status="watching",
                    representative="the old mill is being turned into flats",
                    first_seen=T0,
                    last_seen=T0 + timedelta(hours=1),
                    places={},
                    stance={},
                    created_at=WALL,
                    updated_at=WALL,
                )
            )
            for post, stance in [
                *((p, "support") for p in claim),
                (council, "deny"),
                (shared, ""),
                (denial, "deny"),
            ]:
                await conn.execute(
                    insert(rumour_posts).values(
                        rumour_id=7,
                        post_id=post.id,
                        created_at=post.created_at,
                        how="similar",
                        stance=stance,
                        added_at=WALL,
                    )
                )
            await conn.execute(
                insert(counter_messages).values(
                    rumour_id=7,
                    published_at=T0 + timedelta(minutes=65),
                    text=COUNTER,
                    created_by="comms",
                    created_at=WALL,
                )
            )
            await conn.execute(update(post_store.posts).values(processed_at=WALL))
            await conn.run_sync(store.refresh, CFG, WALL, [COUNCIL])
            (row,) = (await conn.execute(select(incidents))).all()
    finally:
        await engine.dispose()
    assert row.status == "open" and row.cluster == 7
    assert row.post_count == 6  # the claim's six posts: not the council's, not its copy
    assert row.official_count == 2  # the council's post and the resident sharing it
    assert row.response_count == 3  # ... and the denial in the cluster
    assert row.headline.startswith("Rumour: “the old mill")
