"""The incidents stage: after signals and before alert routing, in the batch's transaction.

Signals and rules open and extend alerts; this stage regroups the alerts into incidents (the
stories people review) so that the alert stage after it routes with incident labels, and only
for incidents past the precision gate. A failure here is contained in a savepoint and logged:
the batch's posts and alerts still commit, and the next batch regroups from the store.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.config import Settings
from monitor.incidents import store
from monitor.incidents.cache import PostFactsCache
from monitor.incidents.config import IncidentsConfig
from monitor.tasks import being_cancelled
from monitor.types import Processed, Stage

log = logging.getLogger(__name__)

TABLES = ("incidents", "incident_alerts", "incident_events")
# Allowlisted account kinds whose posts answer a story (a news outlet's may tell it).
RESPONDING_KINDS = frozenset({"council", "police", "public_service", "community"})


class IncidentStage:
    """`Stage` for the pipeline (and the signals follower): incidents kept in step."""

    def __init__(self, config: IncidentsConfig, official_names: Collection[str] = ()) -> None:
        self.config = config
        self.official_names = frozenset(official_names)
        self.failures = 0
        self.failing = 0  # batches failed since the last that succeeded (readiness reads it)
        self.last_error: str | None = None
        self._tables: bool | None = None
        self._marker: tuple[Any, datetime] | None = None  # alerts' last change, event clock
        self._deadline: datetime | None = None  # the next cooling or closing due
        # Evidence posts' facts from the last regrouping, each used again only while the store
        # shows it unchanged: a wave's batches no longer read its whole evidence each time.
        self._cache = PostFactsCache(store.load_posts)

    @classmethod
    def from_settings(cls, settings: Settings, home: Path) -> IncidentStage:
        from monitor.privacy.allowlist import PublicAccounts

        accounts = PublicAccounts.from_settings(settings, home)
        names = [a.name for a in accounts.accounts if a.kind in RESPONDING_KINDS]
        return cls(IncidentsConfig.from_settings(settings), names)

    async def __call__(
        self, conn: AsyncConnection, items: Sequence[Processed], now: datetime
    ) -> None:
        if self._tables is None:
            self._tables = await conn.run_sync(_has_tables)
            if not self._tables:
                log.error("incident tables missing: run `monitor db upgrade`; incidents are off")
        if not self._tables:
            return
        # This batch's own posts are written in this transaction (their labels, when they
        # were processed): read in full, whatever a reading of an earlier try kept.
        self._cache.forget(i.post.id for i in items)
        try:
            async with conn.begin_nested():
                marker = await conn.run_sync(store.change_marker, now)
                if self._marker is not None and marker[0] == self._marker[0]:
                    # No alert changed since the last regrouping: only time can move an
                    # incident on (cooling, closing), and not before the next deadline.
                    deadline = self._deadline
                    if deadline is None or marker[1] < deadline:
                        return
                # The marker's event clock: read in this transaction, so still the same.
                await conn.run_sync(
                    store.refresh, self.config, now, self.official_names, marker[1], self._cache
                )
                self._deadline = await conn.run_sync(store.next_deadline, self.config)
                self._marker = marker
        except Exception as exc:
            if being_cancelled():  # a stop, not this batch's failure
                raise asyncio.CancelledError from exc
            self._marker = None
            # What this regrouping read was rolled back with its savepoint: start afresh.
            self._cache.clear()
            self.failures += 1
            self.failing += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception(
                "incidents failed on a batch of %d posts; regrouping next batch", len(items)
            )
            return
        self.failing = 0


def _has_tables(sync_conn: Any) -> bool:
    return set(TABLES) <= set(inspect(sync_conn).get_table_names())


class Chain:
    """Several stages run as one, in order (the signals follower takes one alert stage)."""

    def __init__(self, *stages: Stage) -> None:
        self.stages = stages

    async def __call__(
        self, conn: AsyncConnection, items: Sequence[Processed], now: datetime
    ) -> None:
        for stage in self.stages:
            await stage(conn, items, now)
