"""The store on SQLite and PostgreSQL: migrations, idempotent inserts, cursors, purges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from monitor.store import db
from monitor.store import posts as post_store
from monitor.store import signals as signals_store
from monitor.store.tables import metadata, place_matches, posts
from monitor.types import PlaceMatch, Post, Processed, RuleHit

NOW = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)


def make_post(n: int, **kw: object) -> Post:
    values: dict[str, object] = dict(
        id=f"bluesky:at://did:plc:fictional{n}/app.bsky.feed.post/{n}",
        platform="bluesky",
        source="test",
        text=f"Fictional post number {n} about Manningham",
        language="en",
        created_at=NOW - timedelta(minutes=n),
        collected_at=NOW,
        author_ref=f"ref{n % 3}",
        places=(
            PlaceMatch(
                place_id="bradford/ward/manningham",
                name="Manningham",
                kind="ward",
                ward="Manningham",
                locality="Bradford West",
                district="Bradford",
                matched="Manningham",
            ),
        ),
    )
    values.update(kw)
    return Post(**values)  # type: ignore[arg-type]


async def test_migrations_match_the_tables(store_url: str) -> None:
    engine = db.create_engine(store_url)
    try:
        await db.upgrade(engine)

        def diff(conn: object) -> list[object]:
            ctx = MigrationContext.configure(conn)  # type: ignore[arg-type]
            return list(compare_metadata(ctx, metadata))

        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()


def test_the_head_read_from_the_migration_files_is_alembics() -> None:
    assert db.head_revision() == ScriptDirectory.from_config(db.alembic_config()).get_current_head()


async def test_upgrading_a_store_at_head_or_one_behind_ends_at_head(store_url: str) -> None:
    engine = db.create_engine(store_url)
    head = db.head_revision()
    script = ScriptDirectory.from_config(db.alembic_config())
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str)

    async def stamped() -> list[str]:
        async with engine.connect() as conn:
            result = await conn.execute(text("select version_num from alembic_version"))
            return list(result.scalars())

    try:
        await db.upgrade(engine, previous)
        assert await stamped() == [previous]
        await db.upgrade(engine)  # one behind: the last migration runs
        assert await stamped() == [head]
        await db.upgrade(engine)  # at head: nothing to do
        assert await stamped() == [head]
    finally:
        await engine.dispose()


async def test_insert_is_idempotent_and_keeps_utc(migrated_store_url: str) -> None:
    engine = db.create_engine(migrated_store_url)
    try:
        await db.upgrade(engine)
        batch = [make_post(n) for n in range(5)]
        async with engine.begin() as conn:
            first = await post_store.insert_posts(conn, batch)
        async with engine.begin() as conn:
            again = await post_store.insert_posts(conn, batch + [make_post(7)])
        assert [p.id for p in first] == [p.id for p in batch]
        assert [p.id for p in again] == [make_post(7).id]
        async with engine.connect() as conn:
            assert await post_store.count_posts(conn) == 6
            created = (
                await conn.execute(select(posts.c.created_at).where(posts.c.id == batch[0].id))
            ).scalar_one()
            n_places = len((await conn.execute(select(place_matches))).all())
        assert created == NOW and created.tzinfo is not None
        assert n_places == 6
    finally:
        await engine.dispose()


async def test_cursor_round_trip(migrated_store_url: str) -> None:
    engine = db.create_engine(migrated_store_url)
    try:
        await db.upgrade(engine)
        async with engine.begin() as conn:
            assert await post_store.load_cursor(conn, "jetstream") is None
            await post_store.save_cursor(conn, "jetstream", "bluesky", "1787220925000000", NOW)
        async with engine.begin() as conn:
            await post_store.save_cursor(conn, "jetstream", "bluesky", "1787220926000000", NOW)
        async with engine.connect() as conn:
            assert await post_store.load_cursor(conn, "jetstream") == "1787220926000000"
    finally:
        await engine.dispose()


async def test_processing_is_repeatable_and_resumes_unprocessed(migrated_store_url: str) -> None:
    engine = db.create_engine(migrated_store_url)
    try:
        await db.upgrade(engine)
        batch = [make_post(n) for n in range(3)]
        async with engine.begin() as conn:
            await post_store.insert_posts(conn, batch)
        item = Processed(
            post=batch[0],
            scores={"hostile": 0.91},
            embedding=[0.5] * 384,
            flags=("hostile",),
            hits=(RuleHit("tension.test", {"kind": "tension"}),),
        )
        for _ in range(2):  # a redelivered batch adds nothing twice
            async with engine.begin() as conn:
                await post_store.save_processed(conn, [item], NOW)
        async with engine.connect() as conn:
            rows = await post_store.unprocessed_posts(conn, 10)
            loaded = await post_store.load_posts(conn, rows)
            emb = (
                await conn.execute(select(posts.c.embedding).where(posts.c.id == batch[0].id))
            ).scalar_one()
        assert sorted(p.id for p in loaded) == sorted(p.id for p in batch[1:])
        assert loaded[0].places[0].ward == "Manningham"
        assert list(post_store.decode_embedding(emb)[:2]) == [0.5, 0.5]
    finally:
        await engine.dispose()


async def test_a_rule_hit_comes_back_as_stored_with_whether_its_words_matched(
    migrated_store_url: str,
) -> None:
    """Signals rebuild hits from the store after a restart: a hit of a rule of scores alone
    (a windowed build-up) must not come back as one whose words matched the post."""
    engine = db.create_engine(migrated_store_url)
    try:
        await db.upgrade(engine)
        post = make_post(1)
        async with engine.begin() as conn:
            await post_store.insert_posts(conn, [post])
        hits = (
            RuleHit(
                "rumour.claim_rising_in_ward", {"kind": "rumour", "area": "Manningham"}, "", False
            ),
            RuleHit("rumour.share_before_deleted", {"kind": "rumour"}, "", True),
        )
        item = Processed(post, {"rumour": 0.8}, [0.5] * 384, ("rumour",), hits)
        async with engine.begin() as conn:
            await post_store.save_processed(conn, [item], NOW)
        async with engine.connect() as conn:
            (processed,) = await signals_store.processed_by_ids(conn, [post.id])
            (stored,) = await signals_store.processed_posts_between(
                conn, NOW - timedelta(days=1), NOW
            )
        for got in (processed.hits, stored.hits):
            assert [(h.rule_id, dict(h.labels), h.words) for h in got] == [
                (h.rule_id, dict(h.labels), h.words) for h in hits
            ]
    finally:
        await engine.dispose()


async def test_purge_removes_text_but_keeps_the_row(migrated_store_url: str) -> None:
    engine = db.create_engine(migrated_store_url)
    try:
        await db.upgrade(engine)
        batch = [make_post(n) for n in range(2)]
        async with engine.begin() as conn:
            await post_store.insert_posts(conn, batch)
            n = await post_store.purge_text(conn, [batch[0].id], NOW)
            again = await post_store.purge_text(conn, [batch[0].id], NOW)
        async with engine.connect() as conn:
            rows = (await conn.execute(select(posts.c.id, posts.c.text))).all()
        assert (n, again) == (1, 0)
        assert dict(rows) == {batch[0].id: None, batch[1].id: batch[1].text}
    finally:
        await engine.dispose()
