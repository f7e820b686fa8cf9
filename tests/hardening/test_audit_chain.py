"""Finding 16: a keyed chain and an exported head, so that recomputing the hashes after an edit,
or deleting the newest events, no longer passes `monitor audit verify`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.cli import cli
from monitor.config import ConfigError, Settings
from monitor.safeguards import audit
from monitor.store import db
from monitor.store.tables import audit_events

NOW = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
KEY_ENV = "MONITOR_TEST_AUDIT_KEY"
KEY = "fictional-audit-key-for-tests-0123456789abcdef"


@pytest.fixture(autouse=True)
def unkeyed_afterwards() -> Iterator[None]:
    yield
    audit.configure(Settings())  # the key is per process: leave none behind for other tests


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.db"


@pytest.fixture
async def engine(db_path: Path) -> AsyncIterator[AsyncEngine]:
    eng = db.create_engine(f"sqlite+aiosqlite:///{db_path}")
    await db.upgrade(eng)
    yield eng
    await eng.dispose()


def _env(db_path: Path, head_file: Path | None = None, keyed: bool = True) -> dict[str, str]:
    env = {
        "MONITOR_DATABASE_URL": f"sqlite+aiosqlite:///{db_path}",
        "MONITOR_CLASSIFIER": "keyword",
    }
    if keyed:
        env |= {"MONITOR_AUDIT_KEY_ENV": KEY_ENV, KEY_ENV: KEY}
    if head_file is not None:
        env["MONITOR_AUDIT_HEAD_FILE"] = str(head_file)
    return env


async def verify(env: dict[str, str]) -> Result:
    """`monitor audit verify`, as an operator runs it (in a thread: it runs its own loop)."""
    return await asyncio.to_thread(CliRunner().invoke, cli, ["audit", "verify"], env=env)


async def _record(engine: AsyncEngine, n: int, start: int = 0) -> None:
    async with engine.begin() as conn:
        for i in range(start, start + n):
            await audit.record(
                conn, "ana", "view_evidence", "Triage", {"alert_id": i}, NOW + timedelta(minutes=i)
            )


async def _edit_and_recompute_without_key(engine: AsyncEngine) -> None:
    """What an insider with write access to the store does: change an event, then recompute
    every hash after it with the published (unkeyed) algorithm."""
    async with engine.begin() as conn:
        await conn.execute(
            update(audit_events).where(audit_events.c.id == 2).values(actor="someone-else")
        )
        prev = audit.GENESIS
        for row in (await conn.execute(select(audit_events).order_by(audit_events.c.id))).all():
            body = audit.canonical(row.id, row.at, row.actor, row.action, row.purpose, row.detail)
            digest = audit.chain_hash(prev, body)
            await conn.execute(
                update(audit_events)
                .where(audit_events.c.id == row.id)
                .values(prev_hash=prev, hash=digest)
            )
            prev = digest


async def test_a_keyed_chain_catches_an_edit_with_every_hash_recomputed(
    engine: AsyncEngine, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    audit.configure(Settings(audit_key_env=KEY_ENV))
    await _record(engine, 4)
    assert (await verify(_env(db_path))).exit_code == 0
    await _edit_and_recompute_without_key(engine)
    result = await verify(_env(db_path))
    assert result.exit_code == 1, result.output
    assert "NOT intact" in result.output


async def test_an_unkeyed_chain_says_so(engine: AsyncEngine, db_path: Path) -> None:
    await _record(engine, 2)
    result = await verify(_env(db_path, keyed=False))
    assert result.exit_code == 0 and "unkeyed" in result.output


async def test_deleting_the_newest_events_is_caught_by_the_exported_head(
    engine: AsyncEngine, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    audit.configure(Settings(audit_key_env=KEY_ENV))
    head_file = tmp_path / "elsewhere" / "audit-head.log"
    await _record(engine, 3)
    async with engine.connect() as conn:
        await audit.export_job_head(conn, head_file, NOW)
    await _record(engine, 2, start=3)
    async with engine.connect() as conn:
        await audit.export_job_head(conn, head_file, NOW + timedelta(minutes=15))
    assert (await verify(_env(db_path, head_file))).exit_code == 0
    async with engine.begin() as conn:  # truncate: the newest two events go
        await conn.execute(delete(audit_events).where(audit_events.c.id > 3))
    result = await verify(_env(db_path, head_file))
    assert result.exit_code == 1, result.output
    assert "events were deleted" in result.output


async def test_the_head_is_exported_on_a_schedule_by_the_safeguards(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    import contextlib

    from monitor.safeguards.service import start_safeguards
    from tests.conftest import ROOT

    head_file = tmp_path / "audit-head.log"
    await _record(engine, 2)
    settings = Settings(audit_head_file=str(head_file), retention_purge_minutes=0)
    async with contextlib.AsyncExitStack() as stack:
        await start_safeguards(
            settings, ROOT, engine, object(), object(), stack, schedule=True, clock=lambda: NOW
        )
        for _ in range(100):
            if head_file.is_file():
                break
            await asyncio.sleep(0.05)
    assert audit.last_exported_head(head_file) is not None
    count, _ = audit.last_exported_head(head_file) or (0, "")
    assert count >= 2


def test_a_short_audit_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(ConfigError, match="at least 32"):
        audit.configure(Settings(audit_key_env=KEY_ENV))
