"""The in-process pipeline: intake → store → classify and rules → alerts, over bounded queues.

Intake (collectors and the importer call it as their `PostSink`) ingests posts and commits them
with the source's cursor in one transaction, then queues the new ones for processing. A full
queue makes `deliver` wait: that is the backpressure that slows collectors when the classifier
falls behind. Posts committed but not yet processed when the process stops are picked up again
at start-up (`processed_at IS NULL`), and processing is idempotent, so a crash anywhere loses
nothing and duplicates nothing.
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
    """Owns the queue and the processing task; implements `PostSink` for collectors."""

    def __init__(
        self,
        engine: AsyncEngine,
        ingestor: PostIngestor,
        classifier: Classifier,
        rules: RuleEvaluator,
        *,
        stages: Sequence[Stage] = (),
        queue_size: int = 1000,
        batch_size: int = 64,
        max_wait: float = 0.05,
        clock: Clock = utcnow,
    ) -> None:
        self.engine = engine
        self.ingestor = ingestor
        self.classifier = classifier
        self.rules = rules
        self.stages = list(stages)
        self.batch_size = batch_size
        self.max_wait = max_wait
        self.clock = clock
        self.stats = PipelineStats()
        self._queue: asyncio.Queue[Post] = asyncio.Queue(maxsize=queue_size)
        self._worker: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[Sequence[Processed]], None]] = []

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    # --- PostSink --------------------------------------------------------------------------

    async def deliver(self, source: str, posts: Sequence[RawPost], cursor: str | None) -> None:
        now = self.clock()
        self.stats.received += len(posts)
        ingested = await self.ingestor.ingest_batch(posts, now)
        self.stats.rejected += len(posts) - len(ingested)
        async with self.engine.begin() as conn:
            new = await post_store.insert_posts(conn, ingested)
            if cursor is not None:
                kind = posts[0].platform if posts else source.split(":", 1)[0]
                await post_store.save_cursor(conn, source, kind, cursor, now)
        self.stats.stored += len(new)
        self.stats.duplicates += len(ingested) - len(new)
        for post in new:
            for place in {m.ward or m.name for m in post.places}:
                self.stats.per_place[place] = self.stats.per_place.get(place, 0) + 1
            await self._queue.put(post)

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
            await self._queue.put(ingested[0])

    # --- processing ------------------------------------------------------------------------

    def on_processed(self, listener: Callable[[Sequence[Processed]], None]) -> None:
        """Call `listener` with every processed batch (signals, live web updates)."""
        self._listeners.append(listener)

    async def start(self) -> None:
        """Queue posts left unprocessed by an earlier run, then start processing."""
        self._worker = asyncio.create_task(self._run(), name="pipeline-process")
        resumed = 0
        last_id: str | None = None
        while True:
            async with self.engine.connect() as conn:
                rows = await post_store.unprocessed_posts(conn, 500, after_id=last_id)
                pending = await post_store.load_posts(conn, rows)
            if not pending:
                break
            for post in pending:
                await self._queue.put(post)
            resumed += len(pending)
            last_id = pending[-1].id
        if resumed:
            log.info("resuming %d posts stored but not processed before the last stop", resumed)

    async def drain(self) -> None:
        """Wait until every queued post is processed (graceful shutdown, `demo --once`)."""
        await self._queue.join()

    async def stop(self) -> None:
        await self.drain()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    async def _next_batch(self) -> list[Post]:
        batch = [await self._queue.get()]
        deadline = asyncio.get_running_loop().time() + self.max_wait
        while len(batch) < self.batch_size:
            timeout = deadline - asyncio.get_running_loop().time()
            if timeout <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), timeout))
            except TimeoutError:
                break
        return batch

    async def _run(self) -> None:
        while True:
            batch = await self._next_batch()
            try:
                await self.process(batch)
            except Exception:
                # A failing batch stays unprocessed in the store (processed_at NULL) and is
                # retried at the next start; the stream itself must go on.
                log.exception("processing a batch of %d posts failed", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def process(self, batch: Sequence[Post]) -> list[Processed]:
        analyses = await self.classifier.analyse([p.text for p in batch])
        now = self.clock()
        thresholds = self.classifier.thresholds
        items: list[Processed] = []
        for post, analysis in zip(batch, analyses, strict=True):
            flags = tuple(
                sorted(k for k, v in analysis.scores.items() if v >= thresholds.get(k, 2.0))
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
            await post_store.save_processed(conn, items, now)
            self.stats.alerts_touched += await alert_store.record_hits(conn, items, now)
            for stage in self.stages:
                await stage(conn, items, now)
        self.stats.processed += len(items)
        self.stats.flagged += sum(1 for i in items if i.flags or i.hits)
        for listener in self._listeners:
            listener(items)
        return items
