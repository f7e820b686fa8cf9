"""The audit log is a hash chain: edits, deletions and reordering are found, appends from
concurrent writers never fork it, and its times round-trip exactly (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.safeguards import audit
from monitor.store import db
from monitor.store.tables import audit_events

NOW = datetime(2026, 11, 3, 9, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
async def engine(migrated_store_url: str) -> AsyncIterator[AsyncEngine]:
    eng = db.create_engine(migrated_store_url)
    await db.upgrade(eng)
    yield eng
    await eng.dispose()


async def _three(engine: AsyncEngine) -> list[audit.AuditEvent]:
    out = []
    async with engine.begin() as conn:
        for i, action in enumerate(("sign_in", "view_evidence", "export")):
            out.append(
                await audit.record(
                    conn, "ana", action, "Triage of alert 7", {"alert_id": 7, "n": i}, NOW
                )
            )
    return out


async def test_events_chain_and_verify_clean(engine: AsyncEngine) -> None:
    events = await _three(engine)
    assert events[0].prev_hash == audit.GENESIS
    assert events[1].prev_hash == events[0].hash and events[2].prev_hash == events[1].hash
    async with engine.connect() as conn:
        assert await audit.verify(conn) == []
        assert await audit.head(conn) == (3, events[2].hash)
        newest = await audit.recent(conn, limit=1)
    assert newest[0].purpose == "Triage of alert 7" and newest[0].detail == {"alert_id": 7, "n": 2}


async def test_an_edited_event_is_found(engine: AsyncEngine) -> None:
    events = await _three(engine)
    async with engine.begin() as conn:
        await conn.execute(
            update(audit_events)
            .where(audit_events.c.id == events[1].id)
            .values(purpose="Looking at my neighbour's posts")
        )
    async with engine.connect() as conn:
        problems = await audit.verify(conn)
    assert problems == [f"event {events[1].id}: its hash does not match its contents (edited)"]


async def test_a_deleted_event_is_found(engine: AsyncEngine) -> None:
    events = await _three(engine)
    async with engine.begin() as conn:
        await conn.execute(delete(audit_events).where(audit_events.c.id == events[1].id))
    async with engine.connect() as conn:
        problems = await audit.verify(conn)
    assert len(problems) == 1 and problems[0].startswith(f"event {events[2].id}: its previous")


async def test_a_rewritten_time_is_found(engine: AsyncEngine) -> None:
    events = await _three(engine)
    async with engine.begin() as conn:
        await conn.execute(
            update(audit_events)
            .where(audit_events.c.id == events[0].id)
            .values(at=NOW - timedelta(days=1))
        )
    async with engine.connect() as conn:
        assert len(await audit.verify(conn)) == 1


async def test_concurrent_writers_never_fork_the_chain(engine: AsyncEngine) -> None:
    async def writer(i: int) -> None:
        async with engine.begin() as conn:
            await audit.record(conn, f"user{i}", "view_evidence", "triage", {"i": i}, NOW)
            await asyncio.sleep(0.01)  # hold the transaction open while others try

    await asyncio.gather(*(writer(i) for i in range(8)))
    async with engine.connect() as conn:
        assert await audit.verify(conn) == []
        count, _ = await audit.head(conn)
    assert count == 8


async def test_a_rolled_back_event_leaves_no_trace(engine: AsyncEngine) -> None:
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await audit.record(conn, "ana", "export", "triage", None, NOW)
            raise RuntimeError("the export failed")
    await _three(engine)
    async with engine.connect() as conn:
        assert await audit.verify(conn) == []
        assert (await audit.head(conn))[0] == 3


async def test_naive_times_are_refused(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        with pytest.raises(ValueError):
            await audit.record(conn, "ana", "x", None, None, datetime(2026, 1, 1))
