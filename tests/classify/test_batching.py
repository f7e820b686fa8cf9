"""The micro-batcher: pooling, order, sorting, limits, failures and closing."""

from __future__ import annotations

import asyncio
import threading

import pytest

from monitor.classify.batching import BatcherClosed, MicroBatcher


class Recorder:
    def __init__(self, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.threads: set[str] = set()
        self.fail_on = fail_on

    def __call__(self, items: list[str]) -> list[str]:
        self.batches.append(list(items))
        self.threads.add(threading.current_thread().name)
        if self.fail_on is not None and self.fail_on in items:
            raise ValueError(f"cannot score {self.fail_on!r}")
        return [x.upper() for x in items]


async def test_concurrent_calls_share_batches_and_get_their_own_order_back() -> None:
    fn = Recorder()
    b: MicroBatcher[str, str] = MicroBatcher(fn, max_size=100, max_wait=0.05, length=len)
    calls = [["ccc", "a", "bb"], ["dddd", "e"], ["ff"]]
    results = await asyncio.gather(*(b.run(c) for c in calls))
    assert results == [[x.upper() for x in c] for c in calls]
    assert len(fn.batches) == 1  # three callers, one pass
    assert [len(x) for x in fn.batches[0]] == sorted(len(x) for c in calls for x in c)
    assert fn.threads and threading.current_thread().name not in fn.threads  # off the loop
    await b.close()


async def test_max_size_splits_large_requests() -> None:
    fn = Recorder()
    b: MicroBatcher[str, str] = MicroBatcher(fn, max_size=4, max_wait=0.01)
    items = [f"p{i}" for i in range(10)]
    assert await b.run(items) == [x.upper() for x in items]
    assert [len(x) for x in fn.batches] == [4, 4, 2]
    await b.close()


async def test_max_wait_bounds_latency_of_a_lone_post() -> None:
    b: MicroBatcher[str, str] = MicroBatcher(Recorder(), max_size=1000, max_wait=0.02)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await b.run(["alone"]) == ["ALONE"]
    assert loop.time() - started < 1.0  # scored after max_wait, not after 1000 posts arrive
    await b.close()


async def test_failure_reaches_every_caller_in_the_batch_and_the_batcher_goes_on() -> None:
    fn = Recorder(fail_on="bad")
    b: MicroBatcher[str, str] = MicroBatcher(fn, max_size=10, max_wait=0.05)
    r1, r2 = await asyncio.gather(b.run(["ok", "bad"]), b.run(["fine"]), return_exceptions=True)
    assert isinstance(r1, ValueError) and isinstance(r2, ValueError)
    assert await b.run(["later"]) == ["LATER"]
    await b.close()


async def test_empty_call_and_closed_batcher() -> None:
    b: MicroBatcher[str, str] = MicroBatcher(Recorder(), max_size=10, max_wait=0.01)
    assert await b.run([]) == []
    await b.close()
    with pytest.raises(BatcherClosed):
        await b.run(["x"])


async def test_close_fails_a_call_that_is_waiting() -> None:
    gate = threading.Event()

    def slow(items: list[str]) -> list[str]:
        gate.wait(5)
        return items

    b: MicroBatcher[str, str] = MicroBatcher(slow, max_size=10, max_wait=0.0)
    task = asyncio.ensure_future(b.run(["x"]))
    await asyncio.sleep(0.05)
    closing = asyncio.ensure_future(b.close())
    await asyncio.sleep(0.01)
    gate.set()
    await closing
    with pytest.raises(BatcherClosed):
        await task
