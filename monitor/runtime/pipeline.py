"""The in-process pipeline: intake → store → classify and rules → alerts, over bounded queues.

Collectors and the importer call `deliver` (the `PostSink`), which puts posts on a `WorkQueue`
(in-process, or a Redis stream when scaled out); a full queue makes `deliver` wait, which is
the backpressure that slows collectors when the classifier falls behind. Their posts can stay
in memory until stored because each source's cursor commits with them: a crash re-fetches.
Pushed posts have no cursor, so `accept` stores them (or puts them on the Redis stream) before
the caller answers 202.

The worker takes batches off the queue, ingests and stores them (with the source's cursor,
in-process), then classifies, runs the rules and the stages and stores the results. Posts
stored but not yet processed when a process dies are processed at the next start, and results
are recorded once per post (claimed by `processed_at`), so a crash anywhere loses nothing and
duplicates nothing.

Faults (`monitor.runtime.faults`): a store that is away is retried with backoff for as long as it
takes (nothing accepted is dropped, and readiness says why it is stuck); a record that fails a
stage on its own is found by splitting its batch and goes to the quarantine while the rest goes
on; an unexpected failure of the worker itself restarts it with backoff, and after
`max_restarts` in a row the pipeline fails, so the process exits non-zero for its supervisor
(systemd) to restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor.classify.disk_cache import EncodingEraser
from monitor.classify.labels import flags_over
from monitor.classify.languages import is_covered
from monitor.ingest.core import IngestError
from monitor.privacy.postids import PostIds
from monitor.runtime.faults import (
    ConnectionLost,
    StageFailed,
    backoff,
    describe,
    is_transient,
    isolate,
    stage_of,
)
from monitor.runtime.queues import Delivery, Envelope, InProcessQueue, WorkQueue
from monitor.store import alerts as alert_store
from monitor.store import posts as post_store
from monitor.store import quarantine, tombstones
from monitor.tasks import being_cancelled, stop_task
from monitor.types import Classifier, Clock, Post, Processed, RawPost, RuleHit, Stage, utcnow

log = logging.getLogger(__name__)


class RuleEvaluator(Protocol):
    """What the pipeline needs of the rule engine: hits for one post, given its scores."""

    def evaluate(
        self, post: Post, scores: dict[str, float], now: datetime
    ) -> Sequence[RuleHit]: ...


@runtime_checkable
class WindowedEvaluator(Protocol):
    """A rule evaluator whose windowed rules count in the store, within the batch's
    transaction (monitor/rules/service.py)."""

    async def observe_windows(
        self, conn: AsyncConnection, posts: Sequence[Post]
    ) -> dict[str, list[RuleHit]]: ...


class PostIngestor(Protocol):
    """What the pipeline needs of ingest: a stored-ready Post from a raw one."""

    async def ingest_batch(self, raws: Sequence[RawPost], now: datetime) -> list[Post]: ...

    async def ingest_each(
        self, raws: Sequence[RawPost], now: datetime
    ) -> tuple[list[Post], list[tuple[RawPost, str]]]: ...

    async def ids(self) -> PostIds: ...

    def mask(self, text: str) -> str: ...

    async def author_refs(
        self, platform: str, author_id: str, now: datetime | None = None
    ) -> list[str]: ...


class PipelineFailed(RuntimeError):
    """The worker failed `max_restarts` times in a row: the process should exit non-zero."""


class NotAccepted(RuntimeError):
    """`accept` could not make the posts durable (the store or queue is away): answer 503."""


@dataclass
class PipelineStats:
    """Counters shown by `monitor demo`, the overview page and /metrics."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    processed: int = 0
    flagged: int = 0
    # Processed posts left unscored because the classifier does not cover their language.
    not_scored: dict[str, int] = field(default_factory=dict)
    alerts_touched: int = 0
    deleted: int = 0
    encodings_not_forgotten: int = 0  # deleted posts whose encoding cache rows stayed
    quarantined: int = 0
    store_retries: int = 0
    worker_restarts: int = 0
    quarantine_held: int = -1  # read from the store at each /metrics scrape; -1: unknown
    stored_unprocessed: int = -1
    # Notification deliveries retrying after a failure / failed for good (all processes, read
    # from the store at each scrape); -1: unknown.
    deliveries_retrying: int = -1
    deliveries_failed: int = -1
    # When the newest retention purge ran (Unix seconds, from its receipt in the audit log, so
    # `monitor purge` from cron counts too); 0: never; -1: unknown.
    last_purge_at: float = -1.0
    # Posts in the queue, read from the queue itself at each scrape (scaled out: the Redis
    # stream, whichever role asks); -1: unknown, the last depth this process saw is shown.
    queue_waiting: int = -1
    # Queue entries set aside as unreadable and still kept (scaled out: `<stream>:dead`), read
    # at each scrape; -1: unknown (the queue did not answer).
    queue_dead: int = -1
    per_place: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)


