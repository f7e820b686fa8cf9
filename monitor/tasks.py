"""Stopping a background task for sure: cancel it, and cancel it again until it has ended
(`stop_task`); and running the clean-up of a stop to its end through those cancellations
(`run_to_end`).

One `Task.cancel()` is not enough on Python 3.11. `asyncio.wait_for` there returns the inner
call's result and drops a cancellation that arrives as that call completes (fixed in 3.12),
and redis-py sends every command through `wait_for` when it has a `socket_timeout` (5 s by
default): a worker cancelled just as a Redis command was sent carried on as if never
cancelled, and the stop that awaited it waited forever (`monitor run --role worker` never
exited on SIGTERM). The work queue's client has no `socket_timeout` now (queues.py); anything
that stops a task it started still goes through `stop_task`, for whatever else may drop one.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable
from typing import Any

log = logging.getLogger(__name__)

# How long one cancellation is given before it is repeated: a task that took it ends at its
# next await, within milliseconds; one whose cancellation was dropped never ends on its own.
# The wait is drawn at random: a task busy with Redis runs in a steady cycle of the event loop,
# and a fixed period fell on the same (dropping) moment of that cycle every time.
RECANCEL_AFTER_S = (0.005, 0.05)


async def stop_task(task: asyncio.Future[Any], *, give_up_after: float = 10.0) -> bool:
    """Cancel `task` and wait until it has ended, repeating the cancellation until it takes;
    True once it has ended. After `give_up_after` seconds of cancellations it is left (logged)
    so that a stop stays bounded. A cancellation of the caller (a second signal) cancels the
    task once more and goes on."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_after
    while not task.done():
        remaining = deadline - loop.time()
        if remaining <= 0:
            log.error(
                "%s did not end %.0f s after it was cancelled; left running", task, give_up_after
            )
            return False
        task.cancel()
        try:
            await asyncio.wait({task}, timeout=min(random.uniform(*RECANCEL_AFTER_S), remaining))
        except asyncio.CancelledError:
            task.cancel()
            raise
    if not task.cancelled() and task.exception() is not None:
        log.error("%s failed as it stopped", task, exc_info=task.exception())
    return True


async def run_to_end(work: Awaitable[Any], *, give_up_after: float = 8.0) -> None:
    """Run `work` to its end whatever cancels the caller meanwhile: the one way to run clean-up
    that a cancellation must not cut short (a stopping task's own stop, the rollback and close
    of a SQLite connection whose call was cancelled). `stop_task` repeats its cancellation
    every few milliseconds until the task has ended, and each repeat would otherwise cut that
    clean-up short (the leader's stop of the alert dispatcher was interrupted so, and the
    dispatcher, shielded, ran on with a store connection after the runtime had closed its
    engine).

    Bounded: `work` that has not ended after `give_up_after` seconds (within `stop_task`'s
    default bound) is cancelled, again and again as `stop_task` does, and left running if it
    has not ended after as long again; both are logged.

    The outcome: a caller cancelled meanwhile gets its `CancelledError` once `work` has ended
    (or was left), and an error `work` raised is logged, not lost; otherwise `work`'s error is
    raised. Work that wants its own failures ignored says so itself."""
    job = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_after
    cancelled = overdue = False
    while not job.done():
        if not overdue and loop.time() >= deadline:
            overdue = True
            log.error("%s had not ended %g s into its clean-up; cancelling it", job, give_up_after)
        if overdue:
            if loop.time() >= deadline + give_up_after:
                log.error("%s did not end when stopped; left running", job)
                break
            job.cancel()
        wait = random.uniform(*RECANCEL_AFTER_S) if overdue else deadline - loop.time()
        try:
            await asyncio.wait({job}, timeout=wait)
        except asyncio.CancelledError:
            cancelled = True
    error = job.exception() if job.done() and not job.cancelled() else None
    if cancelled:
        if error is not None:
            log.error("%s failed as it stopped", job, exc_info=error)
        raise asyncio.CancelledError
    if error is not None:
        raise error


def being_cancelled() -> bool:
    """Whether the running task has been asked to stop (`Task.cancelling()`). A stage that
    contains its own failures asks this first: the clean-up of a cancellation (a savepoint's
    rollback on a connection the cancelled call has closed: "no active connection") raises an
    ordinary error in place of the `CancelledError`, and counting it as the batch's own
    failure sent the batch's posts to the quarantine when the service was only stopping."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
