"""Helpers and fixtures for the privacy, retention and no-per-person tests: a migrated SQLite
store and fictional posts."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.store import alerts as alert_store
from monitor.store import db
from monitor.store import posts as post_store
from monitor.store.keys import PostKeys
from monitor.types import PlaceMatch, Post, Processed, RuleHit

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MANNINGHAM = PlaceMatch(
    place_id="bradford/ward/E05001355",
    name="Manningham",
    kind="ward",
    ward="Manningham",
    locality="Bradford West",
    district="Bradford",
    matched="Manningham",
)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "monitor.db"


@pytest.fixture
async def engine(db_path: Path, sqlite_migrated_template: Path) -> AsyncIterator[AsyncEngine]:
    # A copy of the store migrated once per worker (tests/conftest.py): the upgrade below then
    # finds nothing to do, instead of running every migration again for each test.
    shutil.copyfile(sqlite_migrated_template, db_path)
    eng = db.create_engine(f"sqlite+aiosqlite:///{db_path}")
    await db.upgrade(eng)
    try:
        yield eng
    finally:
        await eng.dispose()


def make_post(
    n: int, text: str, *, collected: datetime = NOW, author_ref: str | None = None
) -> Post:
    return Post(
        id=f"bluesky:at://did:plc:fictional{n:04d}/app.bsky.feed.post/{n}",
        platform="bluesky",
        source="test",
        text=text,
        language="en",
        created_at=collected - timedelta(minutes=5),
        collected_at=collected,
        author_ref=author_ref or f"{n:032x}",
        places=(MANNINGHAM,),
    )


async def store_posts(engine: AsyncEngine, batch: list[Post], *, alert: bool, at: datetime) -> None:
    """Store posts; with `alert`, each also becomes evidence of a tension alert (an excerpt).
    A post made here without an `origin` gets its id sealed as one, as ingest would (these
    posts keep their platform-shaped ids, so tests can name them)."""
    ids = await PostKeys(engine).get()
    batch = [p if p.origin else replace(p, origin=ids.seal(p.id)) for p in batch]
    async with engine.begin() as conn:
        await post_store.insert_posts(conn, batch)
        if alert:
            hit = RuleHit(
                "tension.call_to_gather",
                {"kind": "call_to_gather", "topic": "gathering", "severity": "high"},
            )
            items = [Processed(post=p, hits=(hit,)) for p in batch]
            await post_store.save_processed(conn, items, at)
            await alert_store.record_hits(conn, items, at)


def file_bytes(db_path: Path) -> bytes:
    """The database file and its write-ahead log, as they lie on disk."""
    out = db_path.read_bytes()
    wal = db_path.with_name(db_path.name + "-wal")
    if wal.exists():
        out += wal.read_bytes()
    return out
