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


async def test_close_as_a_call_joins_the_pool_ends_and_fails_every_call() -> None:
    """A call joins the pool just as the batcher closes (a post classified as the service
    stops). The worker waits for more items through `asyncio.wait_for`, which on Python 3.11
    drops a cancellation that lands as its wait completes: the worker went on, waited out
    `max_wait` and then the queue for ever, and the close waited for it for ever. The calls it
    had pooled must hear that the batcher closed, not wait for ever either."""
    b: MicroBatcher[str, str] = MicroBatcher(Recorder(), max_size=10, max_wait=30)
    first = asyncio.ensure_future(b.run(["a"]))
    await asyncio.sleep(0.05)  # the worker pooled "a" and waits up to 30 s for more
    second = asyncio.ensure_future(b.run(["b"]))
    closing = asyncio.ensure_future(b.close())  # runs just after "b" was queued
    done, _ = await asyncio.wait({closing}, timeout=10)
    try:
        assert done, "the close had not returned 10 s after it began"
        ended, _ = await asyncio.wait({first, second}, timeout=5)
        assert ended == {first, second}, "a pooled call was left waiting after the close"
        for call in (first, second):
            with pytest.raises(BatcherClosed):
                call.result()
    finally:
        for task in (closing, first, second):
            task.cancel()
