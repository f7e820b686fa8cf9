"""Prometheus /metrics: pipeline counters read at scrape time from the running pipeline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.alerts import outbox
from monitor.runtime.leader import Leadership
from monitor.runtime.pipeline import Pipeline
from monitor.safeguards import audit, retention
from monitor.safeguards.recheck import Rechecker
from monitor.store import posts as post_store
from monitor.store import quarantine


class PipelineCollector(Collector):
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        s = self.pipeline.stats
        for name, value, doc in (
            ("received", s.received, "Posts handed to intake by collectors and importers"),
            ("stored", s.stored, "New posts committed to the store"),
            ("duplicates", s.duplicates, "Posts already stored (at-least-once delivery)"),
            ("rejected", s.rejected, "Posts refused by ingest (malformed)"),
            ("processed", s.processed, "Posts classified and run through the rules"),
            ("flagged", s.flagged, "Processed posts with a classifier flag or rule hit"),
            ("deleted", s.deleted, "Posts whose text was purged on a platform deletion"),
            (
                "deleted_encodings_kept",
                s.encodings_not_forgotten,
                "Deleted posts whose rows in the on-disk encoding cache could not be deleted "
                "(they go when unused for retention_days)",
            ),
            ("quarantined", s.quarantined, "Records this process put in the quarantine"),
        ):
            yield CounterMetricFamily(f"monitor_posts_{name}", doc, value=value)
        not_scored = CounterMetricFamily(
            "monitor_posts_not_scored",
            "Processed posts the classifier left unscored because their language is not one "
            "it covers (the rules still ran), by detected language",
            labels=["language"],
        )
        for language, count in sorted(s.not_scored.items()):
            not_scored.add_metric([language], count)
        yield not_scored
        yield CounterMetricFamily(
            "monitor_store_retries",
            "Times the worker or the push endpoint found the store unavailable and backed off",
            value=s.store_retries,
        )
        yield CounterMetricFamily(
            "monitor_worker_restarts",
            "Times the pipeline worker failed unexpectedly and was restarted",
            value=s.worker_restarts,
        )
        h = self.pipeline.health
        yield GaugeMetricFamily(
            "monitor_worker_up",
            "1 while this process's pipeline worker runs (0: failed, restarting, backing off "
            "from the store, or this role does not process)",
            value=1 if h.state in {"running", "resuming"} else 0,
        )
        yield GaugeMetricFamily(
            "monitor_store_available",
            "0 while the worker is backing off from an unavailable store",
            value=0 if h.store_error is not None else 1,
        )
        if h.last_batch_at is not None:
            yield GaugeMetricFamily(
                "monitor_last_batch_age_seconds",
                "Seconds since this process last processed a batch",
                value=time.monotonic() - h.last_batch_at,
            )
        if s.quarantine_held >= 0:
            yield GaugeMetricFamily(
                "monitor_quarantine_records",
                "Records waiting in the quarantine (all processes; read from the store)",
                value=s.quarantine_held,
            )
        if s.stored_unprocessed >= 0:
            yield GaugeMetricFamily(
                "monitor_posts_unprocessed",
                "Stored posts not processed yet, quarantined ones aside (read from the store)",
                value=s.stored_unprocessed,
            )
        if s.deliveries_retrying >= 0:
            # A receiver that is down (an SMTP relay, a webhook) leaves its notifications in
            # the outbox, retried with backoff and never dropped: without these, nothing but
            # the log said that nobody was being told.
            yield GaugeMetricFamily(
                "monitor_deliveries_retrying",
                "Notification deliveries not sent after a failed try, waiting to be retried "
                "(all processes; read from the store)",
                value=s.deliveries_retrying,
            )
            yield GaugeMetricFamily(
                "monitor_deliveries_failed",
                "Notification deliveries that failed for good (refused; read from the store)",
                value=s.deliveries_failed,
            )
        if s.last_purge_at >= 0:
            # Post text is kept only as long as the purge runs: with `retention_purge_minutes`
            # 0 and no cron job, or a purge failing every hour, nothing else said so.
            yield GaugeMetricFamily(
                "monitor_retention_last_purge_timestamp_seconds",
                "When the newest retention purge ran, by its receipt in the audit log "
                "(scheduled or `monitor purge`; Unix time, 0: never; read from the store)",
                value=s.last_purge_at,
            )
        yield GaugeMetricFamily(
            "monitor_queue_depth",
            "Posts waiting to be processed or in flight (backpressure slows intake when "
            "full); scaled out, read from the Redis stream at the scrape, the same in every role",
            value=s.queue_waiting if s.queue_waiting >= 0 else self.pipeline.queue_depth,
        )
        if s.queue_dead >= 0:
            # An unreadable entry is set aside once and logged once; it then waits on
            # `<stream>:dead` for a person, and nothing else said that it was there.
            yield GaugeMetricFamily(
                "monitor_queue_dead_entries",
                "Queue entries no worker could read, set aside on the Redis stream "
                "`<queue_stream>:dead` for inspection (its length; 0 in one process); read at "
                "the scrape, the same in every role",
                value=s.queue_dead,
            )


async def refresh_store_gauges(engine: AsyncEngine, pipeline: Pipeline) -> None:
    """Read the store-wide gauges, the queue's depth and its dead entries before a scrape (the
    collector itself cannot await). A part that does not answer within 2 s is left out (the
    queue's depth then falls back to what this process last saw)."""
    try:
        async with asyncio.timeout(2):
            async with engine.connect() as conn:
                pipeline.stats.quarantine_held = await quarantine.count(conn)
                pipeline.stats.stored_unprocessed = await post_store.count_unprocessed(conn)
                retrying, failed = await outbox.delivery_trouble(conn)
                pipeline.stats.deliveries_retrying = retrying
                pipeline.stats.deliveries_failed = failed
                purged = await audit.last_at(conn, retention.PURGE_ACTION)
                pipeline.stats.last_purge_at = purged.timestamp() if purged else 0.0
    except Exception:  # a scrape must answer; the gauges are left out instead
        pipeline.stats.quarantine_held = pipeline.stats.stored_unprocessed = -1
        pipeline.stats.deliveries_retrying = pipeline.stats.deliveries_failed = -1
        pipeline.stats.last_purge_at = -1.0
    pipeline.stats.queue_waiting = await measure_queue(pipeline)
    # A queue that did not answer for its depth is not asked again: a scrape waits 2 s, not 4.
    pipeline.stats.queue_dead = (
        await measure_dead(pipeline) if pipeline.stats.queue_waiting >= 0 else -1
    )


async def measure_queue(pipeline: Pipeline) -> int:
    """Posts waiting in the queue, read from the queue itself (the Redis stream, scaled out);
    -1 when it does not answer within 2 s."""
    try:
        async with asyncio.timeout(2):
            return await pipeline.queue.measure()
    except Exception:  # a scrape or a probe must answer
        return -1


async def measure_dead(pipeline: Pipeline) -> int:
    """Queue entries set aside as unreadable (`<stream>:dead`, scaled out); -1 when the queue
    does not answer within 2 s."""
    try:
        async with asyncio.timeout(2):
            return await pipeline.queue.dead_entries()
    except Exception:  # a scrape must answer
        return -1


class LeadershipCollector(Collector):
    """Whether this scheduler leads (digests, dispatcher, signals) or waits as a standby."""

    def __init__(self, leadership: Leadership) -> None:
        self.leadership = leadership

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "monitor_scheduler_leader",
            "1 while this process leads the scheduling (digests, outbox, signals); 0 while it "
            "waits as a standby",
            value=1 if self.leadership.is_leader else 0,
        )


class RecheckCollector(Collector):
    """Re-checks of old posts on their platform before display (monitor/safeguards/recheck.py)."""

    def __init__(self, recheck: Rechecker) -> None:
        self.recheck = recheck

    def collect(self) -> Iterator[CounterMetricFamily]:
        s = self.recheck.stats
        for name, value, doc in (
            ("checked", s.checked, "Posts re-checked on their platform before display"),
            ("purged", s.purged, "Re-checked posts gone or hidden on their platform, purged"),
            ("failures", s.failures, "Re-checks with no answer (error, timeout, rate limit)"),
        ):
            yield CounterMetricFamily(f"monitor_recheck_{name}", doc, value=value)


def make_registry(
    pipeline: Pipeline, recheck: Rechecker | None = None, leadership: Leadership | None = None
) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(PipelineCollector(pipeline))
    if recheck is not None:
        registry.register(RecheckCollector(recheck))
    if leadership is not None:
        registry.register(LeadershipCollector(leadership))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
