"""/metrics says when notifications are not getting out: a receiver that is down leaves its
deliveries in the outbox (retried, never dropped), and one that refuses fails them for good.

Found by running `monitor run` with its SMTP relay dead: the alerts' e-mails were retried with
backoff as they should be, but /readyz was ready and /metrics had no figure for notifications
at all, so only the log's warnings said that nobody was being told. The scrape now reads both
counts from the store, in every role."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.classify.keyword import KeywordClassifier
from monitor.runtime.metrics import exposition, make_registry, refresh_store_gauges
from monitor.runtime.pipeline import Pipeline

from .conftest import Clock, config_from, free_port, open_alert
from .test_delivery import SECRET, enqueue, make_dispatcher, rounds, routing


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def scrape(engine: AsyncEngine) -> dict[str, float]:
    pipeline = Pipeline(engine, None, KeywordClassifier(), None)  # type: ignore[arg-type]
    await refresh_store_gauges(engine, pipeline)
    text = exposition(make_registry(pipeline)).decode()
    return {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("monitor_deliveries_")
    }


async def test_a_dead_receiver_and_a_refusal_show_in_metrics(
    engine: AsyncEngine,
    session: aiohttp.ClientSession,
    receiver_factory: Callable[..., Any],
) -> None:
    clock = Clock()
    port = free_port()  # nothing listens here yet: connections are refused
    env = {"T_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook", "T_WEBHOOK_SECRET": SECRET}
    config = config_from(routing(), env)
    for i in range(3):
        await open_alert(engine, {"kind": "threat", "area": f"Ward {i}"})
    await enqueue(engine, config, env)
    assert await scrape(engine) == {
        "monitor_deliveries_retrying": 0.0,
        "monitor_deliveries_failed": 0.0,
    }
    d = make_dispatcher(engine, config, env, session, clock)
    await rounds(d, clock, 30)  # half a minute of a dead receiver
    assert (await scrape(engine))["monitor_deliveries_retrying"] == 3.0
    hook = await receiver_factory(404, then=200, port=port)  # back, refusing the first
    await rounds(d, clock, 120)
    assert len(hook.requests) == 3
    assert await scrape(engine) == {
        "monitor_deliveries_retrying": 0.0,
        "monitor_deliveries_failed": 1.0,
    }
