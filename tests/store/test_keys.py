"""The author key ring on SQLite and PostgreSQL: one key per period shared by every instance,
and a destroyed key is gone for good (references made with it can never be made again)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from monitor.config import Settings
from monitor.ingest.core import author_ref
from monitor.store.keys import KeyRing
from monitor.store.tables import author_keys, metadata

NOW = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
NEXT_PERIOD = NOW + timedelta(days=30)


@pytest.fixture
async def engine(store_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_async_engine(store_url)
    async with eng.begin() as conn:
        await conn.run_sync(metadata.create_all)
    try:
        yield eng
    finally:
        await eng.dispose()


def ref(key: bytes) -> str:
    return author_ref(key, "bluesky", "did:plc:fictional-author")


async def stored_periods(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return sorted((await conn.execute(select(author_keys.c.period))).scalars())


async def test_same_author_same_period_same_ref(engine: AsyncEngine) -> None:
    ring = KeyRing(engine, rotation_days=30)
    key = await ring.current(NOW)
    assert len(key) == 32
    assert ref(await ring.current(NOW + timedelta(hours=5))) == ref(key)
    # A fresh instance (another worker, or after a restart) reads the same key back.
    assert ref(await KeyRing(engine, rotation_days=30).current(NOW)) == ref(key)


async def test_a_new_period_gets_a_new_key_and_a_different_ref(engine: AsyncEngine) -> None:
    ring = KeyRing(engine, rotation_days=30)
    assert ref(await ring.current(NOW)) != ref(await ring.current(NEXT_PERIOD))
    assert len(await stored_periods(engine)) == 2


async def test_instances_racing_for_a_new_period_agree_on_one_key(engine: AsyncEngine) -> None:
    rings = [KeyRing(engine, rotation_days=30) for _ in range(6)]
    keys = await asyncio.gather(*(r.current(NOW) for r in rings))
    assert len(set(keys)) == 1
    assert await stored_periods(engine) == [rings[0].period(NOW)]


async def test_retired_keys_are_destroyed_and_cannot_come_back(engine: AsyncEngine) -> None:
    ring = KeyRing(engine, rotation_days=30)
    old = await ring.current(NOW)
    await ring.current(NEXT_PERIOD)
    assert await ring.destroy_retired(NEXT_PERIOD) == 1
    assert await stored_periods(engine) == [ring.period(NEXT_PERIOD)]
    assert await ring.destroy_retired(NEXT_PERIOD) == 0
    # Asking for the old period again (a late post, a clock behind) makes a new random key:
    # the old references cannot be recomputed from anything left in the store or in memory.
    again = await ring.current(NOW)
    assert again != old and ref(again) != ref(old)


async def test_destroying_keeps_the_current_key(engine: AsyncEngine) -> None:
    ring = KeyRing(engine, rotation_days=30)
    key = await ring.current(NOW)
    assert await ring.destroy_retired(NOW) == 0
    assert await KeyRing(engine, rotation_days=30).current(NOW) == key


async def test_a_configured_secret_is_mixed_into_every_key(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FICTIONAL_AUTHOR_SECRET", "not-a-real-secret")
    settings = Settings(author_key_env="FICTIONAL_AUTHOR_SECRET", author_key_rotation_days=30)
    with_secret = KeyRing.from_settings(settings, engine)
    without = KeyRing(engine, rotation_days=30)
    keyed = await with_secret.current(NOW)
    plain = await without.current(NOW)
    async with engine.connect() as conn:
        (stored,) = (await conn.execute(select(author_keys.c.key))).scalars()
    # Same stored key, but the database alone no longer gives the key in use.
    assert plain == bytes(stored)
    assert keyed != plain and len(keyed) == 32
    assert await with_secret.held_keys() == [keyed]


async def test_held_keys_lists_every_key_not_yet_destroyed(engine: AsyncEngine) -> None:
    ring = KeyRing(engine, rotation_days=30)
    old, new = await ring.current(NOW), await ring.current(NEXT_PERIOD)
    assert await ring.held_keys() == [new, old]
    await ring.destroy_retired(NEXT_PERIOD)
    assert await ring.held_keys() == [new]


def test_rotation_must_be_positive() -> None:
    engine = create_async_engine("sqlite+aiosqlite://")
    with pytest.raises(ValueError):
        KeyRing(engine, rotation_days=0)
