"""`run_to_end`, the one way a stop's clean-up runs through the cancellations that `stop_task`
repeats: it ends what it runs, within its bound, and says what became of it."""

from __future__ import annotations

import asyncio

import pytest

from monitor.tasks import run_to_end


async def test_clean_up_runs_to_its_end_through_repeated_cancellations_then_says_so() -> None:
    steps: list[str] = []

    async def clean_up() -> None:
        for step in ("rollback", "close"):
            await asyncio.sleep(0.05)
            steps.append(step)

    caller = asyncio.create_task(run_to_end(clean_up()))
    for _ in range(5):  # as stop_task repeats its cancellation while the caller cleans up
        await asyncio.sleep(0.01)
        caller.cancel()
    await asyncio.wait({caller}, timeout=5)
    assert steps == ["rollback", "close"]
    assert caller.cancelled(), "the caller's own cancellation was lost"


async def test_a_failed_clean_up_is_raised_or_logged_when_the_caller_was_cancelled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def failing() -> None:
        await asyncio.sleep(0.05)
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        await run_to_end(failing())

    caller = asyncio.create_task(run_to_end(failing()))
    await asyncio.sleep(0.01)
    caller.cancel()
    await asyncio.wait({caller}, timeout=5)
    assert caller.cancelled()
    assert "failed as it stopped" in caplog.text and "disk gone" in caplog.text


async def test_clean_up_past_its_bound_is_cancelled_then_left_both_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Bounded: clean-up that overruns is cancelled (logged, so a stop cut short is never
    silent) and, if it will not end, left after as long again."""
    ended = asyncio.Event()

    async def overruns() -> None:
        await asyncio.sleep(60)

    async def will_not_end() -> None:
        while not ended.is_set():
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                continue  # as a call that drops its cancellations

    loop = asyncio.get_running_loop()
    started = loop.time()
    await run_to_end(overruns(), give_up_after=0.1)
    assert loop.time() - started < 5
    assert "had not ended 0.1 s into its clean-up; cancelling it" in caplog.text

    stuck = asyncio.ensure_future(will_not_end())
    started = loop.time()
    await run_to_end(stuck, give_up_after=0.1)
    assert loop.time() - started < 5
    assert not stuck.done() and "left running" in caplog.text
    ended.set()
    stuck.cancel()
    await asyncio.wait({stuck}, timeout=5)
