"""Incidents on a real store: open, grow, merge, cool and close in event time; an analyst's
merge and split; and the migration that turns the open alerts on record into incidents."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.incidents import describe, store
from monitor.incidents.config import IncidentsConfig
from monitor.store import alerts as alert_store
from monitor.store import db
from monitor.store import posts as post_store
from monitor.store.tables import (
    alert_posts,
    alerts,
    incident_alerts,
    incident_events,
    incidents,
    place_matches,
)
from monitor.types import PlaceMatch, Post, Processed, RuleHit

T0 = datetime(2026, 11, 5, 19, 0, tzinfo=UTC)
WALL = datetime(2026, 12, 1, tzinfo=UTC)  # processing time: never what incidents go by
CFG = IncidentsConfig()


def place(ward: str, locality: str = "Bradford East") -> PlaceMatch:
    return PlaceMatch(
        place_id=f"bradford/ward/{ward.lower().replace(' ', '-')}",
        name=ward,
        kind="ward",
        ward=ward,
        locality=locality,
        district="Bradford",
        matched=ward,
    )


def fictional(n: int, minutes: float, ward: str | None, text: str) -> Post:
    return Post(
        id=f"bluesky:at://did:plc:fictional{n}/app.bsky.feed.post/{n}",
        platform="bluesky",
        source="test",
        text=f"Fictional: {text}",
        language="en",
        created_at=T0 + timedelta(minutes=minutes),
        collected_at=WALL,
        author_ref=f"ref{n}",
        places=(place(ward),) if ward else (),
    )


def hit(kind: str, topic: str, severity: str = "medium") -> RuleHit:
    return RuleHit(f"tension.{topic}", {"kind": kind, "topic": topic, "severity": severity})


async def feed(engine: AsyncEngine, posts: Sequence[Post], rule: RuleHit) -> list[int]:
    """Store the posts, record them processed with the rule's labels and open/extend its
    alerts (as the pipeline does, in one transaction), regroup."""
    processed = [Processed(post=p, hits=(rule,)) for p in posts]
    async with engine.begin() as conn:
        await post_store.insert_posts(conn, posts)
        await post_store.save_processed(conn, processed, WALL)
        await alert_store.record_hits(conn, processed, WALL)
        return await conn.run_sync(store.refresh, CFG, WALL)


async def rows(engine: AsyncEngine) -> list[dict[str, object]]:
    async with engine.connect() as conn:
        found = (await conn.execute(select(incidents).order_by(incidents.c.id))).all()
    return [dict(r._mapping) for r in found]


async def events(engine: AsyncEngine, incident_id: int) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        found = await conn.execute(
            select(incident_events.c.kind, incident_events.c.reason)
            .where(incident_events.c.incident_id == incident_id)
            .order_by(incident_events.c.id)
        )
        return [(r.kind, r.reason) for r in found]


@pytest.fixture
async def engine(migrated_store_url: str):  # type: ignore[no-untyped-def]
    engine = db.create_engine(migrated_store_url)
    await db.upgrade(engine)
    yield engine
    await engine.dispose()


def angry(start: int, n: int, minutes: float, ward: str | None = "Little Horton") -> list[Post]:
    return [
        fictional(start + i, minutes + 10 * i, ward, "so angry about the fire") for i in range(n)
    ]


async def test_held_below_the_gate_then_opens_grows_and_merges(engine: AsyncEngine) -> None:
    await feed(engine, angry(0, 2, 0), hit("tension", "incident_anger"))
    (first,) = await rows(engine)
    assert first["status"] == "held"
    assert "2 posts (needs 5)" in str(first["gate"])

    await feed(engine, angry(10, 4, 30), hit("tension", "incident_anger"))
    (row,) = await rows(engine)
    assert row["status"] == "open" and row["post_count"] == 6
    assert [k for k, _ in await events(engine, int(row["id"]))] == ["held", "opened"]

    # A threat in the same ward the same evening joins the same incident
    await feed(engine, angry(20, 3, 60), hit("threat", "vigilante", "high"))
    (row,) = await rows(engine)
    assert row["alert_count"] == 2 and row["level"] == "high"
    kinds = [k for k, _ in await events(engine, int(row["id"]))]
    assert "grew" in kinds and "level" in kinds


async def test_two_incidents_a_story_joins_are_merged_into_the_older(
    engine: AsyncEngine,
) -> None:
    # Two places at first: two incidents
    await feed(engine, angry(0, 6, 0, "Little Horton"), hit("tension", "incident_anger"))
    await feed(engine, angry(10, 6, 0, "City"), hit("tension", "community_anger"))
    assert [r["status"] for r in await rows(engine)] == ["open", "open"]
    # A rising-tension alert for their locality connects them (signals' level change)
    async with engine.begin() as conn:
        await alert_store.open_alert(
            conn,
            "area=Bradford East,area_kind=locality,kind=rising_tension",
            {
                "kind": "rising_tension",
                "area": "Bradford East",
                "area_kind": "locality",
                "level": "high",
                "severity": "high",
            },
            "rising tension in Bradford East (locality): high",
            T0 + timedelta(minutes=20),
            WALL,
        )
        await conn.run_sync(store.refresh, CFG, WALL)
    first, second = await rows(engine)
    assert first["status"] == "open" and first["alert_count"] == 3
    assert second["status"] == "merged" and second["merged_into"] == first["id"]
    assert any(k == "merged" and "incident 2 joined" in r for k, r in await events(engine, 1))


async def test_cools_then_closes_in_event_time_and_reopens_on_new_posts(
    engine: AsyncEngine,
) -> None:
    await feed(engine, angry(0, 6, 0), hit("tension", "incident_anger"))
    # Quiet chatter elsewhere moves event time on; the wall clock never does here
    quiet = [fictional(100, 13 * 60, "Wibsey", "bins day again")]
    await feed(engine, quiet, hit("chatter", "bins"))
    lh = (await rows(engine))[0]
    assert lh["status"] == "cooling"
    await feed(
        engine, [fictional(101, 8 * 24 * 60, "Wibsey", "bins day again")], hit("chatter", "bins")
    )
    assert (await rows(engine))[0]["status"] == "closed"
    reasons = await events(engine, int(lh["id"]))
    assert ("cooling", "no new posts for 12 h") in reasons
    assert ("closed", "no new posts for 168 h") in reasons

    await feed(engine, angry(200, 6, 8 * 24 * 60 + 10), hit("tension", "incident_anger"))
    assert (await rows(engine))[0]["status"] == "open"
    assert ("reopened", "new posts after it closed") in await events(engine, int(lh["id"]))


async def test_reviewing_every_alert_closes_the_incident(engine: AsyncEngine) -> None:
    await feed(engine, angry(0, 6, 0), hit("tension", "incident_anger"))
    async with engine.begin() as conn:
        await conn.execute(update(alerts).values(status="dismissed"))
        await conn.run_sync(store.refresh, CFG, WALL)
    (row,) = await rows(engine)
    assert row["status"] == "closed"
    assert ("closed", "every alert in it was reviewed and closed") in await events(engine, 1)


async def test_an_analysts_split_and_merge_stick(engine: AsyncEngine) -> None:
    await feed(engine, angry(0, 6, 0), hit("tension", "incident_anger"))
    await feed(engine, angry(10, 6, 30), hit("threat", "vigilante", "high"))
    (row,) = await rows(engine)
    async with engine.begin() as conn:
        ids = (await conn.execute(select(incident_alerts.c.alert_id))).scalars().all()
        threat = max(ids)
        new_id = await conn.run_sync(
            store.split, int(row["id"]), [threat], "analyst1", "a separate threat", WALL
        )
        await conn.run_sync(store.refresh, CFG, WALL)
    first, second = await rows(engine)
    assert second["id"] == new_id
    assert (first["alert_count"], second["alert_count"]) == (1, 1)
    assert second["kinds"] == ["threat"]  # the engine redescribed it, and kept it apart
    # More posts on both alerts: the engine still keeps the analyst's split
    await feed(engine, angry(30, 2, 90), hit("threat", "vigilante", "high"))
    assert [r["alert_count"] for r in await rows(engine)] == [1, 1]

    async with engine.begin() as conn:
        await conn.run_sync(store.merge, int(first["id"]), [new_id], "analyst1", "one story", WALL)
        await conn.run_sync(store.refresh, CFG, WALL)
    first, second = await rows(engine)
    assert first["alert_count"] == 2 and second["status"] == "merged"
    split_events = await events(engine, new_id)
    assert split_events[0] == ("split", "split from incident 1 by hand: a separate threat")
    with pytest.raises(store.IncidentError, match="already merged"):
        async with engine.begin() as conn:
            await conn.run_sync(store.merge, int(first["id"]), [new_id], "a", "again", WALL)


async def test_the_migration_turns_open_alerts_into_incidents(store_url: str) -> None:
    engine = db.create_engine(store_url)
    try:
        await db.upgrade(engine, "0001")
        posts = angry(0, 6, 0) + angry(10, 6, 0, None)
        async with engine.begin() as conn:
            # Rows as a store at 0001 held them, written directly: today's store functions
            # may use tables that revision does not have.
            await at_0001(conn, posts[:6], "area=Little Horton,kind=tension,topic=incident_anger")
            await at_0001(conn, posts[6:], "area=unplaced,kind=tension,topic=incident_anger")
            # a closed alert stays out of it
            await conn.execute(
                insert(alerts).values(
                    key="kind=tension,topic=old",
                    labels={"kind": "tension", "area": "City"},
                    summary="old",
                    status="closed",
                    post_count=0,
                    first_seen=T0,
                    last_seen=T0,
                    created_at=WALL,
                    updated_at=WALL,
                )
            )
        await db.upgrade(engine)
        found = await rows(engine)
        assert len(found) == 1
        assert found[0]["status"] == "open"
        assert found[0]["wards"] == ["Little Horton"]
        assert found[0]["alert_count"] == 2  # the ward's alert and the unplaced one
        assert found[0]["headline"] == "Tension after the fire in Little Horton"
    finally:
        await engine.dispose()


async def at_0001(conn: Any, batch: Sequence[Post], key: str) -> None:
    """Posts, their places and one open alert over them, as revision 0001's tables hold them."""
    labels = dict(part.split("=", 1) for part in key.split(","))
    for p in batch:
        await conn.execute(
            insert(post_store.posts).values(
                id=p.id,
                platform=p.platform,
                source=p.source,
                text=p.text,
                language=p.language,
                created_at=p.created_at,
                collected_at=p.collected_at,
                author_ref=p.author_ref,
                processed_at=WALL,
            )
        )
        for m in p.places:
            await conn.execute(
                insert(place_matches).values(
                    post_id=p.id,
                    place_id=m.place_id,
                    name=m.name,
                    kind=m.kind,
                    ward=m.ward,
                    locality=m.locality,
                    district=m.district,
                    matched=m.matched,
                )
            )
    alert_id = (
        await conn.execute(
            insert(alerts)
            .values(
                key=key,
                labels=labels,
                summary=key,
                status="new",
                post_count=len(batch),
                first_seen=min(p.created_at for p in batch),
                last_seen=max(p.created_at for p in batch),
                created_at=WALL,
                updated_at=WALL,
            )
            .returning(alerts.c.id)
        )
    ).scalar_one()
    for p in batch:
        await conn.execute(
            insert(alert_posts).values(
                alert_id=alert_id, post_id=p.id, excerpt=p.text, rules=["t"], added_at=WALL
            )
        )


