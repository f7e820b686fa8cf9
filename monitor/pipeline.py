"""The in-process pipeline: intake → store → classify and rules → alerts, over bounded queues.

Collectors and the importer call `deliver` (the `PostSink`), which puts posts on a `WorkQueue`
(in-process, or a Redis stream when scaled out); a full queue makes `deliver` wait, which is
the backpressure that slows collectors when the classifier falls behind. The worker takes
batches off the queue, ingests and stores them (with the source's cursor, in-process), then
classifies, runs the rules and the stages and stores the results. Posts stored but not yet
processed when a process dies are processed at the next start, and results are recorded once
per post (claimed by `processed_at`), so a crash anywhere loses nothing and duplicates
nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor.classify.labels import FLAG_LABELS
from monitor.queues import Delivery, Envelope, InProcessQueue, WorkQueue
from monitor.store import alerts as alert_store
from monitor.store import posts as post_store
from monitor.types import Classifier, Post, Processed, RawPost, RuleHit

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class RuleEvaluator(Protocol):
    """What the pipeline needs of the rule engine: hits for one post, given its scores."""

    def evaluate(
        self, post: Post, scores: dict[str, float], now: datetime
    ) -> Sequence[RuleHit]: ...


class Stage(Protocol):
    """A step after classification and rules, run inside the transaction that stores the
    batch's results, so its writes commit or roll back with them (signals, alerts)."""

    async def __call__(
        self, conn: AsyncConnection, items: Sequence[Processed], now: datetime
    ) -> None: ...


class PostIngestor(Protocol):
    """What the pipeline needs of ingest: a stored-ready Post from a raw one."""

    async def ingest_batch(self, raws: Sequence[RawPost], now: datetime) -> list[Post]: ...

    async def author_refs(self, platform: str, author_id: str) -> list[str]: ...


