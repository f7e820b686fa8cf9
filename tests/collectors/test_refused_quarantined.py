"""A collected post that ingest refuses (here a createdAt before 2000, which the record schema
refuses) goes to the quarantine with its reason, listed for admins without its author and
retryable, instead of being only a warning in the log (issue 13). A real Jetstream collector
reads an aiohttp websocket test server speaking the recorded frame shape; all fictional."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.runtime.app import open_runtime
from monitor.runtime.state import Runtime
from monitor.store import quarantine
from monitor.store.tables import posts
from tests.collectors.conftest import exampletown_collector, post_frame, wait_until


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        yield rt


def dated(frame: str, created_at: str) -> str:
    data = json.loads(frame)
    data["commit"]["record"]["createdAt"] = created_at
    return json.dumps(data, separators=(",", ":"))


async def test_a_collected_post_refused_at_ingest_is_quarantined_with_its_reason(
    runtime: Runtime, jetstream_server: Callable[..., Any]
) -> None:
    frames = [
        post_frame(0, "(fictional) Exampletown market is on as usual"),
        dated(post_frame(1, "(fictional) Exampletown bridge closed"), "1999-06-01T10:00:00Z"),
        post_frame(2, "(fictional) Exampletown park run at nine"),
    ]
    server = await jetstream_server(frames)
    async with aiohttp.ClientSession() as session:
        collector = exampletown_collector(server.url, session, runtime.pipeline, batch_size=3)
        task = asyncio.create_task(collector.run())
        try:
            await wait_until(lambda: runtime.pipeline.stats.received >= 3, timeout=10)
            await runtime.pipeline.drain(timeout=30)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async with runtime.engine.connect() as conn:
        stored = (await conn.execute(select(func.count()).select_from(posts))).scalar_one()
        held = await quarantine.entries(conn)
    assert stored == 2  # the rest of the batch went on
    assert [(e.stage, e.post_id is None) for e in held] == [("ingest", True)]
    assert "2000-01-01" in held[0].error or "1999" in held[0].error, held[0].error
    shown = held[0].shown()
    assert "Exampletown bridge closed" in shown["record"]["text"]
    assert "did:plc" not in json.dumps(shown) and "did:plc" not in json.dumps(held[0].record)
    assert runtime.pipeline.stats.rejected == 1 and runtime.pipeline.stats.quarantined == 1

    # Retried before any fix: refused again, so back with one more attempt, never dropped.
    assert await runtime.pipeline.retry_quarantined([held[0].id]) == (0, 1)
    async with runtime.engine.connect() as conn:
        again = await quarantine.entries(conn)
    assert [(e.stage, e.attempts) for e in again] == [("ingest", 2)]