@dataclass
class WorkerHealth:
    """What readiness reports about the worker (monotonic seconds, None: never)."""

    consuming: bool = False
    # not started | starting | resuming | running | store-unavailable | restarting | failed
    # | stopped
    state: str = "not started"
    store_error: str | None = None
    store_error_since: float | None = None
    last_error: str | None = None
    last_batch_at: float | None = None
    resumed: bool = False


@dataclass(frozen=True)
class StopReport:
    """What a stop left undone, for the stop message (never "nothing is lost" unless so)."""

    drained: bool
    in_memory: int  # posts taken from sources but not stored (collectors re-fetch by cursor)
    stored_unprocessed: int | None  # stored, processed at the next start (None: store away)
    quarantined: int | None
    worker_state: str
    # Scaled out: posts still waiting on the shared queue (the Redis stream) for a worker, this
    # one at its next start or another; None: the queue could not be reached to count them.
    queued: int | None = 0
    # Scaled out: entries no worker could read, set aside on `<stream>:dead` (this run's or
    # earlier ones'): accepted posts that will not be processed until a person replays them.
    dead: int | None = 0

    def message(self) -> str:
        parts = []
        if self.in_memory:
            parts.append(
                f"{self.in_memory} posts in memory were not stored (sources resume from their "
                "last committed cursor; a killed import resumes when re-run)"
            )
        if self.stored_unprocessed is None:
            parts.append("the store could not be reached to count unprocessed posts")
        elif self.stored_unprocessed:
            parts.append(
                f"{self.stored_unprocessed} stored posts are not processed yet (processed at "
                "the next start)"
            )
        if self.queued is None:
            parts.append("the queue could not be reached to count the posts waiting on it")
        elif self.queued:
            parts.append(f"{self.queued} posts wait on the queue (a worker takes them up)")
        if self.dead:
            entries = "1 queue entry" if self.dead == 1 else f"{self.dead} queue entries"
            parts.append(
                f"{entries} that no worker could read set aside on the queue's :dead stream "
                "(read and replay them: docs/operations.md)"
            )
        if self.quarantined:
            parts.append(f"{self.quarantined} records wait in the quarantine")
        if self.drained and not parts:
            return "stopped: everything accepted is stored and processed"
        head = (
            "stopped" if self.drained else f"stopped before draining (worker {self.worker_state})"
        )
        return f"{head}: " + "; ".join(parts or ["nothing was left unprocessed"])


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
        max_backoff: float = 30.0,
        max_restarts: int = 5,
        encodings: EncodingEraser | None = None,
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
        self.max_backoff = max_backoff
        self.max_restarts = max_restarts
        # The classifier's on-disk encoding cache, when on: a deleted post's rows go with its
        # text (monitor.classify.disk_cache).
        self.encodings = encodings
        self.stats = PipelineStats()
        self.health = WorkerHealth()
        self.failure: BaseException | None = None
        self._failed = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._current: Delivery | None = None  # taken, not yet acknowledged
        self._listeners: list[Callable[[Sequence[Processed]], None]] = []

    @property
    def queue_depth(self) -> int:
        return self.queue.depth()

    # --- PostSink --------------------------------------------------------------------------

    async def deliver(self, source: str, posts: Sequence[RawPost], cursor: str | None) -> None:
        """Queue posts; returns once the queue holds them (waits while it is full)."""
        self._raise_if_failed()
        self.stats.received += len(posts)
        await self._wait_or_fail(self.queue.put(Envelope(source, tuple(posts), cursor)))

    async def accept(self, source: str, posts: Sequence[RawPost]) -> None:
        """Make posts durable before the caller acknowledges them (the push endpoint): on the
        Redis stream when scaled out, else stored (unprocessed) in the store, then queued for
        the worker by id. Raises `NotAccepted` when neither is possible now."""
        self._raise_if_failed()
        if not posts:
            return
        self.stats.received += len(posts)
        envelope = Envelope(source, tuple(posts), None)
        if not self.queue.worker_commits_cursor:
            try:
                await self.queue.put(envelope)  # the stream holds them once XADD returns
            except Exception as exc:
                raise NotAccepted(f"queue unavailable: {describe(exc)}") from exc
            return
        try:
            pending = await self.intake([envelope], self.clock())
        except Exception as exc:
            if is_transient(exc):
                self._unavailable(exc)
            raise NotAccepted(f"store unavailable: {describe(exc)}") from exc
        if pending:
            await self._wait_or_fail(
                self.queue.put(Envelope(source, (), None, tuple(p.id for p in pending)))
            )

    async def load_cursor(self, source: str) -> str | None:
        async with self.engine.connect() as conn:
            return await post_store.load_cursor(conn, source)

    async def delete_posts(self, post_ids: Sequence[str]) -> int:
        # The tombstone commits first, then the purge: a post still queued, or stored by a
        # worker meanwhile, is caught by one or the other (monitor/store/tombstones.py).
        # Platforms name the post by its own id; the store knows it only keyed.
        ids = await self.ingestor.ids()
        post_ids = [ids.key(p) for p in post_ids]
        async with self.engine.begin() as conn:
            await tombstones.record_posts(conn, post_ids, self.clock())
        n = await self._purge(post_ids)
        self.stats.deleted += n
        return n

    async def delete_author(self, platform: str, author_id: str) -> int:
        refs = await self.ingestor.author_refs(platform, author_id, self.clock())
        async with self.engine.begin() as conn:
            await tombstones.record_authors(conn, platform, refs, self.clock())
        texts: list[str] = []
        async with self.engine.begin() as conn:
            ids = await post_store.post_ids_by_author_refs(conn, platform, refs)
            if self.encodings is not None:
                texts = await post_store.texts_of(conn, ids)
            n = await post_store.purge_text(conn, ids, self.clock())
        await self._forget(texts)
        self.stats.deleted += n
        return n

    async def honour_deletions(self, post_ids: Sequence[str], posts: Sequence[Post] = ()) -> int:
        """Purge any of these just-stored posts whose deletion was recorded while they were
        being stored or processed (on another connection): the delete wins. `posts` (the
        same posts, as processed) also lets the encoding cache forget one whose text the
        deletion purged before the classifier encoded it."""
        if not post_ids:
            return 0
        texts: list[str] = []
        async with self.engine.begin() as conn:
            if posts:
                # The tombstones are read once, for the posts as processed: a batch with no
                # deletion (nearly all) costs this one look-up and nothing more.
                keys = [(p.id, p.platform, p.author_ref) for p in posts]
                deleted = await tombstones.deleted_among(conn, keys)
                texts = [p.text for p in posts if p.id in deleted]
                gone = await tombstones.stored_and_deleted(conn, sorted(deleted)) if deleted else []
            else:
                gone = await tombstones.stored_and_deleted(conn, post_ids)
                if self.encodings is not None and gone:
                    texts = await post_store.texts_of(conn, gone)
            n = await post_store.purge_text(conn, gone, self.clock()) if gone else 0
        await self._forget(texts)
        self.stats.deleted += n
        return n

    async def _purge(self, post_ids: Sequence[str]) -> int:
        """Purge these posts' text; then the encoding cache's rows made from it."""
        texts: list[str] = []
        async with self.engine.begin() as conn:
            if self.encodings is not None:
                texts = await post_store.texts_of(conn, post_ids)
            n = await post_store.purge_text(conn, post_ids, self.clock())
        await self._forget(texts)
        return n

    async def _forget(self, texts: Sequence[str]) -> None:
        # After the store's commit: the cache can never make a deletion fail.
        if self.encodings is not None and not await self.encodings.forget_after_purge(
            texts, "deletion"
        ):
            self.stats.encodings_not_forgotten += len(texts)

    async def update_post(self, post: RawPost) -> None:
        ingested = await self.ingestor.ingest_batch([post], self.clock())
        if not ingested:
            return
        edited = ingested[0]
        before: list[str] = []
        async with self.engine.begin() as conn:
            if self.encodings is not None:  # the text the edit replaces keys rows there too
                before = await post_store.texts_of(conn, [edited.id])
            changed = await post_store.replace_text(conn, edited)
        if changed:
            await self._forget([t for t in before if t != edited.text])
            await self.process(ingested)

    # --- the worker --------------------------------------------------------------------------

    def on_processed(self, listener: Callable[[Sequence[Processed]], None]) -> None:
        """Call `listener` with every processed batch (signals, live web updates)."""
        self._listeners.append(listener)

    async def start(self, consume: bool = True) -> None:
        """Start the worker (unless this process only produces, e.g. a collector role)."""
        if consume and self._worker is None:
            self.health.consuming = True
            self.health.state = "starting"
            self._worker = asyncio.create_task(self._supervise(), name="pipeline-worker")

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until the posts stored but unprocessed at start and every post queued so far
        are processed (shutdown, `import`, `demo --once`). False when `timeout` passed first;
        raises `PipelineFailed` if the worker failed for good meanwhile."""

        self._raise_if_failed()

        async def done() -> None:
            while self._worker is not None and not self.health.resumed:
                await asyncio.sleep(0.05)
            await self.queue.join()

        # `asyncio.timeout`, not `wait_for`: with no budget left (0) `wait_for` cancels the
        # waiter before it starts, leaving `done()` a coroutine never awaited.
        try:
            async with asyncio.timeout(timeout):
                await self._wait_or_fail(done())
        except TimeoutError:
            return False
        return True

    async def wait_failed(self) -> None:
        """Return only when the worker failed for good (`monitor run` then exits non-zero)."""
        await self._failed.wait()
        self._raise_if_failed()

    async def stop(self, drain: bool = True, timeout: float | None = None) -> StopReport:
        """Stop the worker, first draining for at most `timeout` seconds (None: no bound).
        A cancellation while draining (a second SIGTERM) stops at once; the report still
        says what was left."""
        drained = not drain or self._worker is None
        if drain and self._worker is not None and self.failure is None:
            try:
                drained = await self.drain(timeout)
            except (PipelineFailed, asyncio.CancelledError):
                drained = False
        if self._worker is not None:
            # Cancelled again until it ends: one cancellation can be dropped (monitor/tasks.py),
            # and a worker that missed it took from its queue for ever.
            await stop_task(self._worker)
            self._worker = None
        if self.health.state != "failed":
            self.health.state = "stopped"
        in_memory = self.queue.depth() if self.queue.worker_commits_cursor else 0
        try:
            async with asyncio.timeout(5):
                async with self.engine.connect() as conn:
                    unprocessed: int | None = await post_store.count_unprocessed(conn)
                    held: int | None = await quarantine.count(conn)
        except Exception:
            unprocessed = held = None
        # Envelopes of ids are stored posts, counted in `unprocessed` already.
        in_memory = max(0, in_memory - self._queued_stored())
        # A stop that could not drain a Redis stream (Redis away, or more waiting than the
        # drain's bound) said "nothing was left unprocessed": the stream is counted too.
        queued: int | None = 0
        dead: int | None = 0
        if self.health.consuming and not self.queue.worker_commits_cursor:
            try:
                async with asyncio.timeout(5):
                    queued = await self.queue.measure()
            except Exception:
                queued = dead = None  # the line for the queue says it could not be reached
            # Entries set aside as unreadable were logged once, when moved: the stop said
            # nothing of accepted posts that no worker will process until a person replays them.
            if queued is not None:
                try:
                    async with asyncio.timeout(5):
                        dead = await self.queue.dead_entries()
                except Exception:
                    dead = None
        return StopReport(
            drained=drained and in_memory == 0,
            in_memory=in_memory,
            stored_unprocessed=unprocessed,
            quarantined=held,
            worker_state=self.health.state,
            queued=queued,
            dead=dead,
        )

    def _queued_stored(self) -> int:
        waiting: list[Envelope] = list(getattr(self.queue, "waiting", list)())
        current = self._current.envelopes if self._current is not None else []
        return sum(len(e.stored_ids) for e in [*waiting, *current])

    def _raise_if_failed(self) -> None:
        if self.failure is not None:
            raise PipelineFailed(f"the pipeline worker failed: {describe(self.failure)}")

    async def _wait_or_fail(self, aw: Awaitable[Any]) -> Any:
        """Await `aw`, unless the worker fails for good first (then raise PipelineFailed), so
        nothing waits forever on a worker that is gone."""
        if self._worker is None:
            return await aw
        task = asyncio.ensure_future(aw)
        failed = asyncio.ensure_future(self._failed.wait())
        try:
            await asyncio.wait({task, failed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            failed.cancel()
            if not task.done():
                # Cancelled (a drain whose budget ran out): the waiter must not outlive us.
                await stop_task(task)
        if task.done() and not task.cancelled():
            return task.result()
        self._raise_if_failed()
        return None

    async def _supervise(self) -> None:
        """Run the worker; restart it with backoff when it fails unexpectedly. After
        `max_restarts` failures in a row without a batch done in between, give up: the
        pipeline is failed, `drain`/`deliver` raise, and the process exits non-zero."""
        failures = 0
        while True:
            batches_before = self.stats.processed + self.stats.quarantined
            try:
                await self._run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.stats.processed + self.stats.quarantined > batches_before:
                    failures = 0
                failures += 1
                self.health.last_error = describe(exc)
                if failures > self.max_restarts:
                    self.failure = exc
                    self.health.state = "failed"
                    self._failed.set()
                    log.critical(
                        "pipeline worker failed %d times in a row; giving up",
                        failures,
                        exc_info=exc,
                    )
                    return
                self.stats.worker_restarts += 1
                self.health.state = "restarting"
                delay = backoff(failures - 1, cap=self.max_backoff)
                log.error("pipeline worker failed; restarting in %.1fs", delay, exc_info=exc)
                await asyncio.sleep(delay)

    async def _run(self) -> None:
        if not self.health.resumed:
            self.health.state = "resuming"
            await self._until_available(self._resume_unprocessed)
            self.health.resumed = True
        self.health.state = "running"
        while True:
            # Scaled out, the queue is a Redis stream holding accepted posts: a Redis that is
            # restarting or unreachable is waited out like the store, not counted as a worker
            # failure (six in a row, some 10 s, made `monitor run` give up and exit 1).
            if self._current is None:
                await self._until_available(self._take, what="queue")
            delivery = self._current
            assert delivery is not None

            async def handle(d: Delivery = delivery) -> None:
                await self.handle(d.envelopes)

            async def ack(d: Delivery = delivery) -> None:
                await self.queue.ack(d)

            await self._until_available(handle)
            self._current = None
            await self._until_available(ack, what="queue")

    async def _take(self) -> None:
        self._current = await self.queue.take(self.batch_size, self.max_wait)

    async def _until_available(
        self, work: Callable[[], Awaitable[object]], what: str = "store"
    ) -> None:
        """Run `work` until it succeeds, backing off while the store (or the queue: `what`)
        is unavailable: what was accepted waits (the queue fills and slows intake) rather
        than being dropped."""
        attempt = 0
        while True:
            try:
                await work()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self._unavailable(exc, what)
                delay = backoff(attempt, cap=self.max_backoff)
                attempt += 1
                log.warning("%s unavailable (%s); retrying in %.1fs", what, describe(exc), delay)
                await asyncio.sleep(delay)
                continue
            self._available_again(what)
            return

    def _unavailable(self, exc: BaseException, what: str = "store") -> None:
        self.stats.store_retries += 1
        if self.health.store_error is None:
            self.health.store_error_since = time.monotonic()
        # Readiness reads "store unavailable ...: <this>": say when it is the queue instead.
        self.health.store_error = describe(exc) if what == "store" else f"{what}: {describe(exc)}"
        if self.health.consuming and self.health.state in {"running", "resuming"}:
            self.health.state = "store-unavailable"

    def _available_again(self, what: str = "store") -> None:
        if self.health.store_error is not None:
            log.info("%s available again", what)
        self.health.store_error = None
        self.health.store_error_since = None
        if self.health.state == "store-unavailable":
            self.health.state = "running" if self.health.resumed else "resuming"

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

    async def handle(self, envelopes: Sequence[Envelope]) -> list[Processed]:
        """Ingest and store the envelopes' posts, then process those not yet processed."""
        pending = await self.intake(envelopes, self.clock())
        done = await self.process(pending) if pending else []
        await self.honour_deletions([p.id for p in pending], pending)
        return done

    async def intake(self, envelopes: Sequence[Envelope], now: datetime) -> list[Post]:
        """Ingest and store the envelopes' posts (with their cursors, in-process); returns
        those still to process: the new ones and any a dead worker stored unprocessed.

        A record that cannot be ingested or stored goes to the quarantine and the rest of the
        batch is stored; a store that is away raises (the caller retries)."""
        raws = [p for e in envelopes for p in e.posts]
        stored_ids = [i for e in envelopes for i in e.stored_ids]
        cursors = envelopes if self.queue.worker_commits_cursor else ()
        try:
            new, stale, refused = await self._store(raws, cursors, now)
        except Exception as exc:
            if is_transient(exc):
                raise
            if being_cancelled():  # the stop's clean-up failed, not one of these records
                raise asyncio.CancelledError from exc
            # One or more records fail on their own: store the rest, quarantine them.
            found = await isolate(raws, lambda part: self._store(part, (), now), first_error=exc)
            failures = [await self._ingest_failure(raw, error, now) for raw, error in found.bad]
            async with self.engine.begin() as conn:
                await quarantine.add(conn, failures, now)
                await self._save_cursors(conn, cursors, now)
            self._quarantined(failures)
            new = [p for r in found.results for p in r[0]]
            stale = [p for r in found.results for p in r[1]]
            refused = sum(r[2] for r in found.results)
        if stored_ids:
            async with self.engine.connect() as conn:
                stale += await post_store.load_posts(
                    conn, await post_store.unprocessed_among(conn, stored_ids)
                )
        self.stats.rejected += refused
        self.stats.stored += len(new)
        for post in new:
            for place in {m.ward or m.name for m in post.places}:
                self.stats.per_place[place] = self.stats.per_place.get(place, 0) + 1
        return new + stale

    async def _store(
        self, raws: Sequence[RawPost], cursors: Sequence[Envelope], now: datetime
    ) -> tuple[list[Post], list[Post], int]:
        """One transaction: new posts, stale ones (stored, never processed), refused count.

        A post that ingest refuses (a date out of range, a field the schema refuses) goes to the
        quarantine in the same transaction, with its reason: an admin sees it and can retry it
        after a fix, rather than it being only a line in the log."""
        try:
            ingested, refusals = await self.ingestor.ingest_each(raws, now)
        except Exception as exc:
            raise StageFailed("ingest", exc) from exc
        refused = [
            await self._ingest_failure(raw, StageFailed("ingest", IngestError(reason)), now)
            for raw, reason in refusals
        ]
        async with self.engine.begin() as conn:
            try:
                new = await post_store.insert_posts(conn, ingested)
            except Exception as exc:
                raise StageFailed("store", exc) from exc
            await quarantine.add(conn, refused, now)
            await self._save_cursors(conn, cursors, now)
            # Redelivered posts stored by a worker that died before processing them.
            new_ids = {p.id for p in new}
            seen = [p.id for p in ingested if p.id not in new_ids]
            stale = await post_store.load_posts(
                conn, await post_store.unprocessed_among(conn, seen)
            )
        self.stats.duplicates += len(ingested) - len(new)
        self._quarantined(refused)
        return new, stale, len(refused)

    @staticmethod
    async def _save_cursors(
        conn: AsyncConnection, envelopes: Sequence[Envelope], now: datetime
    ) -> None:
        for e in envelopes:
            if e.cursor is not None:
                kind = e.posts[0].platform if e.posts else e.source.split(":", 1)[0]
                await post_store.save_cursor(conn, e.source, kind, e.cursor, now)

    async def _ingest_failure(
        self, raw: RawPost, error: BaseException, now: datetime
    ) -> quarantine.Failure:
        stage = stage_of(error, "store")
        log.warning("quarantined a post from %s at %s: %s", raw.source, stage, describe(error))
        ids = await self.ingestor.ids()
        record: dict[str, object] | None = None
        if stage != "ingest":
            with contextlib.suppress(Exception):
                posts = await self.ingestor.ingest_batch([raw], now)
                record = quarantine.post_record(posts[0]) if posts else None
        if record is None:
            refs: list[str] = []
            if raw.author_id:
                with contextlib.suppress(Exception):
                    refs = await self.ingestor.author_refs(raw.platform, raw.author_id)
            record = quarantine.raw_record(raw, refs[0] if refs else None, ids, self.ingestor.mask)
        return quarantine.Failure(
            key=ids.key(raw.post_id),
            source=raw.source,
            stage=stage,
            error=describe(error),
            record=record,
        )

    def _quarantined(self, failures: Sequence[quarantine.Failure]) -> None:
        self.stats.quarantined += len(failures)

    async def process(self, batch: Sequence[Post]) -> list[Processed]:
        """Classify, run the rules and the stages, and store it all in one transaction.

        A post that fails any of these on its own is quarantined (found by splitting the
        batch) and the rest is processed; a store that is away raises (the caller retries)."""
        if not batch:
            return []
        try:
            return await self._process(batch)
        except Exception as exc:
            if is_transient(exc):
                raise
            if being_cancelled():  # the stop's clean-up failed, not one of these posts
                raise asyncio.CancelledError from exc
            found = await isolate(batch, self._process, first_error=exc)
        now = self.clock()
        failures = []
        for post, error in found.bad:
            stage = stage_of(error, "process")
            log.warning("quarantined a post from %s at %s: %s", post.source, stage, describe(error))
            failures.append(
                quarantine.Failure(
                    key=post.id,
                    source=post.source,
                    stage=stage,
                    error=describe(error),
                    post_id=post.id,
                    record=None,
                )
            )
        async with self.engine.begin() as conn:
            await quarantine.add(conn, failures, now)
        self._quarantined(failures)
        return [i for part in found.results for i in part]

    async def _process(self, batch: Sequence[Post]) -> list[Processed]:
        try:
            analyses = await self.classifier.analyse([p.text for p in batch])
        except Exception as exc:
            raise StageFailed("classify", exc) from exc
        now = self.clock()
        thresholds = self.classifier.thresholds
        # Posts in a language the model does not cover keep no scores: a low hostile score
        # on a Polish threat would read as "checked, fine" when nothing was checked. They are
        # counted and shown as not scored; the rules still run on them.
        covered: frozenset[str] | None = getattr(self.classifier, "covered_languages", None)
        items: list[Processed] = []
        for post, analysis in zip(batch, analyses, strict=True):
            if not is_covered(post.language, covered):
                analysis = replace(analysis, scores={})
                lang = (post.language or "").split("-")[0].lower()
                self.stats.not_scored[lang] = self.stats.not_scored.get(lang, 0) + 1
            flags = tuple(flags_over(analysis.scores, thresholds))
            try:
                hits = tuple(self.rules.evaluate(post, analysis.scores, now))
            except Exception as exc:
                raise StageFailed("rules", exc) from exc
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
            try:
                items = await self._record(conn, items, now)
            except Exception as exc:
                if conn.invalidated and not is_transient(exc):
                    # The connection was lost under a stage that contains its own failures
                    # (signals, incidents: a savepoint each): what surfaced is a follow-on
                    # error (the stage's counted failure, PendingRollbackError) that says
                    # nothing about the records. Taken for theirs, the batch was split on
                    # fresh connections and its posts quarantined while the server dropped
                    # its clients; it is the store being away, so the batch is retried whole.
                    raise ConnectionLost(
                        f"the store connection was lost during the batch ({describe(exc)})"
                    ) from exc
                raise
        self.stats.processed += len(items)
        self.stats.flagged += sum(1 for i in items if i.flags or i.hits)
        self.health.last_batch_at = time.monotonic()
        for listener in self._listeners:
            try:
                listener(items)
            except Exception:  # committed already: a listener must not fail the batch
                log.exception("a processed-batch listener failed")
        return items

    async def _record(
        self, conn: AsyncConnection, items: list[Processed], now: datetime
    ) -> list[Processed]:
        """Claim the batch's posts and store their results and the stages' work, in the
        caller's transaction; returns the items claimed here (not by another worker)."""
        claimed = await post_store.claim_for_processing(conn, [i.post.id for i in items], now)
        items = [i for i in items if i.post.id in claimed]
        if isinstance(self.rules, WindowedEvaluator):
            try:
                windowed = await self.rules.observe_windows(conn, [i.post for i in items])
            except Exception as exc:
                if is_transient(exc):
                    raise
                raise StageFailed("rules", exc) from exc
            items = [
                replace(i, hits=(*i.hits, *windowed[i.post.id])) if i.post.id in windowed else i
                for i in items
            ]
        await post_store.save_processed(conn, items, now)
        self.stats.alerts_touched += await alert_store.record_hits(conn, items, now)
        for stage in self.stages:
            # A stage that contains its own failures (so that one bad batch cannot stop
            # it) still counts them; where those failures are about records, a rise fails
            # the batch here, so the record is found and quarantined instead of the
            # whole batch's results from that stage being lost in silence.
            counted = getattr(stage, "per_record_failures", False)
            before = getattr(stage, "failures", 0) if counted else 0
            try:
                await stage(conn, items, now)
            except Exception as exc:
                if is_transient(exc):
                    raise
                raise StageFailed(_stage_name(stage), exc) from exc
            if counted and getattr(stage, "failures", 0) > before:
                cause = RuntimeError("failed on this batch (traceback in the log)")
                raise StageFailed(_stage_name(stage), cause)
        return items

    # --- the quarantine ---------------------------------------------------------------------

    async def retry_quarantined(self, ids: Sequence[int]) -> tuple[int, int]:
        """Take these records out of the quarantine and run them through again (after a fix);
        those that still fail go back with one more attempt. Returns (done, failed again)."""
        async with self.engine.begin() as conn:
            entries = await quarantine.entries(conn, ids, limit=len(ids) or 1)
            await quarantine.remove(conn, [e.id for e in entries])
        stored: list[str] = []
        for e in entries:
            if e.post_id is not None:
                stored.append(e.post_id)
            elif e.record and e.record.get("kind") == "post":
                post = quarantine.post_from_record(e.record)
                stored.extend(p.id for p in await self._store_posts([post], e))
            elif e.record:
                raw, ref = quarantine.raw_from_record(e.record, await self.ingestor.ids())
                try:
                    posts, refusals = await self.ingestor.ingest_each([raw], self.clock())
                except Exception as exc:
                    await self._requarantine(e, "ingest", exc)
                    continue
                if refusals:  # still refused: back with one more attempt, not dropped
                    await self._requarantine(e, "ingest", IngestError(refusals[0][1]))
                    continue
                posts = [replace(p, author_ref=ref) if ref else p for p in posts]
                stored.extend(p.id for p in await self._store_posts(posts, e))
        if stored:
            async with self.engine.connect() as conn:
                pending = await post_store.load_posts(
                    conn, await post_store.unprocessed_among(conn, stored)
                )
            await self.process(pending)
        async with self.engine.begin() as conn:
            failed = await quarantine.carry_attempts(conn, {e.key: e.attempts for e in entries})
        return len(entries) - failed, failed

    async def _store_posts(self, posts: Sequence[Post], entry: quarantine.Entry) -> list[Post]:
        try:
            async with self.engine.begin() as conn:
                await post_store.insert_posts(conn, posts)
        except Exception as exc:
            if is_transient(exc):
                raise
            await self._requarantine(entry, "store", exc)
            return []
        return list(posts)

    async def _requarantine(self, entry: quarantine.Entry, stage: str, exc: BaseException) -> None:
        failure = quarantine.Failure(
            key=entry.key,
            source=entry.source,
            stage=stage,
            error=describe(exc),
            record=entry.record,
            post_id=entry.post_id,
        )
        async with self.engine.begin() as conn:
            await quarantine.add(conn, [failure], self.clock())
        self._quarantined([failure])


def _stage_name(stage: object) -> str:
    name = type(stage).__name__
    return {"SignalsStage": "signals", "AlertService": "alerts"}.get(name, name)
