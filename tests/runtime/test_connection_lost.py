"""A PostgreSQL connection killed while a batch is processed (`pg_terminate_backend`, a server
restart, a failover) is the store being away, not a bad record, even when a stage that contains
its own failures (signals, incidents: a savepoint each) is the one that meets it.

Found by killing the service's connections every 1.5 s under a steady push: the signals stage
contained the lost connection and the pipeline took its counted failure for a record's, split
the batch again and again on fresh, again-killed connections, and quarantined 3 accepted posts
at "signals" ("failed on this batch"). Here the batch's own connection is terminated just
before the signals stage, for the first few tries of the batch; the batch must be retried whole
and every post processed, none quarantined.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.runtime.app import open_runtime
from monitor.store.tables import posts, quarantine
from monitor.types import Processed
from tests.conftest import ROOT
from tests.runtime.test_store_outage import raw

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # real connections killed, retried


class Killer:
    """A stage put before the signals stage: terminates the batch's own connection, from
    another one, the first `times` it runs (a server that drops its clients again and again)."""

    def __init__(self, admin_url: str, times: int) -> None:
        self.admin_url = admin_url
        self.left = times

    async def __call__(
        self, conn: AsyncConnection, items: Sequence[Processed], now: datetime
    ) -> None:
        if self.left <= 0:
            return
        self.left -= 1
        pid = (await conn.execute(text("select pg_backend_pid()"))).scalar_one()
        admin = await asyncpg.connect(self.admin_url)
        try:
            # With a timeout: returns once the backend is gone, so the next stage meets it.
            await admin.execute("select pg_terminate_backend($1, 5000)", pid)
        finally:
            await admin.close()


async def test_a_connection_killed_under_a_containing_stage_is_retried_not_quarantined(
    migrated_pg_url: str,
) -> None:
    settings = Settings(
        database_url=migrated_pg_url,
        home=str(ROOT),
        classifier="keyword",
        store_retry_max_s=0.1,
        classifier_batch_size=8,
    )
    admin_url = migrated_pg_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        pipeline = rt.pipeline
        names = [type(s).__name__ for s in pipeline.stages]
        assert names[0] == "SignalsStage", names  # the stage that contains its failures
        killer = Killer(admin_url, times=6)
        pipeline.stages.insert(0, killer)
        await pipeline.deliver("test", [raw(i) for i in range(8)], cursor=None)
        assert await pipeline.drain(timeout=120)
        assert killer.left == 0
        async with rt.engine.connect() as conn:
            held = (await conn.execute(select(func.count()).select_from(quarantine))).scalar()
            done = (
                await conn.execute(
                    select(func.count()).select_from(posts).where(posts.c.processed_at.is_not(None))
                )
            ).scalar()
        assert held == 0, "a lost connection put accepted posts in the quarantine"
        assert done == 8
        assert pipeline.stats.quarantined == 0 and pipeline.stats.worker_restarts == 0
        assert pipeline.stats.store_retries >= 6
