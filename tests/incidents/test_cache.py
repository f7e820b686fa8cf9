"""The incident stage keeps evidence posts' facts between regroupings (monitor/incidents/cache.py):
at every step of a realistic stream (a claim told in batches, denials and an official's post
in its cluster, an episode beside it) and after every change another process makes to posts
already read (text erased, a counter message recorded, stances and memberships moved, a
cluster merged, an edit processed again, the allowlist changed, a batch rolled back and tried
again), what the cached reading gives is what a fresh reading of the whole store gives, and so
is the plan computed from it. All posts are fictional."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.incidents import store
from monitor.incidents.cache import PostFactsCache
from monitor.incidents.model import PostFacts
from monitor.store import alerts as alert_store
from monitor.store import db
from monitor.store import posts as post_store
from monitor.store import signals as signal_store
from monitor.store.tables import rumour_posts, rumours
from monitor.types import Post, Processed, RuleHit
from tests.incidents.test_store import CFG, T0, WALL, hit, place

COUNCIL = "Bradford Council (fictional account)"
CLAIM = "the old mill on Toller Lane is being turned into flats for newcomers, pass it on"
# Words no recogniser reads as a denial or an appeal: a share of it answers the story only once
# comms record it as their counter message.
COUNTER = (
    "Statement on the old mill on Toller Lane: the site is being refurbished as a library and "
    "community hall, opening in the spring"
)
RUMOUR = hit("rumour", "unverified_claim")
FIRE = hit("tension", "fire")


def post(n: int, minutes: float, ward: str, text: str, author: int | None = None) -> Post:
    return Post(
        id=f"bluesky:at://did:plc:fictional{n}/app.bsky.feed.post/{n}",
        platform="bluesky",
        source="test",
        text=f"Fictional: {text}",
        language="en",
        created_at=T0 + timedelta(minutes=minutes),
        collected_at=WALL,
        author_ref=f"ref{author if author is not None else n % 23}",
        places=(place(ward, "Bradford West"),),
    )


class Reads:
    """`store.load_posts`, counting the posts read in full."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def __call__(
        self, conn: Connection, ids: Sequence[str], names: Collection[str]
    ) -> dict[str, PostFacts]:
        self.ids += ids
        return store.load_posts(conn, ids, names)


def same_as_fresh(cache: PostFactsCache, names: Collection[str]) -> Callable[[Connection], int]:
    """Read with the cache and afresh in one transaction; both readings and both plans must
    agree. The cached plan is written, as the stage writes it. Returns the posts in play."""

    def check(conn: Connection) -> int:
        clock = store.event_clock(conn, WALL)
        cached = store.load_inputs(conn, names, cache)
        fresh = store.load_inputs(conn, names)
        assert cached.posts == fresh.posts
        assert cached.members == fresh.members
        assert cached.officials == fresh.officials
        assert cached.counter_texts == fresh.counter_texts
        plan = store.compute(cached, clock, CFG)
        assert plan == store.compute(fresh, clock, CFG)
        store.apply(conn, plan, clock, WALL)
        return len(cached.posts)

    return check


async def process(
    conn: AsyncConnection, batch: Sequence[Post], rule: RuleHit, now: datetime
) -> list[Processed]:
    """What the pipeline writes for a batch before the stages run."""
    items = [Processed(post=p, hits=(rule,)) for p in batch]
    await post_store.insert_posts(conn, batch)
    await post_store.save_processed(conn, items, now)
    await alert_store.record_hits(conn, items, now)
    return items


async def members(
    conn: AsyncConnection, rumour_id: int, batch: Sequence[Post], stance: str = "support"
) -> None:
    await signal_store.add_memberships(
        conn,
        [
            {
                "rumour_id": rumour_id,
                "post_id": p.id,
                "created_at": p.created_at,
                "how": "similar",
                "similarity": 0.9,
                "stance": stance,
                "place": "Toller",
                "state": "member",
                "added_at": WALL,
            }
            for p in batch
        ],
    )


async def cluster(conn: AsyncConnection, rumour_id: int) -> None:
    await conn.execute(
        insert(rumours).values(
            id=rumour_id,
            status="watching",
            representative=CLAIM,
            first_seen=T0,
            last_seen=T0 + timedelta(hours=3),
            places={},
            stance={},
            created_at=WALL,
            updated_at=WALL,
        )
    )


def pid(n: int) -> str:
    return post(n, 0, "Toller", "").id


Change = Callable[[AsyncConnection], Awaitable[Any]]


async def erase(conn: AsyncConnection) -> None:  # a platform deletion: text gone
    await post_store.purge_text(conn, [pid(31), pid(40)], WALL)


async def counter(conn: AsyncConnection) -> None:  # comms record the council's message
    await signal_store.add_counter(
        conn, 7, T0 + timedelta(minutes=45), by="comms", now=WALL, text=COUNTER
    )


async def requery(conn: AsyncConnection) -> None:  # the stance head reads a post again
    await conn.execute(
        update(rumour_posts).where(rumour_posts.c.post_id == pid(0)).values(stance="query")
    )


