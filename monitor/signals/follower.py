"""The signals follower: scaled out, signals run once, in the scheduler leader.

The signals stage keeps tension levels and live rumour clusters in memory and hands out
cluster ids, so only one process may run it. In one process (`role all`) the pipeline runs it
inline. Scaled out, workers process posts without it, and the scheduler leader (under the
same advisory lock as the digests and the outbox dispatcher) runs this follower instead: it
reads the posts processed since its cursor from the store, in (processed_at, id) order and in
the batches the workers processed them in (a worker claims a batch with one processed_at),
rebuilds what the pipeline handed its stages (scores, flags, embedding, rule hits, places),
and hands each batch to the same signals stage, then to the alert stage so that the alerts
signals open are routed. The signals' writes, the routing and the cursor (a `sources` row,
`signals-follower`) commit in one transaction, so a follower killed anywhere resumes where the
last commit left it, counting no post twice and missing none.

Two workers' batches can become visible out of processed_at order (a transaction that began
earlier may commit later), and a cursor moved past a batch not yet visible would pass it over
for good. So only posts processed at least `settle` ago are read: that delay must exceed the
longest processing transaction plus any difference between the hosts' clocks.

Results equal an inline run's but for two small differences: embeddings come back from the
store as float16, and scores rounded to four places, so a similarity or score within about
1e-3 of a threshold can fall the other way; and posts of one batch dated at the same instant
are taken in id order rather than the order the worker was given them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.config import Settings
from monitor.signals.stage import SignalsStage
from monitor.store import signals as store
from monitor.tasks import stop_task
from monitor.types import Clock, Processed, Stage, utcnow

log = logging.getLogger(__name__)


class _Moved(Exception):
    """The stored cursor is not where this follower left it: another follower ran."""


class _SignalsFailed(Exception):
    """The signals stage failed on a batch (it contained and logged the error)."""


class SignalsFollower:
    def __init__(
        self,
        engine: AsyncEngine,
        stage: SignalsStage,
        *,
        alerts: Stage | None = None,
        settle: timedelta = timedelta(seconds=10),
        poll_seconds: float = 2.0,
        page: int = 500,
        attempts: int = 5,
        clock: Clock = utcnow,
        on_committed: Callable[[], None] | None = None,
        name: str = store.FOLLOWER_SOURCE,
    ) -> None:
        self.engine = engine
        self.stage = stage
        self.alerts = alerts
        self.settle = settle
        self.poll_seconds = poll_seconds
        self.page = page
        self.attempts = attempts
        self.clock = clock
        self.on_committed = on_committed
        self.name = name
        self.taken = 0  # posts taken up by this process (shown in logs)
        self.skipped = 0  # posts passed to alerts without signals after repeated failures
        self.cursor: store.Cursor | None = None
        self._failures: dict[store.Cursor, int] = {}
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        engine: AsyncEngine,
        stage: SignalsStage,
        alerts: Stage | None = None,
        on_committed: Callable[[], None] | None = None,
    ) -> SignalsFollower:
        return cls(
            engine,
            stage,
            alerts=alerts,
            settle=timedelta(seconds=settings.signals_follow_settle_seconds),
            poll_seconds=settings.signals_follow_poll_seconds,
            on_committed=on_committed,
        )

    # --- running while leading -------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            # Whatever this process held may be behind the store (another leader ran).
            self.stage.invalidate()
            self._task = asyncio.create_task(self._run(), name="signals-follower")

    async def stop(self) -> None:
        # `stop_task`, not one cancel: a cancellation dropped by a call the step awaits (3.11's
        # `wait_for`) left the follower polling and this stop waiting for it for ever.
        if self._task is not None:
            await stop_task(self._task)
            self._task = None

    async def _run(self) -> None:
        errors = 0
        while True:
            try:
                taken = await self.step()
                errors = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                errors += 1
                taken = 0
                log.exception("signals follower: a step failed; trying again")
            if not taken:  # caught up (or failing): wait; else go on at once
                await asyncio.sleep(self.poll_seconds * min(2**errors, 30))

    async def catch_up(self) -> int:
        """Take up every post processed long enough ago; returns how many."""
        total = 0
        while taken := await self.step():
            total += taken
        return total

    # --- one step --------------------------------------------------------------------------

    async def step(self) -> int:
        """Take up one page of processed posts, a batch per transaction; returns how many."""
        now = self.clock()
        async with self.engine.connect() as conn:
            cursor = await store.load_follower_cursor(conn, self.name)
        if cursor is None:
            cursor = await self._first_cursor(now)
        elif self.cursor is not None and cursor != self.cursor:
            # Another follower moved on since this one last committed: what the stage holds
            # in memory is behind the store.
            log.warning("signals follower: another follower moved the cursor; reloading")
            self.stage.invalidate()
        self.cursor = cursor
        async with self.engine.connect() as conn:
            batches = await store.processed_after(conn, cursor, now - self.settle, self.page)
        taken = 0
        for at, items in batches:
            if not await self._take(cursor, at, items):
                break
            cursor = self.cursor = (at, items[-1].post.id)
            taken += len(items)
        self.taken += taken
        return taken

    async def _first_cursor(self, now: datetime) -> store.Cursor:
        """Where a follower that never ran starts: at the beginning, unless signals ran
        inline before (a store moved from one process to scaled out), in which case they
        have taken up every post processed so far."""
        async with self.engine.begin() as conn:
            existing = await store.load_follower_cursor(conn, self.name, lock=True)
            if existing is not None:  # another follower got there first
                return existing
            cursor = store.START
            if await store.has_signal_state(conn):
                cursor = await store.last_processed(conn) or store.START
                log.warning(
                    "signals follower: first run on a store whose signals ran inline; "
                    "starting after the last post processed (%s)",
                    store.encode_cursor(cursor),
                )
            await store.save_follower_cursor(conn, cursor, now, self.name)
        return cursor

    async def _take(self, expected: store.Cursor, at: datetime, items: Sequence[Processed]) -> bool:
        """Signals, alert routing and the cursor for one batch, in one transaction. False
        when the batch was not taken (try again later)."""
        key = (at, items[0].post.id)
        skip = self._failures.get(key, 0) >= self.attempts
        failures = self.stage.failures
        now = self.clock()
        try:
            async with self.engine.begin() as conn:
                if await store.load_follower_cursor(conn, self.name, lock=True) != expected:
                    raise _Moved
                if not skip:
                    await self.stage(conn, items, now, at=at, seen=expected)
                    if self.stage.failures > failures:
                        raise _SignalsFailed  # roll back; this batch is tried again
                if self.alerts is not None:
                    await self.alerts(conn, items, now)
                await store.save_follower_cursor(conn, (at, items[-1].post.id), now, self.name)
        except _Moved:
            log.warning("signals follower: another follower moved the cursor; reloading")
            self.stage.invalidate()
            return False
        except _SignalsFailed:
            self._failures[key] = self._failures.get(key, 0) + 1
            if self._failures[key] >= self.attempts:
                log.error(
                    "signals follower: signals failed %d times on a batch of %d posts; "
                    "passing it by (its posts are not in the signals)",
                    self._failures[key],
                    len(items),
                )
            return False
        except BaseException:
            self.stage.invalidate()  # its memory may hold what just rolled back
            raise
        self._failures.pop(key, None)
        if skip:
            self.skipped += len(items)
        if self.on_committed is not None:
            self.on_committed()
        return True


class Duty(Protocol):
    """Something the scheduler leader runs while it leads."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def lead_together(
    *duties: Duty | None,
) -> tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]:
    """`Leadership.run`'s start and stop for several duties: started in order, stopped in
    reverse (each stop attempted even if an earlier one fails)."""
    present = [d for d in duties if d is not None]

    async def start() -> None:
        for duty in present:
            await duty.start()

    async def stop() -> None:
        errors: list[BaseException] = []
        for duty in reversed(present):
            try:
                await duty.stop()
            except Exception as exc:  # the others must still stop
                errors.append(exc)
        if errors:
            raise errors[0]

    return start, stop
