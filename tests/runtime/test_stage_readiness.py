"""Readiness tells when a stage that contains its own failures stops doing its work: signals
failing on batch after batch (a bug meeting some data) still let every post commit, each
failure only logged, and `/readyz` answered ready while no tension level or rumour moved."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.runtime import probes
from monitor.runtime.app import open_runtime
from monitor.runtime.health import STAGE_FAILING_AFTER
from monitor.runtime.state import Runtime
from monitor.signals.engine import SignalsEngine
from monitor.types import RawPost

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
            f"signals failed on the last {STAGE_FAILING_AFTER} batches: "
            "RuntimeError: fictional bug in signals"
        ]
        monkeypatch.setattr(SignalsEngine, "observe", observe)
        await one_batch(rt, STAGE_FAILING_AFTER + 1)  # fixed: the next batch succeeds
        assert await ready(rt) == (200, [])
