"""A post's text that the store drops leaves the classifier's on-disk encoding cache too
(`classifier_encoding_cache`, monitor/classify/disk_cache.py): a platform deletion (of the post
or of its account, and one that races the worker's encoding), `monitor erase`, `monitor purge`
and the scheduled retention purge. Each test keeps a real SQLite cache file in its own folder,
with the rows a classifier would have written for the posts' texts, and checks that afterwards
a look-up of the deleted post's text is a miss while the other posts' rows are still found.
All posts are fictional."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.classify.disk_cache import FILE_NAME, DiskCacheConfig, EncodingEraser
from monitor.classify.keyword import KeywordClassifier
from monitor.cli import cli
from monitor.config import Settings
from monitor.runtime.app import open_runtime
from monitor.runtime.state import Runtime
from monitor.safeguards import retention
from monitor.store import db as store_db
from monitor.store import posts as post_store
from monitor.store.tables import posts
from monitor.types import RawPost
from tests.classify.cache_rows import found, served, store
from tests.privacy.helpers import make_post, store_posts

ROOT = Path(__file__).resolve().parents[2]
# Texts whose encoded form differs from the stored one (an entity, a handle, a link).
GONE = "(fictional) @idle_resident says the Idle Road hall &amp; library shut for good"
KEPT = "(fictional) Idle Road market is on as usual, see https://example.org/market"


def bsky(i: int, text: str, did: str | None = None) -> RawPost:
    did = did or f"did:plc:fict{i:020d}"
    return RawPost(
        platform="bluesky",
        native_id=f"at://{did}/app.bsky.feed.post/3mq2rk{i:06d}",
        text=text,
        created_at=datetime.now(UTC) - timedelta(minutes=10 - i),
        author_id=did,
        source="bsky",
        language="en",
    )


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "classifier-cache"


@pytest.fixture
async def runtime(settings: Settings, cache_dir: Path) -> AsyncIterator[Runtime]:
    on = dataclasses.replace(
        settings, classifier_cache_dir=str(cache_dir), classifier_encoding_cache=1000
    )
    async with open_runtime(on, classifier=KeywordClassifier()) as rt:
        yield rt


async def stored_texts(rt: Runtime) -> list[str]:
    async with rt.engine.connect() as conn:
        rows = await conn.execute(select(posts.c.text).where(posts.c.text.is_not(None)))
        return sorted(r[0] for r in rows.all())


async def deliver(rt: Runtime, cache_dir: Path, *raws: RawPost) -> dict[str, str]:
    """Deliver and process the posts; their rows in the cache, as the classifier keys them
    (the stored text, prepared, plain and deobfuscated); the prepared text by stored text."""
    await rt.pipeline.deliver("bsky", list(raws), None)
    await rt.pipeline.drain()
    by_text = {t: served(t) for t in await stored_texts(rt)}
    assert len(by_text) == len(raws)
    store(cache_dir, by_text.values())
    return by_text


async def test_a_platform_deletion_deletes_the_posts_rows_and_keeps_the_others(
    runtime: Runtime, cache_dir: Path
) -> None:
    rows = await deliver(runtime, cache_dir, bsky(1, GONE), bsky(2, KEPT))
    assert found(cache_dir, rows.values()) == set(rows.values())

    assert await runtime.pipeline.delete_posts([bsky(1, GONE).post_id]) == 1

    kept = {v for k, v in rows.items() if "market" in k}
    assert found(cache_dir, rows.values()) == kept
    assert runtime.pipeline.stats.encodings_not_forgotten == 0
    # The re-checks and the send-time check purge through the same eraser.
    alerts = runtime.alerts
    assert alerts is not None and alerts.recheck is not None and alerts.encodings is not None
    assert alerts.recheck.encodings is runtime.pipeline.encodings is alerts.encodings


async def test_an_account_deletion_deletes_its_posts_rows(
    runtime: Runtime, cache_dir: Path
) -> None:
    did = "did:plc:fictionalaccount0000000"
    rows = await deliver(runtime, cache_dir, bsky(3, GONE, did), bsky(4, KEPT))

    assert await runtime.pipeline.delete_author("bluesky", did) == 1

    assert found(cache_dir, rows.values()) == {v for k, v in rows.items() if "market" in k}


async def test_a_row_encoded_after_the_deletion_purged_the_text_goes_too(
    runtime: Runtime, cache_dir: Path
) -> None:
    """The race: the deletion purged the stored text while the worker still held the post and
    then encoded it, writing its row. The worker's check after processing (`honour_deletions`,
    with the posts it processed) finds the tombstone and deletes the row from their text."""
    post = bsky(5, GONE)
    await runtime.pipeline.deliver("bsky", [post], None)
    await runtime.pipeline.drain()
    stored_id = (await runtime.pipeline.ingestor.ids()).key(post.post_id)
    async with runtime.engine.connect() as conn:
        row = (await conn.execute(select(posts).where(posts.c.id == stored_id))).mappings().one()
        [processed] = await post_store.load_posts(conn, [dict(row)])
    await runtime.pipeline.delete_posts([post.post_id])  # the text is gone from the store
    store(cache_dir, [served(processed.text)])  # and the worker's classifier writes its row

    await runtime.pipeline.honour_deletions([stored_id], [processed])

    assert found(cache_dir, [served(processed.text)]) == set()


async def test_an_edit_deletes_the_rows_of_the_text_it_replaces(
    runtime: Runtime, cache_dir: Path
) -> None:
    rows = await deliver(runtime, cache_dir, bsky(6, GONE), bsky(7, KEPT))

    await runtime.pipeline.update_post(bsky(6, "(fictional) edited: the Idle Road hall is open"))

    assert found(cache_dir, rows.values()) == {v for k, v in rows.items() if "market" in k}
    assert len(await stored_texts(runtime)) == 2  # the edit is kept, as before


# --- the commands ------------------------------------------------------------------------------


@pytest.fixture
def run(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    db = tmp_path / "m.db"
    monkeypatch.setenv("MONITOR_DATABASE_URL", f"sqlite+aiosqlite:///{db}")
    monkeypatch.setenv("MONITOR_HOME", str(ROOT))
    monkeypatch.setenv("MONITOR_CLASSIFIER_CACHE_DIR", str(cache_dir))
    monkeypatch.setenv("MONITOR_CLASSIFIER_ENCODING_CACHE", "1000")
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    invoke.db = db  # type: ignore[attr-defined]
    return invoke


def seed(db: Path, batch: list[object], at: datetime) -> None:
    import asyncio

    async def work() -> None:
        engine = store_db.create_engine(f"sqlite+aiosqlite:///{db}")
        await store_db.upgrade(engine)
        await store_posts(engine, batch, alert=True, at=at)  # type: ignore[arg-type]
        await engine.dispose()

    asyncio.run(work())


def last_audit(db: Path) -> tuple[str, dict[str, object]]:
    with sqlite3.connect(db) as conn:
        action, detail = conn.execute(
            "SELECT action, detail FROM audit_events ORDER BY id DESC LIMIT 1"
        ).fetchone()
    return action, json.loads(detail)


def test_erase_deletes_the_posts_rows_and_the_audit_record_counts_them(run, cache_dir) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    gone, kept = make_post(7, GONE, collected=now), make_post(8, KEPT, collected=now)
    seed(run.db, [gone, kept], now)
    store(cache_dir, [served(GONE), served(KEPT), served(GONE, deobfuscate=True)], "model one")

    done = run("erase", "https://bsky.app/profile/did:plc:fictional0007/post/7", "--reason", "r1")

    assert done.exit_code == 0, done.output
    assert "text erased from 1" in done.output and "1 encoding cache rows deleted" in done.output
    assert found(cache_dir, [served(GONE), served(KEPT)], "model one") == {served(KEPT)}
    action, detail = last_audit(run.db)
    assert action == "erase" and detail["encodings_deleted"] == 1


def test_erase_with_a_cache_it_cannot_update_erases_nothing_and_says_so(run, cache_dir) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    seed(run.db, [make_post(7, GONE, collected=now)], now)
    cache_dir.mkdir(parents=True)
    (cache_dir / FILE_NAME).write_bytes(b"not a database at all " * 500)

    done = CliRunner().invoke(
        cli, ["erase", "bluesky:at://did:plc:fictional0007/app.bsky.feed.post/7", "--reason", "r"]
    )

    assert done.exit_code == 1 and "nothing was erased" in done.output
    assert FILE_NAME in done.output
    with sqlite3.connect(run.db) as conn:
        assert conn.execute("SELECT text FROM posts").fetchone() == (GONE,)
        assert conn.execute(
            "SELECT count(*) FROM audit_events WHERE action = 'erase'"
        ).fetchone() == (0,)


def test_purge_deletes_the_rows_of_purged_posts_and_rows_unused_for_the_period(
    run, cache_dir
) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    old = make_post(9, GONE, collected=now - timedelta(days=31))
    fresh = make_post(10, KEPT, collected=now)
    seed(run.db, [old, fresh], now)
    store(cache_dir, [served(GONE), served(KEPT)])
    store(
        cache_dir, ["(fictional) a text nobody has posted for 40 days"], at=time.time() - 40 * 86400
    )

    done = run("purge")

    assert done.exit_code == 0, done.output
    assert "1 rows of purged posts and 1 unused or over the limit deleted" in done.output
    with sqlite3.connect(cache_dir / FILE_NAME) as conn:
        assert conn.execute("SELECT count(*) FROM encodings").fetchone() == (1,)
    assert found(cache_dir, [served(GONE), served(KEPT)]) == {served(KEPT)}
    action, detail = last_audit(run.db)
    assert action == "purge"
    assert (detail["encodings_forgotten"], detail["encodings_stale"]) == (1, 1)


async def test_the_scheduled_purge_deletes_the_rows_and_a_broken_cache_does_not_stop_it(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    await store_posts(
        engine, [make_post(11, GONE, collected=now - timedelta(days=31))], alert=False, at=now
    )
    await store_posts(engine, [make_post(12, KEPT, collected=now)], alert=False, at=now)
    store(tmp_path, [served(GONE), served(KEPT)])
    policy = retention.Policy(text_days=30)
    job = retention.purge_job(engine, policy, EncodingEraser(DiskCacheConfig(tmp_path, 1000, 30)))

    report = await job(now)

    assert isinstance(report, retention.PurgeReport)
    assert (report.posts_text_purged, report.encodings_forgotten) == (1, 1)
    assert found(tmp_path, [served(GONE), served(KEPT)]) == {served(KEPT)}

    for path in tmp_path.glob(FILE_NAME + "*"):
        path.unlink()
    (tmp_path / FILE_NAME).write_bytes(b"not a database at all " * 500)
    await store_posts(
        engine,
        [make_post(13, GONE + " again", collected=now - timedelta(days=31))],
        alert=False,
        at=now,
    )
    broken = await job(now)
    assert broken.posts_text_purged == 1 and broken.encoding_cache_error is not None
    assert FILE_NAME in broken.encoding_cache_error
