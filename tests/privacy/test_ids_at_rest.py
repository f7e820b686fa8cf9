"""Post ids and links at rest carry no DID or handle (issue 13, finding 11): the store holds
keyed HMACs of the platform ids, links and reply/quote/repost targets, and the platform id only
sealed (for re-checks). Dedup, replies joining their parent, deletions (tombstones) and the
re-check still work. Both a store written by today's ingest and one migrated from 0008 are
read whole, every column of every table, on SQLite and PostgreSQL. All accounts, servers and
posts are fictional."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.privacy.minimise import Masker
from monitor.privacy.postids import PostIds, SealError
from monitor.runtime.app import open_runtime
from monitor.store import db
from monitor.store import quarantine as quarantine_store
from monitor.store.keys import PostKeyMismatch, PostKeys
from monitor.store.tables import (
    place_matches,
    post_tombstones,
    posts,
    quarantine,
    window_events,
)
from monitor.types import RawPost

ROOT = Path(__file__).resolve().parents[2]
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
# What must never be found at rest: the fictional accounts' DIDs and handles.
MARKERS = ("did:plc:fictional", "fictionalresident", "fictionalalice", "fictionalbob")


def bsky(n: int, who: str, **more: Any) -> RawPost:
    return RawPost(
        platform="bluesky",
        native_id=f"at://did:plc:{who}/app.bsky.feed.post/3kf{n}",
        text=f"(fictional) everyone to Fern Street at 7pm, Manningham, number {n}",
        created_at=START + timedelta(minutes=n),
        author_id=f"did:plc:{who}",
        source="bsky",
        url=f"https://bsky.app/profile/did:plc:{who}/post/3kf{n}",
        **more,
    )


async def dump(engine: AsyncEngine) -> dict[str, str]:
    """Every table's rows, as text: what someone with database access reads."""
    out: dict[str, str] = {}
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
        for name in names:
            rows = (await conn.execute(text(f'SELECT * FROM "{name}"'))).all()
            out[name] = repr([tuple(r) for r in rows])
    assert "posts" in out and "quarantine" in out
    return out


def leaks(tables: dict[str, str]) -> list[str]:
    return [f"{name}: {m}" for name, text in tables.items() for m in MARKERS if m in text]


async def test_a_stored_row_holds_no_did_or_handle_and_ids_still_work(store_url: str) -> None:
    settings = Settings(database_url=store_url, home=str(ROOT), classifier="keyword")
    parent = bsky(1, "fictionalalice")
    reply = bsky(
        2,
        "fictionalbob",
        reply_to=parent.post_id,
        quote_of="bluesky:at://did:plc:fictionalcarol/app.bsky.feed.post/3kq",
    )
    toot = RawPost(
        platform="mastodon",
        native_id="https://social.example/users/fictionalresident/statuses/77",
        text="(fictional) meet at the Greyfield Hotel tonight, Manningham",
        created_at=START + timedelta(minutes=3),
        author_id="https://social.example/users/fictionalresident",
        source="mastodon:social.example",
        url="https://social.example/@fictionalresident/77",
        repost_of="mastodon:https://social.example/users/fictionalbob/statuses/5",
    )
    deleted_first = bsky(4, "fictionalbob")
    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        # A delete that arrives before its create (named by the platform id, as platforms do).
        await rt.pipeline.delete_posts([deleted_first.post_id])
        await rt.pipeline.deliver("bsky", [parent, reply, toot, deleted_first], cursor=None)
        await rt.pipeline.deliver("bsky", [parent], cursor=None)  # a duplicate
        assert await rt.pipeline.drain(timeout=60)
        ids = await rt.pipeline.ingestor.ids()
        tables = await dump(rt.engine)
        async with rt.engine.connect() as conn:
            stored = {r.id: r for r in (await conn.execute(select(posts))).all()}
        # A deletion after the post is stored still finds it by its platform id.
        assert await rt.pipeline.delete_posts([toot.post_id]) == 1

    assert leaks(tables) == []
    assert sorted(stored) == sorted(ids.key(p.post_id) for p in (parent, reply, toot))
    assert ids.key(deleted_first.post_id) not in stored  # the tombstone won
    assert stored[ids.key(reply.post_id)].reply_to == ids.key(parent.post_id)  # joins its parent
    for p in (parent, reply, toot):
        row = stored[ids.key(p.post_id)]
        assert ids.open(row.origin) == p.post_id  # the re-check's way back, and only that
        assert row.url == ids.link(p.url)  # `monitor erase LINK` finds it
    assert all(r.text for r in stored.values())


