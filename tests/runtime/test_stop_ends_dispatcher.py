"""A runtime that stops while the alert dispatcher is mid-round lets that round finish and ends
the dispatcher before it returns: nothing it started is left running with a store connection
open (one left so was garbage-collected in a later test, and aiosqlite's thread then answered
a closed event loop: "RuntimeError: Event loop is closed").

The leadership task is stopped with `stop_task`, which repeats its cancellation every few
milliseconds until the task has ended; each repeat used to land inside the leader's own stop,
which was waiting for the dispatcher's round, so the stop was cut short and the dispatcher
(shielded from that cancellation) carried on alone after the runtime had closed its engine."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest

from monitor.alerts import outbox
from monitor.alerts.dispatcher import Dispatcher
from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.runtime.app import open_runtime

# Longer than stop_task's repeats (5-50 ms), short enough for a test.
ROUND_S = 0.3


async def test_a_stop_during_a_dispatch_round_finishes_the_round_and_ends_the_dispatcher(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_round = asyncio.Event()
    stopping = asyncio.Event()
    finished: list[bool] = []
    form = outbox.form_deliveries
    stop = Dispatcher.stop

    async def slow_form(conn: Any, config: Any, active: Any, now: datetime) -> None:
        # A round that holds its store connection a while, as one on a busy store does; held
        # until the dispatcher's stop has begun, so that the stop lands in the middle of it
        # however long the runtime takes to come to the dispatcher (a loaded machine ran
        # further rounds meanwhile, or the stop fell between two).
        await form(conn, config, active, now)
        in_round.set()
        async with asyncio.timeout(30):
            await stopping.wait()
        await asyncio.sleep(ROUND_S)
        finished.append(True)

    async def noted_stop(self: Dispatcher) -> None:
        stopping.set()
        await stop(self)

    monkeypatch.setattr(outbox, "form_deliveries", slow_form)
    monkeypatch.setattr(Dispatcher, "stop", noted_stop)
    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        await asyncio.wait_for(in_round.wait(), 10)
        assert rt.alerts.running
        dispatcher = rt.alerts.dispatcher
        assert dispatcher is not None
    left = [t for t in asyncio.all_tasks() if t.get_name().startswith("alerts-") and not t.done()]
    assert left == [], f"still running after the runtime stopped: {left}"
    assert finished == [True], "the round in progress was cut short by the stop"
    assert not rt.alerts.running