async def event_times(engine: AsyncEngine, incident_id: int) -> dict[str, datetime]:
    async with engine.connect() as conn:
        found = await conn.execute(
            select(incident_events.c.kind, incident_events.c.at)
            .where(incident_events.c.incident_id == incident_id)
            .order_by(incident_events.c.id)
        )
        return {r.kind: r.at.replace(tzinfo=r.at.tzinfo or UTC) for r in found}


async def test_each_lifecycle_event_is_stamped_with_the_evidence_that_caused_it(
    engine: AsyncEngine,
) -> None:
    """Not with the batch that noticed it: six angry posts 10 minutes apart arrive in one
        batch; the third (minute 20) takes the story past the gate (three people a rule
    matched within half an hour), and the reason counts what it stood on then. Cooling and
    closing
        are due from the last post (minute 50), though only noticed hours or days later; it
        reopens at the first new post."""
    await feed(engine, angry(0, 6, 0), hit("tension", "incident_anger"))
    await feed(engine, [fictional(100, 20 * 60, "Wibsey", "bins day again")], hit("chatter", "b"))
    await feed(engine, [fictional(101, 9 * 24 * 60, "Wibsey", "bins again")], hit("chatter", "b"))
    lh = int((await rows(engine))[0]["id"])
    await feed(engine, angry(200, 6, 9 * 24 * 60 + 10), hit("tension", "incident_anger"))
    at = await event_times(engine, lh)
    last = T0 + timedelta(minutes=50)
    assert at["opened"] == T0 + timedelta(minutes=20)
    opened = [r for k, r in await events(engine, lh) if k == "opened"]
    assert opened == ["passed the precision gate: 3 posts, 3 authors, 2 named places"]
    assert at["cooling"] == last + CFG.cool_after
    assert at["closed"] == last + CFG.close_after
    assert at["reopened"] == T0 + timedelta(days=9, minutes=10)