@dataclass
class PipelineStats:
    """Counters shown by `monitor demo`, the overview page and /metrics."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    processed: int = 0
    flagged: int = 0
    alerts_touched: int = 0
    deleted: int = 0
    per_place: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)


class Pipeline:
    """Implements `PostSink` for collectors by putting posts on a `WorkQueue`, and runs the
    worker that takes them off: ingest, store, classify, rules, stages."""

    def __init__(
        self,
        engine: AsyncEngine,
        ingestor: PostIngestor,
        classifier: Classifier,
        rules: RuleEvaluator,
        *,
        queue: WorkQueue | None = None,
        stages: Sequence[Stage] = (),
        queue_size: int = 1000,
        batch_size: int = 64,
        max_wait: float = 0.05,
        clock: Clock = utcnow,
        retry_delays: Sequence[float] = (0.5, 1.0, 2.0, 5.0, 10.0),
    ) -> None:
        self.engine = engine
        self.ingestor = ingestor
        self.classifier = classifier
        self.rules = rules
        self.queue: WorkQueue = queue if queue is not None else InProcessQueue(queue_size)
        self.stages = list(stages)
        self.batch_size = batch_size
        self.max_wait = max_wait
        self.clock = clock
        self.retry_delays = tuple(retry_delays)
        self.stats = PipelineStats()
        self._worker: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[Sequence[Processed]], None]] = []

    @property
    def queue_depth(self) -> int:
        return self.queue.depth()

    # --- PostSink --------------------------------------------------------------------------

    async def deliver(self, source: str, posts: Sequence[RawPost], cursor: str | None) -> None:
        """Queue posts; returns once the queue holds them (waits while it is full)."""
        self.stats.received += len(posts)
        await self.queue.put(Envelope(source, tuple(posts), cursor))

    async def load_cursor(self, source: str) -> str | None:
        async with self.engine.connect() as conn:
            return await post_store.load_cursor(conn, source)

    async def delete_posts(self, post_ids: Sequence[str]) -> int:
        async with self.engine.begin() as conn:
            n = await post_store.purge_text(conn, post_ids, self.clock())
        self.stats.deleted += n
        return n

    async def delete_author(self, platform: str, author_id: str) -> int:
        refs = await self.ingestor.author_refs(platform, author_id)
        async with self.engine.begin() as conn:
            ids = await post_store.post_ids_by_author_refs(conn, platform, refs)
            n = await post_store.purge_text(conn, ids, self.clock())
        self.stats.deleted += n
        return n

    async def update_post(self, post: RawPost) -> None:
        ingested = await self.ingestor.ingest_batch([post], self.clock())
        if not ingested:
            return
        async with self.engine.begin() as conn:
            changed = await post_store.replace_text(conn, ingested[0])
        if changed:
            await self.process(ingested)

    # --- the worker --------------------------------------------------------------------------

    def on_processed(self, listener: Callable[[Sequence[Processed]], None]) -> None:
        """Call `listener` with every processed batch (signals, live web updates)."""
        self._listeners.append(listener)

    async def start(self, consume: bool = True) -> None:
        """Start the worker (unless this process only produces, e.g. a collector role)."""
        if consume and self._worker is None:
            self._worker = asyncio.create_task(self._run(), name="pipeline-worker")

    async def drain(self) -> None:
        """Wait until every post queued so far is processed (shutdown, `demo --once`)."""
        await self.queue.join()

    async def stop(self, drain: bool = True) -> None:
        if drain and self._worker is not None:
            await self.drain()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    async def _run(self) -> None:
        await self._resume_unprocessed()
        while True:
            delivery = await self.queue.take(self.batch_size, self.max_wait)
            await self._handle_with_retries(delivery)
            await self.queue.ack(delivery)

    async def _resume_unprocessed(self) -> None:
        """Posts stored but never processed (the process died in between) are done first."""
        resumed = 0
        last_id: str | None = None
        while True:
            async with self.engine.connect() as conn:
                rows = await post_store.unprocessed_posts(conn, self.batch_size, after_id=last_id)
                pending = await post_store.load_posts(conn, rows)
            if not pending:
                break
            await self.process(pending)
            resumed += len(pending)
            last_id = pending[-1].id
        if resumed:
            log.info("processed %d posts stored but not processed before the last stop", resumed)

    async def _handle_with_retries(self, delivery: Delivery) -> None:
        for delay in (*self.retry_delays, None):
            try:
                await self.handle(delivery.envelopes)
                return
            except Exception:
                if delay is None:
                    break
                log.exception("processing %d posts failed; retrying in %.1fs", delivery.size, delay)
                await asyncio.sleep(delay)
        # Still failing (a bug, not a blip): store the posts unprocessed so nothing is lost;
        # they are processed again at the next start.
        log.error("giving up processing %d posts; storing them unprocessed", delivery.size)
        await self.intake(delivery.envelopes, self.clock())

    async def handle(self, envelopes: Sequence[Envelope]) -> list[Processed]:
        """Ingest and store the envelopes' posts, then process those not yet processed."""
        pending = await self.intake(envelopes, self.clock())
        return await self.process(pending) if pending else []

    async def intake(self, envelopes: Sequence[Envelope], now: datetime) -> list[Post]:
        """Ingest and store the envelopes' posts (with their cursors, in-process); returns
        those still to process: the new ones and any a dead worker stored unprocessed."""
        raws = [p for e in envelopes for p in e.posts]
        ingested = await self.ingestor.ingest_batch(raws, now)
        async with self.engine.begin() as conn:
            new = await post_store.insert_posts(conn, ingested)
            if self.queue.worker_commits_cursor:
                for e in envelopes:
                    if e.cursor is not None:
                        kind = e.posts[0].platform if e.posts else e.source.split(":", 1)[0]
                        await post_store.save_cursor(conn, e.source, kind, e.cursor, now)
            # Redelivered posts stored by a worker that died before processing them.
            new_ids = {p.id for p in new}
            seen = [p.id for p in ingested if p.id not in new_ids]
            stale = await post_store.load_posts(
                conn, await post_store.unprocessed_among(conn, seen)
            )
        self.stats.rejected += len(raws) - len(ingested)
        self.stats.stored += len(new)
        self.stats.duplicates += len(ingested) - len(new)
        for post in new:
            for place in {m.ward or m.name for m in post.places}:
                self.stats.per_place[place] = self.stats.per_place.get(place, 0) + 1
        return new + stale

    async def process(self, batch: Sequence[Post]) -> list[Processed]:
        """Classify, run the rules and the stages, and store it all in one transaction.

        Posts are claimed first (processed_at set where still NULL), so two workers handed
        the same post, or a post processed twice after a crash, record results once."""
        analyses = await self.classifier.analyse([p.text for p in batch])
        now = self.clock()
        thresholds = self.classifier.thresholds
        items: list[Processed] = []
        for post, analysis in zip(batch, analyses, strict=True):
            # Flags are content labels over their thresholds; a reply's stance is a score
            # that signals use, not a reason to flag the post.
            flags = tuple(
                sorted(
                    k
                    for k, v in analysis.scores.items()
                    if k in FLAG_LABELS and v >= thresholds.get(k, 2.0)
                )
            )
            hits = tuple(self.rules.evaluate(post, analysis.scores, now))
            items.append(
                Processed(
                    post=post,
                    scores=analysis.scores,
                    embedding=analysis.embedding,
                    flags=flags,
                    hits=hits,
                )
            )
        async with self.engine.begin() as conn:
            claimed = await post_store.claim_for_processing(conn, [i.post.id for i in items], now)
            items = [i for i in items if i.post.id in claimed]
            await post_store.save_processed(conn, items, now)
            self.stats.alerts_touched += await alert_store.record_hits(conn, items, now)
            for stage in self.stages:
                await stage(conn, items, now)
        self.stats.processed += len(items)
        self.stats.flagged += sum(1 for i in items if i.flags or i.hits)
        for listener in self._listeners:
            listener(items)
        return items