def test_a_raw_record_in_the_quarantine_keeps_its_ids_and_text_only_sealed() -> None:
    ids = PostIds(b"q" * 32)
    raw = bsky(9, "fictionalalice", reply_to="bluesky:at://did:plc:fictionalbob/x/1")
    raw = RawPost(**{**{f: getattr(raw, f) for f in RawPost.__slots__}, "text": "@fictionalbob hi"})
    record = quarantine_store.raw_record(raw, None, ids, Masker())
    assert leaks({"record": repr(record)}) == []
    back, _ref = quarantine_store.raw_from_record(record, ids)
    assert back == RawPost(**{**{f: getattr(raw, f) for f in RawPost.__slots__}, "author_id": None})
    with pytest.raises(SealError):
        quarantine_store.raw_from_record(record, PostIds(b"x" * 32))


async def test_migration_0009_keys_a_stored_store_and_refuses_another_secret(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = db.create_engine(store_url)
    secret = "fictional-deployment-secret-0123456789abcdef"
    alice = "bluesky:at://did:plc:fictionalalice/app.bsky.feed.post/3ka"
    bob = "mastodon:https://social.example/users/fictionalbob/statuses/5"
    gone = "bluesky:at://did:plc:fictionalresident/app.bsky.feed.post/3kz"
    try:
        await db.upgrade(engine, "0008")
        async with engine.begin() as conn:
            for pid, reply_to, url in (
                (alice, None, "https://bsky.app/profile/did:plc:fictionalalice/post/3ka"),
                (bob, alice, "https://social.example/@fictionalbob/5"),
            ):
                await conn.execute(
                    insert(posts).values(
                        id=pid,
                        platform=pid.split(":", 1)[0],
                        source="test",
                        text="(fictional) road closed by the station",
                        created_at=START,
                        collected_at=START,
                        author_ref="0" * 32,
                        url=url,
                        reply_to=reply_to,
                    )
                )
                await conn.execute(
                    insert(place_matches).values(
                        post_id=pid,
                        place_id="bradford/ward/E05001355",
                        name="Manningham",
                        kind="ward",
                        ward="Manningham",
                        locality="Bradford West",
                        district="Bradford",
                        matched="Manningham",
                    )
                )
            await conn.execute(insert(post_tombstones).values(post_id=gone, deleted_at=START))
            await conn.execute(
                insert(window_events).values(
                    rule_id="r", key="k", post_id=bob, at=START, author_ref="0" * 32
                )
            )
            raw = bsky(5, "fictionalalice")
            raw_record = {f: getattr(raw, f) for f in RawPost.__slots__ if f != "author_id"}
            raw_record.update(created_at=raw.created_at.isoformat(), kind="raw", author_ref=None)
            post_record = {"kind": "post", "id": alice, "url": None, "reply_to": bob}
            for key, record, post_id in (
                (raw.post_id, raw_record, None),
                (alice, post_record, alice),
            ):
                await conn.execute(
                    insert(quarantine).values(
                        key=key,
                        post_id=post_id,
                        source="test",
                        stage="store",
                        error="fictional",
                        record=record,
                        attempts=1,
                        first_at=START,
                        last_at=START,
                    )
                )
        assert leaks(await dump(engine))  # the test can see a leak

        await db.upgrade(engine, post_key_secret=secret)
        assert leaks(await dump(engine)) == []
        ids = await PostKeys(engine, secret).get()
        async with engine.connect() as conn:
            stored = {r.id: r for r in (await conn.execute(select(posts))).all()}
            placed = set((await conn.execute(select(place_matches.c.post_id))).scalars())
            dead = set((await conn.execute(select(post_tombstones.c.post_id))).scalars())
            held = {r.key: r for r in (await conn.execute(select(quarantine))).all()}
        assert set(stored) == {ids.key(alice), ids.key(bob)} == placed
        assert stored[ids.key(bob)].reply_to == ids.key(alice)
        assert ids.open(stored[ids.key(bob)].origin) == bob
        assert stored[ids.key(bob)].url == ids.link("https://social.example/@fictionalbob/5")
        assert dead == {ids.key(gone)}
        assert set(held) == {ids.key(raw.post_id), ids.key(alice)}
        back, _ = quarantine_store.raw_from_record(held[ids.key(raw.post_id)].record, ids)
        assert back.post_id == raw.post_id and back.text == raw.text  # retryable as it came
        # Another secret (or none) would key new posts differently: refused, not mixed.
        with pytest.raises(PostKeyMismatch):
            await PostKeys(engine, None).get()
    finally:
        await engine.dispose()