async def test_load_posts_reads_each_posts_places_rule_kinds_severity_flags_and_replies(
    engine: AsyncEngine,
) -> None:
    """What regrouping knows of each evidence post (read again on every processed batch)."""
    ward = place("Allerton")  # before "Bradford" by name, after it by kind
    wider = PlaceMatch("bradford/district", "Bradford", "district", None, None, "Bradford", "x")
    first = replace(fictional(1, 0, None, "a fire"), places=(ward, wider), reply_to="p0")
    second = replace(fictional(2, 5, None, "calm"), author_name="Fictional Council")
    processed = [
        Processed(
            post=first,
            flags=("hostile",),
            hits=(hit("threat", "fire"), hit("tension", "fire", severity="high")),
        ),
        Processed(post=second),
    ]
    async with engine.begin() as conn:
        await post_store.insert_posts(conn, [first, second])
        await post_store.save_processed(conn, processed, WALL)
        facts = await conn.run_sync(
            store.load_posts, [second.id, first.id, "never-stored"], ["Fictional Council"]
        )
    assert sorted(facts) == sorted([first.id, second.id])
    one, two = facts[first.id], facts[second.id]
    assert [(w.kind, w.name) for w in one.places] == [("district", "Bradford"), ("ward", ward.name)]
    assert one.wards == {"Allerton"} and one.localities == {"Bradford East"}
    assert (one.at, one.author, one.text) == (first.created_at, "ref1", first.text)
    assert one.kinds == {"threat", "tension"} and one.severity == "high"
    assert one.flags == {"hostile"} and one.reply_to == "p0" and one.quote_of is None
    assert (one.cluster, one.stance, one.official) == (None, "", False)
    assert two.official and two.places == () and two.kinds == frozenset() and two.severity == ""


