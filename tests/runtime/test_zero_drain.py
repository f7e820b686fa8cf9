"""A stop with no drain budget left (`shutdown_drain_s` 0, or the budget spent) while a batch is
in the middle of a database call: the stop must be clean (no coroutine left unawaited, nothing
raised in the SQLite connection's thread), the batch rolled back, and every accepted post
processed exactly once after the next start. On real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import warnings
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.runtime.app import open_runtime
from monitor.store.tables import posts
from monitor.types import Processed, RawPost
from tests.conftest import ROOT

START = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)

# Unawaited coroutines and exceptions in other threads (aiosqlite's) are errors here, not
# warnings lost in the run's summary.
pytestmark = [
    pytest.mark.filterwarnings("error::RuntimeWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning"),
]


def raw(i: int) -> RawPost:
    return RawPost(
        platform="mastodon",
        native_id=f"https://social.example/users/fictional{i % 5}/statuses/z{i}",
        text=f"(fictional) the bus shelter on Marsh Lane in Toller is broken again, day {i}",
        created_at=START + timedelta(seconds=i),
        author_id=f"https://social.example/users/fictional{i % 5}",
        source="push",
    )


class SlowStage:
    """A stage whose database call is still running when the stop comes (a slow statement in
    the batch's transaction), so the stop lands in the middle of it."""

    def __init__(self, url: str, sqlite_rows: int = 3_000_000) -> None:
        self.entered = asyncio.Event()
        # About a second or more of work in the database on either store (SQLite counts about
        # 3 million rows a second here, unloaded).
        self.sql = (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
            f"WHERE x < {sqlite_rows}) SELECT count(*) FROM c"
            if url.startswith("sqlite")
            else "SELECT pg_sleep(1.5)"
        )

    async def __call__(
        self, conn: AsyncConnection, items: Sequence[Processed], now: datetime
    ) -> None:
        self.entered.set()
        await conn.execute(text(self.sql))


# How long the test's own writer waits for the write lock: far longer than the runtime's other
# writers hold it, far shorter than the batch's statement that the stop interrupts would.
BUSY_WAIT_S = 5.0


def take_the_write_lock(path: Path, wait: float) -> None:
    """Begin (and roll back) a write transaction on the SQLite file at `path`; raises
    "database is locked" when another connection holds the write lock for `wait` seconds."""
    other = sqlite3.connect(path, timeout=wait)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.rollback()
    finally:
        other.close()


def settings_for(url: str, drain: float) -> Settings:
    return Settings(database_url=url, home=str(ROOT), classifier="keyword", shutdown_drain_s=drain)


async def test_a_zero_budget_stop_mid_batch_is_clean_and_loses_nothing(
    migrated_store_url: str,
) -> None:
    done: Counter[str] = Counter()
    accepted = [raw(i) for i in range(30)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        async with open_runtime(
            settings_for(migrated_store_url, 0), classifier=KeywordClassifier()
        ) as rt:
            slow = SlowStage(migrated_store_url)
            rt.pipeline.stages.append(slow)
            rt.pipeline.on_processed(lambda items: done.update(i.post.id for i in items))
            await rt.pipeline.accept("push", accepted)  # stored before a 202
            await asyncio.wait_for(slow.entered.wait(), 30)
        # Left by open_runtime: stopped with no drain budget, the slow call in flight.
        report = rt.stop_report
        assert report is not None
        assert not report.drained, report.message()
        assert report.stored_unprocessed == len(accepted), report.message()
        assert not done, "the interrupted batch was not rolled back"

        async with open_runtime(
            settings_for(migrated_store_url, 30), classifier=KeywordClassifier()
        ) as rt:
            rt.pipeline.on_processed(lambda items: done.update(i.post.id for i in items))
            assert await rt.pipeline.drain(timeout=60)
            async with rt.engine.connect() as conn:
                stored = (await conn.execute(select(func.count()).select_from(posts))).scalar()
                unprocessed = (
                    await conn.execute(
                        select(func.count())
                        .select_from(posts)
                        .where(posts.c.processed_at.is_(None))
                    )
                ).scalar()
        assert rt.stop_report is not None and rt.stop_report.drained
    assert stored == len(accepted) and unprocessed == 0
    assert len(done) == len(accepted) and set(done.values()) == {1}, done


async def test_a_zero_budget_stop_returns_only_once_the_batch_let_go_of_the_store(
    tmp_path: Path,
) -> None:
    """When the stop returns, the cancelled batch's statement must not still be running in
    aiosqlite's thread: it held SQLite's write lock after the stop (another writer got
    "database is locked") and answered after the event loop had closed. The statement here
    runs far longer than the stop's bound (`stop_task` leaves a task that has not ended
    after 10 s): a stop that waited for it gave up and returned with the lock still held,
    as a loaded machine made of the one-second statement before."""
    path = tmp_path / "monitor.db"
    url = f"sqlite+aiosqlite:///{path}"
    async with open_runtime(settings_for(url, 0), classifier=KeywordClassifier()) as rt:
        slow = SlowStage(url, sqlite_rows=150_000_000)
        rt.pipeline.stages.append(slow)
        await rt.pipeline.accept("push", [raw(i) for i in range(30)])
        await asyncio.wait_for(slow.entered.wait(), 30)
        started = time.monotonic()
        report = await rt.pipeline.stop(timeout=0)
        took = time.monotonic() - started
        # In a thread, so that the runtime's other writers (the alert dispatcher, its
        # leases) go on meanwhile: their transactions last milliseconds and may hold the lock
        # at any instant; the batch's statement would hold it for a minute or more.
        await asyncio.to_thread(take_the_write_lock, path, BUSY_WAIT_S)
    # Rolled back whole, and the statement was stopped, not waited for to its end.
    assert report.stored_unprocessed == 30, report.message()
    assert took < 10, f"the stop took {took:.1f}s"
