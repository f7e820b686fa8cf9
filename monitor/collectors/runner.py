"""Builds collectors from their configs and runs them as tasks: what the service starts.

The composition root (monitor/runtime/app.py) calls `CollectorSet.build(...)` with its HTTP session,
its sink (the pipeline), its metrics registry and, optionally, ingest's place matcher, then
`start()` and, on shutdown, `stop()`. Health records are kept here for `/metrics`, the
overview page and the JSON API (`snapshot()`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry

from monitor.collectors.base import PostSink
from monitor.collectors.common import Clock
from monitor.collectors.health import CollectorMetrics, SourceHealth
from monitor.collectors.platform import Collector, SourceConfig, Wiring
from monitor.collectors.registry import platform_of
from monitor.collectors.text import KeywordFilter, TextFilter, any_of
from monitor.tasks import stop_task

__all__ = ["Collector", "CollectorSet", "build_collector", "build_filter"]

log = logging.getLogger(__name__)


def build_filter(config: SourceConfig, place_filter: TextFilter | None = None) -> TextFilter:
    """The source's keywords, hashtags and places, OR the gazetteer's place matcher if given."""
    keywords = KeywordFilter(config.keywords, config.hashtags, config.places)
    if place_filter is None:
        return keywords
    if keywords.empty:
        return place_filter
    return any_of(keywords, place_filter)


def build_collector(
    config: SourceConfig,
    session: aiohttp.ClientSession,
    sink: PostSink,
    *,
    metrics: CollectorMetrics | None = None,
    place_filter: TextFilter | None = None,
    clock: Clock | None = None,
    environ: Mapping[str, str] | None = None,
) -> Collector:
    """One collector for one config, built by its platform; secrets are read from the
    environment (or `environ`) there."""
    platform = platform_of(config)
    health = SourceHealth(config.name, platform.kind, metrics)
    accept = build_filter(config, place_filter)
    wiring = Wiring(session, sink, accept, health, clock=clock, environ=environ)
    collector: Collector = platform.build(config, wiring)
    return collector


class CollectorSet:
    """The running collectors of one service."""

    def __init__(self, collectors: Sequence[Collector]) -> None:
        self.collectors = list(collectors)
        self._tasks: list[asyncio.Task[None]] = []
        self._reporter: asyncio.Task[None] | None = None

    @classmethod
    def build(
        cls,
        configs: Sequence[SourceConfig],
        session: aiohttp.ClientSession,
        sink: PostSink,
        registry: CollectorRegistry | None = None,
        place_filter: TextFilter | None = None,
    ) -> CollectorSet:
        metrics = CollectorMetrics(registry) if registry is not None else None
        return cls(
            [
                build_collector(c, session, sink, metrics=metrics, place_filter=place_filter)
                for c in configs
                if c.enabled
            ]
        )

    def snapshot(self) -> list[dict[str, Any]]:
        return [c.health.snapshot() for c in self.collectors]

    def start(
        self,
        report: Callable[[list[dict[str, Any]]], Awaitable[None]] | None = None,
        report_seconds: float = 30.0,
    ) -> None:
        """Run every collector; with `report`, hand it the health snapshots periodically (the
        service writes them to the store's `sources` rows, for `monitor sources`)."""
        for collector in self.collectors:
            task = asyncio.create_task(collector.run(), name=f"collector:{collector.name}")
            task.add_done_callback(self._finished)
            self._tasks.append(task)
        if report is not None:
            self._reporter = asyncio.create_task(
                self._report(report, report_seconds), name="collector-health"
            )

    async def _report(
        self, report: Callable[[list[dict[str, Any]]], Awaitable[None]], seconds: float
    ) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await report(self.snapshot())
            except Exception:
                log.exception("could not record collector health")

    def dead(self) -> list[str]:
        """Collectors whose task ended by itself (a failure; readiness reports them)."""
        return [t.get_name() for t in self._tasks if t.done() and not t.cancelled()]

    def _finished(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("collector task %s died: %r", task.get_name(), exc, exc_info=exc)

    async def stop(self) -> None:
        """Cancel every collector, then apply what streaming ones still hold in memory."""
        # Cancelled again until each has ended (monitor/tasks.py): a collector whose one
        # cancellation was dropped (3.11's `wait_for`, as it delivered) polled on and this stop
        # waited for it. One that had already died was logged then (`_finished`).
        if self._reporter is not None:
            await stop_task(self._reporter)
            self._reporter = None
        for task in self._tasks:
            task.cancel()  # all at once; then each until it has ended
        for task in self._tasks:
            if not task.done():
                await stop_task(task)
        self._tasks.clear()
        for collector in self.collectors:
            collector.health.state = "stopped"
            drain = getattr(collector, "drain", None)
            if drain is not None:
                await drain()
