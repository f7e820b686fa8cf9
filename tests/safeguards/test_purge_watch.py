"""A purge that stops running is seen: /metrics gives when the newest retention purge ran (by
its receipt in the audit log, so a cron job's `monitor purge` counts too), and a service told
never to purge says so at every start.

Found by a red-team pass: with `retention_purge_minutes = 0` and no cron job, or a purge
failing every hour, post text was kept for ever and nothing but the log's tracebacks said so."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.runtime.metrics import exposition, make_registry, refresh_store_gauges
from monitor.runtime.pipeline import Pipeline
from monitor.safeguards import retention
from monitor.safeguards.service import start_safeguards
from tests.conftest import ROOT
from tests.privacy.helpers import NOW, db_path, engine

__all__ = ["db_path", "engine"]  # fixtures

POLICY = retention.Policy(text_days=30, excerpt_days=365, key_rotation_days=30)
GAUGE = "monitor_retention_last_purge_timestamp_seconds"


def scraper(engine: AsyncEngine) -> Callable[[], Awaitable[float | None]]:
    """Scrapes of one process's /metrics: the gauge, or None when it is left out."""
    pipeline = Pipeline(engine, None, KeywordClassifier(), None)  # type: ignore[arg-type]

    async def scrape() -> float | None:
        await refresh_store_gauges(engine, pipeline)
        for line in exposition(make_registry(pipeline)).decode().splitlines():
            if line.startswith(GAUGE + " "):
                return float(line.split()[1])
        return None

    return scrape


async def test_metrics_give_when_the_newest_purge_ran_scheduled_or_from_cron(
    engine: AsyncEngine,
) -> None:
    last_purge = scraper(engine)
    assert await last_purge() == 0.0  # never: an alarm on its age fires at once
    await retention.purge(engine, POLICY, NOW - timedelta(hours=2), dry_run=True)
    assert await last_purge() == 0.0  # a dry run purges nothing and counts for nothing
    await retention.purge(engine, POLICY, NOW - timedelta(hours=2))
    assert await last_purge() == (NOW - timedelta(hours=2)).timestamp()
    await retention.purge(engine, POLICY, NOW, actor="cli:cron")  # `monitor purge` from cron
    assert await last_purge() == NOW.timestamp()


async def test_a_store_that_stops_answering_leaves_the_gauge_out(engine: AsyncEngine) -> None:
    last_purge = scraper(engine)
    await retention.purge(engine, POLICY, NOW)
    assert await last_purge() == NOW.timestamp()
    async with engine.begin() as conn:  # the read fails: a scrape must answer all the same,
        await conn.exec_driver_sql("DROP TABLE audit_events")
    assert await last_purge() is None  # without the time the scrape before read


@pytest.mark.parametrize("schedule", [True, False])
async def test_a_scheduler_told_never_to_purge_warns_at_start(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture, schedule: bool
) -> None:
    settings = Settings(retention_purge_minutes=0, audit_head_file="")
    with caplog.at_level(logging.WARNING, logger="monitor.safeguards.service"):
        async with contextlib.AsyncExitStack() as stack:
            await start_safeguards(
                settings,
                ROOT,
                engine,
                object(),
                object(),
                stack,
                schedule=schedule,
                clock=lambda: NOW,
            )
    warned = [
        r.getMessage() for r in caplog.records if "retention_purge_minutes is 0" in r.getMessage()
    ]
    # Only a role that runs schedules purges; the others never did and say nothing.
    assert len(warned) == (1 if schedule else 0)
    if schedule:
        assert "monitor purge" in warned[0] and "cron" in warned[0]
