"""One scheduler at a time: leadership held through a PostgreSQL advisory lock.

The lock lives as long as the session that took it, so a leader that dies (or loses its
connection) releases it and a standby takes over at its next try. On SQLite there is only one
process, which leads at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.runtime.faults import backoff, describe, is_transient
from monitor.tasks import run_to_end

log = logging.getLogger(__name__)

# Any fixed 64-bit number that no other application on the same database uses.
SCHEDULER_LOCK = 0x6D6F6E69746F72  # "monitor"


class Leadership:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        key: int = SCHEDULER_LOCK,
        retry_seconds: float = 5.0,
        check_seconds: float = 5.0,
        retry_max_s: float = 30.0,
    ) -> None:
        self.engine = engine
        self.key = key
        self.retry_seconds = retry_seconds
        self.check_seconds = check_seconds
        # The longest wait between tries while the store is away (`store_retry_max_s`, as the
        # pipeline's): a scheduler that backed off further than that stayed down, and readiness
        # said so, for seconds after the worker had its store back.
        self.retry_max_s = retry_max_s
        self.is_leader = False
        self.error: str | None = None  # why leading failed last, until it succeeds (readiness)

    async def run(
        self, start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]]
    ) -> None:
        """Lead whenever possible: `start` on taking the lock, `stop` on losing it. Runs until
        cancelled (and then stops, if leading)."""
        if self.engine.dialect.name != "postgresql":
            await self._lead_forever(start, stop)
            return
        while True:
            try:
                await self._try_to_lead(start, stop)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.error = describe(exc)
                # Sooner where the store retry cap is shorter; a standby whose leader is
                # alive polls the lock every retry_seconds as before.
                delay = min(self.retry_seconds, self.retry_max_s)
                _log_retry("leadership: lost the database", exc, delay)
                await asyncio.sleep(delay)
                continue
            await asyncio.sleep(self.retry_seconds)

    async def _lead_forever(
        self, start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]]
    ) -> None:
        # A start that fails (the store away at that moment) is retried with backoff rather
        # than leaving the process without its scheduler, silently. A stop that comes while
        # the duties start stops what had started (the dispatcher starts before the digests
        # catch up, which may take a while).
        attempt = 0
        try:
            while True:
                try:
                    await start()
                    break
                except Exception as exc:
                    self.error = describe(exc)
                    delay = backoff(attempt, cap=self.retry_max_s)
                    _log_retry("scheduler failed to start", exc, delay)
                    with contextlib.suppress(Exception):
                        await stop()
                    await asyncio.sleep(delay)
                    attempt += 1
            self.error = None
            self.is_leader = True
            await asyncio.Event().wait()
        finally:
            self.is_leader = False
            await run_to_end(stop())  # not cut short by stop_task's repeated cancellations

    async def _try_to_lead(
        self, start: Callable[[], Awaitable[None]], stop: Callable[[], Awaitable[None]]
    ) -> None:
        async with self.engine.connect() as conn:
            got = (await conn.execute(select(func.pg_try_advisory_lock(self.key)))).scalar()
            await conn.commit()
            if not got:
                log.debug("leadership: another scheduler leads; standing by")
                return
            log.info("leadership: this process now runs the scheduler")
            self.is_leader = True
            try:
                await start()
                self.error = None
                while True:  # a dead connection means the lock is gone too
                    await asyncio.sleep(self.check_seconds)
                    await conn.execute(select(1))
                    await conn.commit()
            finally:
                self.is_leader = False
                with contextlib.suppress(Exception):
                    await run_to_end(stop())  # as in _lead_forever
                with contextlib.suppress(Exception):
                    await conn.execute(select(func.pg_advisory_unlock(self.key)))
                    await conn.commit()


def _log_retry(what: str, exc: BaseException, delay: float) -> None:
    """One line for a store that is away (readiness gives the reason too): a traceback of a
    hundred lines at each try flooded the log, 12 of them in a 60 s PostgreSQL outage, while
    the worker said the same in one line a try. Anything else is a bug: its traceback."""
    if is_transient(exc):
        log.warning("%s (%s); trying again in %.1fs", what, describe(exc), delay)
    else:
        log.error("%s; trying again in %.1fs", what, delay, exc_info=exc)