async def test_a_build_up_of_scored_posts_does_not_make_its_post_rule_matched(
    engine: AsyncEngine,
) -> None:
    """A windowed rule of scores alone (claims rising in a ward) fires on the post that tips
    its window: the post is not thereby matched by a rumour rule's words, so it does not
    corroborate a rumour as a rule-matched author does (incidents_corroborated_rule_authors)."""
    told = fictional(1, 0, None, "a claim")
    window = RuleHit(
        "rumour.claim_rising_in_ward",
        {"kind": "rumour", "topic": "claims_rising", "severity": "medium", "area": "Allerton"},
        words=False,
    )
    async with engine.begin() as conn:
        await post_store.insert_posts(conn, [told])
        await post_store.save_processed(conn, [Processed(post=told, hits=(window,))], WALL)
        facts = await conn.run_sync(store.load_posts, [told.id], [])
    assert facts[told.id].kinds == frozenset() and facts[told.id].severity == ""
    assert not describe.corroborated([facts[told.id]], CFG)


async def test_refresh_with_the_callers_event_clock_is_refresh_reading_it(
    engine: AsyncEngine,
) -> None:
    """The stage hands refresh the event clock its change marker read in the same transaction."""
    await feed(engine, angry(10, 3, 0), hit("tension", "fire"))
    async with engine.connect() as conn:
        clock = await conn.run_sync(store.event_clock, WALL)
    assert clock == T0 + timedelta(minutes=20)
    more = angry(20, 3, 30)
    processed = [Processed(post=p, hits=(hit("tension", "fire"),)) for p in more]
    async with engine.begin() as conn:
        await post_store.insert_posts(conn, more)
        await post_store.save_processed(conn, processed, WALL)
        await alert_store.record_hits(conn, processed, WALL)
        marker = await conn.run_sync(store.change_marker, WALL)
        await conn.run_sync(store.refresh, CFG, WALL, (), marker[1])
    assert marker[1] == T0 + timedelta(minutes=50)
    (row,) = await rows(engine)
    assert row["last_seen"] == T0 + timedelta(minutes=50)
