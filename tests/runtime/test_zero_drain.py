"""A stop with no drain budget left (`shutdown_drain_s` 0, or the budget spent) while a batch is
in the middle of a database call: the stop must be clean (no coroutine left unawaited, nothing
raised in the SQLite connection's thread), the batch rolled back, and every accepted post
processed exactly once after the next start. On real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import warnings
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

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

    def __init__(self, url: str) -> None:
        self.entered = asyncio.Event()
        # About a second or more of work in the database on either store.
        self.sql = (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) "
            "SELECT count(*) FROM c"
            if url.startswith("sqlite")
            else "SELECT pg_sleep(1.5)"
        )

    async def __call__(
        self, conn: AsyncConnection, items: Sequence[Processed], now: datetime
    ) -> None:
        self.entered.set()
        await conn.execute(text(self.sql))


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
