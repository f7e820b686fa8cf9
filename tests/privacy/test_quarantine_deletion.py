"""A post waiting in the quarantine (it failed a stage on its own) keeps its text in the record:
masked in clear and, as it came, sealed with its platform id and links. A platform deletion of
the post or its account, and `monitor erase`, remove the record too, instead of leaving it for
the quarantine's own retention (30 days). Found by delivering a post dated 1999 (refused at
ingest, so quarantined), deleting it as its platform would, and searching the store for it."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from monitor.classify.keyword import KeywordClassifier
from monitor.cli import cli
from monitor.runtime.app import open_runtime
from monitor.runtime.state import Runtime
from monitor.store import db as store_db
from monitor.store.tables import posts, quarantine
from monitor.types import RawPost
from tests.runtime.test_quarantine import raw, settings_for

MARKER = "FICTIONQUARANTINE"


def refused(i: int) -> RawPost:
    """A fictional post ingest refuses for its date, so it is quarantined with its text."""
    post = raw(i, text=f"(fictional) {MARKER} everyone to Fern Street at 7pm")
    return replace(post, created_at=post.created_at.replace(year=1999))


async def quarantined(rt: Runtime) -> list[str]:
    """The text of every record in the quarantine."""
    async with rt.engine.connect() as conn:
        return [str(r) for r in (await conn.execute(select(quarantine.c.record))).scalars()]


async def deliver(rt: Runtime) -> tuple[RawPost, RawPost]:
    bad, good = refused(2), raw(3)
    await rt.pipeline.deliver("test", [raw(1), bad, good], cursor=None)
    assert await rt.pipeline.drain(timeout=30)
    held = await quarantined(rt)
    assert len(held) == 1 and MARKER in held[0], "the record must be held for the test to mean much"
    return bad, good


async def test_a_platform_deletion_removes_the_posts_quarantined_record(
    migrated_store_url: str,
) -> None:
    async with open_runtime(settings_for(migrated_store_url), classifier=KeywordClassifier()) as rt:
        bad, good = await deliver(rt)
        await rt.pipeline.delete_posts([good.post_id])
        assert len(await quarantined(rt)) == 1  # another post's deletion leaves it
        await rt.pipeline.delete_posts([bad.post_id])
        assert await quarantined(rt) == []


async def test_an_account_deletion_removes_its_quarantined_records(
    migrated_store_url: str,
) -> None:
    async with open_runtime(settings_for(migrated_store_url), classifier=KeywordClassifier()) as rt:
        bad, _ = await deliver(rt)
        # raw() gives post i the account fictional{i % 7}: post 1's account is not post 2's.
        await rt.pipeline.delete_author("mastodon", raw(1).author_id or "")
        assert len(await quarantined(rt)) == 1
        await rt.pipeline.delete_author("mastodon", bad.author_id or "")
        assert await quarantined(rt) == []
        async with rt.engine.connect() as conn:
            kept = await conn.execute(select(posts.c.text).where(posts.c.text.is_not(None)))
            assert len(kept.all()) == 1  # post 3's account is neither


def test_erase_removes_a_quarantined_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.db"
    url = f"sqlite+aiosqlite:///{path}"
    monkeypatch.setenv("MONITOR_DATABASE_URL", url)
    monkeypatch.setenv("MONITOR_HOME", str(Path(__file__).resolve().parents[2]))

    async def seed() -> RawPost:
        engine = store_db.create_engine(url)
        await store_db.upgrade(engine)
        await engine.dispose()
        async with open_runtime(settings_for(url), classifier=KeywordClassifier()) as rt:
            bad, _ = await deliver(rt)
        return bad

    bad = asyncio.run(seed())
    assert MARKER.encode() in path.read_bytes() + _wal(path)
    done = CliRunner().invoke(
        cli, ["erase", bad.native_id, "--reason", "request 44"], catch_exceptions=False
    )
    assert done.exit_code == 0, done.output
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)
    assert MARKER.encode() not in path.read_bytes() + _wal(path)


def _wal(path: Path) -> bytes:
    wal = path.with_name(path.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""
