"""Micro-batching off the event loop: many small calls become few large forward passes.

Callers `await batcher.run(items)` from anywhere on the loop. Items from concurrent calls are
pooled until `max_size` items wait or the oldest has waited `max_wait` seconds, then the pool is
sorted by length (short with short: little padding) and handed to the blocking function in one
worker thread. One thread, because the encoder already uses every core through torch's
intra-op threads; two passes at once would only fight over them. Results go back to each caller
in its own order. A failing batch fails every call in it with the same exception, and the
batcher carries on with the next.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from monitor.tasks import stop_task

T = TypeVar("T")
R = TypeVar("R")


@dataclass(slots=True)
class _Request(Generic[T, R]):
    items: Sequence[T]
    future: asyncio.Future[list[R]]
    results: list[R | None] = field(default_factory=list)
    pending: int = 0


class BatcherClosed(RuntimeError):
    """run() was called after close()."""


class MicroBatcher(Generic[T, R]):
    """Pools items from concurrent callers and runs `fn` on sorted pools in a worker thread."""

    def __init__(
        self,
        fn: Callable[[list[T]], list[R]],
        *,
        max_size: int = 256,
        max_wait: float = 0.05,
        length: Callable[[T], int] | None = None,
        thread_name: str = "classify",
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._fn = fn
        self.max_size = max_size
        self.max_wait = max_wait
        self._length = length
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name)
        self._queue: asyncio.Queue[tuple[_Request[T, R], int]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inflight: list[_Request[T, R]] = []
        self._pool: list[tuple[_Request[T, R], int]] = []
        self._closed = False
        self.batches_run = 0

    async def run(self, items: Sequence[T]) -> list[R]:
        """The results of `fn` for `items`, in order; shares forward passes with other calls."""
        if self._closed:
            raise BatcherClosed("the classifier has been closed")
        if not items:
            return []
        loop = asyncio.get_running_loop()
        if self._queue is None or self._loop is not loop:
            # First use, or a new event loop (as in tests): queues belong to one loop.
            self._loop = loop
            self._queue = asyncio.Queue()
            self._worker = None
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._drain(self._queue))
        request: _Request[T, R] = _Request(items, loop.create_future())
        request.results = [None] * len(items)
        request.pending = len(items)
        for i in range(len(items)):
            self._queue.put_nowait((request, i))
        return await request.future

    async def _drain(self, queue: asyncio.Queue[tuple[_Request[T, R], int]]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            pool = [await queue.get()]
            self._pool = pool  # what a close must fail: taken from the queue, not yet run
            deadline = loop.time() + self.max_wait
            while len(pool) < self.max_size:
                # Take whatever is already waiting without yielding, then wait for the rest.
                try:
                    pool.append(queue.get_nowait())
                    continue
                except asyncio.QueueEmpty:
                    pass
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    pool.append(await asyncio.wait_for(queue.get(), timeout))
                except TimeoutError:
                    break
            live = [(r, i) for r, i in pool if not r.future.done()]
            if not live:
                continue
            if self._length is not None:
                key = self._length
                live.sort(key=lambda ri: key(ri[0].items[ri[1]]))
            batch = [r.items[i] for r, i in live]
            self._inflight = [r for r, _ in live]
            try:
                out = await loop.run_in_executor(self._executor, self._fn, batch)
                if len(out) != len(batch):
                    raise RuntimeError(f"batch function gave {len(out)} results for {len(batch)}")
            except Exception as exc:  # every caller in the batch hears about it
                for r, _ in live:
                    if not r.future.done():
                        r.future.set_exception(exc)
                self._inflight = []
                continue
            finally:
                self.batches_run += 1
            for (r, i), result in zip(live, out, strict=True):
                if r.future.done():
                    continue
                r.results[i] = result
                r.pending -= 1
                if r.pending == 0:
                    r.future.set_result(list(r.results))  # type: ignore[arg-type]
            self._inflight = []

    async def close(self) -> None:
        """Stop taking work; calls still waiting fail with BatcherClosed; release the thread."""
        self._closed = True
        if self._worker is not None:
            # Cancelled again until it ends: its wait for more items (`wait_for`) drops a
            # cancellation that lands as an item arrives (Python 3.11; monitor/tasks.py).
            await stop_task(self._worker)
        for r in [*self._inflight, *(r for r, _ in self._pool)]:
            if not r.future.done():
                r.future.set_exception(BatcherClosed("the classifier was closed"))
        if self._queue is not None:
            while not self._queue.empty():
                r, _ = self._queue.get_nowait()
                if not r.future.done():
                    r.future.set_exception(BatcherClosed("the classifier was closed"))
        # Not waiting: a pass already running finishes in its thread and its result is dropped;
        # blocking here would block the event loop for up to a whole forward pass.
        self._executor.shutdown(wait=False, cancel_futures=True)