async def move(conn: AsyncConnection) -> None:  # late claims judged again: another cluster
    await signal_store.move_members(conn, 8, [pid(32), pid(33)])


async def edit(conn: AsyncConnection) -> None:  # the platform's edit, processed again
    edited = replace(post(60, 30, "Toller", CLAIM), text="Fictional: deleted, sorry")
    assert await post_store.replace_text(conn, edited)
    item = Processed(post=edited, hits=(hit("threat", "threat", "high"),))
    await post_store.save_processed(conn, [item], WALL + timedelta(hours=1))


async def reprocess(conn: AsyncConnection) -> None:  # the same text again, under other rules
    same = post(61, 31, "Toller", CLAIM)
    assert await post_store.replace_text(conn, same)
    item = Processed(post=same, hits=(hit("call_to_gather", "gathering", "high"),))
    await post_store.save_processed(conn, [item], WALL + timedelta(hours=2))


async def merge(conn: AsyncConnection) -> None:  # the two clusters are one claim
    await signal_store.repoint_merged(conn, 8, 7)


# After which batch each change comes; None: the allowlist now names the council's account.
CHANGES: dict[int, list[Change | None]] = {
    2: [erase],
    3: [counter],
    4: [requery, move],
    5: [edit, reprocess, None],
    6: [merge],
}


async def test_cached_facts_match_a_fresh_reading_through_a_stream_of_changes(
    migrated_store_url: str,
) -> None:
    engine = db.create_engine(migrated_store_url)
    reads = Reads()
    cache = PostFactsCache(reads)
    names: Collection[str] = ()

    async def step(conn: AsyncConnection, batch: Sequence[Post] = ()) -> int:
        cache.forget(p.id for p in batch)  # as the stage does with its batch
        reads.ids.clear()
        found: int = await conn.run_sync(same_as_fresh(cache, names))
        return found

    try:
        await db.upgrade(engine)
        async with engine.begin() as conn:
            await cluster(conn, 7)
            await cluster(conn, 8)
        for b in range(8):
            now = WALL + timedelta(minutes=b)
            n = 30 * b
            claim = [post(n + i, 15 * b + i, "Toller", CLAIM) for i in range(6)]
            fire = [
                post(n + 10 + i, 15 * b + i, "Little Horton", "so angry about the fire")
                for i in range(3)
            ]
            denial = post(n + 20, 15 * b + 7, "Toller", "nonsense, my sister works in housing")
            async with engine.begin() as conn:
                items = await process(conn, claim, RUMOUR, now)
                items += await process(conn, fire, FIRE, now)
                await post_store.insert_posts(conn, [denial])
                await members(conn, 7, claim)
                await members(conn, 7, [denial], "deny")
                if b == 2:  # the council's own post and a share of it, matched by the rule
                    council = replace(post(999, 40, "Toller", COUNTER, 999), author_name=COUNCIL)
                    shared = post(998, 42, "Toller", f"RT {COUNTER}", 998)
                    items += await process(conn, [council, shared], RUMOUR, now)
                    await members(conn, 7, [council], "deny")
                    await members(conn, 7, [shared], "")
                in_play = await step(conn, [i.post for i in items] + [denial])
            if b >= 3:
                # The posts read in full are this batch's own and none of the rest.
                assert len(reads.ids) <= len(items) + 1 < in_play
            for change in CHANGES.get(b, []):
                # Another process changes the store; then a batch with no new posts regroups.
                if change is None:
                    names = [COUNCIL]
                else:
                    async with engine.begin() as conn:
                        await change(conn)
                async with engine.begin() as conn:
                    await step(conn)
    finally:
        await engine.dispose()


async def test_a_batch_tried_again_after_a_rollback_is_read_afresh(
    migrated_store_url: str,
) -> None:
    """A reading in a transaction that rolled back kept facts the store never committed; the
    batch tried again writes the same posts at the same processing time (a replayed clock)
    with other labels: the stage forgets its batch's posts, so they are read in full."""
    engine = db.create_engine(migrated_store_url)
    cache = PostFactsCache(store.load_posts)
    try:
        await db.upgrade(engine)
        first = [post(i, 10 * i, "Toller", CLAIM) for i in range(6)]
        async with engine.begin() as conn:
            await process(conn, first, RUMOUR, WALL)
            await conn.run_sync(same_as_fresh(cache, ()))
        batch = [post(10 + i, 60 + 10 * i, "Toller", CLAIM) for i in range(4)]
        async with engine.connect() as conn:
            async with conn.begin() as tx:
                await process(conn, batch, RUMOUR, WALL)
                cache.forget(p.id for p in batch)
                await conn.run_sync(same_as_fresh(cache, ()))
                await tx.rollback()
        async with engine.begin() as conn:
            await process(conn, batch, hit("threat", "threat", "high"), WALL)
            cache.forget(p.id for p in batch)
            await conn.run_sync(same_as_fresh(cache, ()))
    finally:
        await engine.dispose()
