"""Fixtures for signals: configs with the shipped defaults, stores with the signals tables,
and helpers to build posts with places, scores and rule hits (all fictional)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.classify.keyword import hashed_embedding, keyword_scores
from monitor.config import Settings
from monitor.signals.config import SignalsConfig
from monitor.signals.stage import SignalsStage
from monitor.store import db
from monitor.store import posts as post_store
from monitor.store.tables import metadata
from monitor.types import PlaceMatch, Post, Processed, RuleHit

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)  # a Monday
SIGNAL_TABLES = (
    "rumours",
    "rumour_posts",
    "rumour_claims",
    "counter_messages",
    "area_levels",
    "level_changes",
)


def shipped_config() -> SignalsConfig:
    """Shipped defaults, with the thresholds for the keyword classifier's embeddings."""
    return SignalsConfig.from_settings(Settings(), hashed_embeddings=True)


@pytest.fixture
def config() -> SignalsConfig:
    """Shipped defaults, with the thresholds for the keyword classifier's embeddings."""
    return shipped_config()


def place(ward: str, locality: str = "Bradford East", district: str = "Bradford") -> PlaceMatch:
    return PlaceMatch(
        place_id=f"test/ward/{ward.lower().replace(' ', '-')}",
        name=ward,
        kind="ward",
        ward=ward,
        locality=locality,
        district=district,
        matched=ward,
    )


_counter = [0]


def item(
    text: str,
    at: datetime,
    *,
    author: str = "a1",
    ward: str | None = "Little Horton",
    locality: str = "Bradford East",
    hits: Sequence[dict[str, str]] = (),
    reply_to: str | None = None,
    post_id: str | None = None,
    scores: dict[str, float] | None = None,
) -> Processed:
    """A processed post scored by the keyword classifier (flags over 0.5), with rule hits."""
    _counter[0] += 1
    pid = post_id or f"test:{_counter[0]}"
    post = Post(
        id=pid,
        platform="test",
        source="test",
        text=text,
        language="en",
        created_at=at,
        collected_at=at,
        author_ref=author,
        reply_to=reply_to,
        places=(place(ward, locality),) if ward else (),
    )
    s = scores if scores is not None else keyword_scores(text)
    flags = tuple(sorted(k for k in ("hostile", "offensive", "rumour") if s.get(k, 0) >= 0.5))
    rule_hits = tuple(RuleHit(f"rule-{i}", h) for i, h in enumerate(hits))
    return Processed(post, s, hashed_embedding(text), flags, rule_hits)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


async def make_store(url: str) -> AsyncEngine:
    """A migrated store plus the signals tables (their migration is written from the tables
    at release; until then they are created from the metadata)."""
    engine = db.create_engine(url)
    await db.upgrade(engine)

    def create(sync_conn: object) -> None:
        tables = [metadata.tables[t] for t in SIGNAL_TABLES]
        metadata.create_all(sync_conn, tables=tables, checkfirst=True)  # type: ignore[arg-type]

    async with engine.begin() as conn:
        await conn.run_sync(create)
    return engine


@pytest.fixture
async def store(migrated_store_url: str) -> AsyncIterator[AsyncEngine]:
    engine = await make_store(migrated_store_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def store_posts(engine: AsyncEngine, items: Sequence[Processed], now: datetime) -> None:
    """What the pipeline does before its stages run: the posts and their results, stored."""
    async with engine.begin() as conn:
        await post_store.insert_posts(conn, [i.post for i in items])
        await post_store.save_processed(conn, items, now)


async def feed(
    engine: AsyncEngine,
    stage: SignalsStage,
    items: Sequence[Processed],
    *,
    batch: int = 64,
    now: datetime | None = None,
) -> None:
    """Drive the stage as the pipeline does: posts stored first, then each batch's results
    and the stage in one transaction. `now` defaults to the batch's latest post time."""
    ordered = sorted(items, key=lambda i: i.post.created_at)
    for start in range(0, len(ordered), batch):
        chunk = ordered[start : start + batch]
        at = now or chunk[-1].post.created_at
        async with engine.begin() as conn:
            await post_store.insert_posts(conn, [i.post for i in chunk])
        async with engine.begin() as conn:
            await post_store.save_processed(conn, chunk, at)
            await stage(conn, chunk, at)
