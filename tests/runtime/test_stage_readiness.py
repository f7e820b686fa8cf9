"""Readiness tells when a stage that contains its own failures stops doing its work: signals
failing on batch after batch (a bug meeting some data) still let every post commit, each
failure only logged, and `/readyz` answered ready while no tension level or rumour moved."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.alerts import outbox
from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.runtime import probes
from monitor.runtime.app import open_runtime
from monitor.runtime.health import STAGE_FAILING_AFTER
from monitor.runtime.state import Runtime
from monitor.signals.engine import SignalsEngine
from monitor.types import RawPost
from tests.conftest import ROOT

START = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def raw(i: int) -> RawPost:
    return RawPost(
        platform="mastodon",
        native_id=f"https://social.example/users/fictional{i % 5}/statuses/r{i}",
        text=f"(fictional) the bus shelter on Marsh Lane in Toller is broken again, day {i}",
        created_at=START + timedelta(minutes=i),
        author_id=f"https://social.example/users/fictional{i % 5}",
        source="push",
    )


async def ready(rt: Runtime) -> tuple[int, list[str]]:
    response = await probes.readyz(rt)
    assert response.body is not None
    return response.status, json.loads(response.body)["reasons"]


async def one_batch(rt: Runtime, i: int) -> None:
    await rt.pipeline.accept("push", [raw(i)])
    assert await rt.pipeline.drain(timeout=30)


async def test_signals_failing_batch_after_batch_make_the_process_not_ready(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    observe = SignalsEngine.observe

    def broken(self: SignalsEngine, items: Sequence[Any], now: datetime) -> Any:
        raise RuntimeError("fictional bug in signals")

    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        await one_batch(rt, 0)
        assert await ready(rt) == (200, [])
        monkeypatch.setattr(SignalsEngine, "observe", broken)
        for i in range(1, STAGE_FAILING_AFTER):
            await one_batch(rt, i)
        assert (await ready(rt))[0] == 200, "one or two failures are retried, not reported"
        await one_batch(rt, STAGE_FAILING_AFTER)
        status, reasons = await ready(rt)
        assert status == 503
        assert reasons == [
            f"signals failed {STAGE_FAILING_AFTER} times in a row: "
            "RuntimeError: fictional bug in signals"
        ]
        monkeypatch.setattr(SignalsEngine, "observe", observe)
        await one_batch(rt, STAGE_FAILING_AFTER + 1)  # fixed: the next batch succeeds
        assert await ready(rt) == (200, [])


async def test_an_alert_dispatcher_failing_round_after_round_makes_the_process_not_ready(
    migrated_sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each failed round is logged and retried with backoff; a run of them is a dispatcher
    that sends nothing, and /readyz answered ready meanwhile."""
    settings = Settings(
        database_url=migrated_sqlite_url,
        home=str(ROOT),
        classifier="keyword",
        alerts_poll_seconds=0.05,
    )
    claimable = outbox.claimable

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("fictional bug in dispatch")

    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        assert await ready(rt) == (200, [])
        monkeypatch.setattr(outbox, "claimable", broken)
        reasons = await until_ready_is(rt, 503)
        # Read as soon as it is not ready, but rounds go on meanwhile: at least the threshold.
        assert len(reasons) == 1, reasons
        found = re.fullmatch(
            r"alert dispatch failed (\d+) times in a row: RuntimeError: fictional bug in dispatch",
            reasons[0],
        )
        assert found is not None and int(found[1]) >= STAGE_FAILING_AFTER, reasons
        monkeypatch.setattr(outbox, "claimable", claimable)
        assert await until_ready_is(rt, 200) == []


async def until_ready_is(rt: Runtime, status: int) -> list[str]:
    async with asyncio.timeout(30):
        while True:
            got, reasons = await ready(rt)
            if got == status:
                return reasons
            await asyncio.sleep(0.05)
