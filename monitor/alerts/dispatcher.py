"""The dispatcher: delivers what the outbox holds — retries with exponential backoff and jitter,
a circuit breaker per receiver integration, Retry-After honoured, and the same idempotency key
on every attempt of one delivery.

Each round (`run_once`, with `now` injected for tests): add due reminders and escalations, form
deliveries from due outbox rows, lease the due deliveries, render and send them concurrently
(each bounded by a timeout, so a receiver that hangs holds up only itself), and record each
outcome. A process that dies mid-send leaves a lease; when it expires the delivery is sent again
with the same key — at most once more per crash — and nothing is lost.

A round reserves only what it sends at once (`concurrency` deliveries, urgent ones first), and
its leases are short (`lease`, default 15 s) and renewed every third of a lease while the sends
run: a crashed dispatcher holds nothing for longer than one lease, so a threat alert to police
liaison is late by seconds, not minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from jinja2 import Environment
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.alerts import outbox
from monitor.alerts.breaker import CircuitBreaker, backoff
from monitor.alerts.config import AlertConfig
from monitor.alerts.notifiers import Notifier, Outcome
from monitor.alerts.render import AlertMessage, AlertView, Message, render_alert
from monitor.alerts.silence_store import load_silences
from monitor.classify.disk_cache import EncodingCacheError, EncodingEraser
from monitor.safeguards.recheck import Rechecker
from monitor.store import posts as post_store
from monitor.store import tombstones
from monitor.store.faults import describe, is_transient
from monitor.store.tables import alert_posts, alerts, digest_runs
from monitor.tasks import run_to_end, stop_task
from monitor.types import utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
EXCERPTS_PER_ALERT = 3


class Dispatcher:
    def __init__(
        self,
        engine: AsyncEngine,
        config: AlertConfig,
        notifiers: Mapping[tuple[str, str], Notifier],
        envs: tuple[Environment, Environment],
        *,
        environ: Mapping[str, str],
        public_url: str = "",
        clock: Clock = utcnow,
        rng: random.Random | None = None,
        breaker: CircuitBreaker | None = None,
        lease: timedelta = timedelta(seconds=15),
        send_timeout: float = 60.0,
        batch: int = 50,
        concurrency: int = 8,
        poll_seconds: float = 2.0,
        tick: timedelta = timedelta(minutes=1),
        retry_base: timedelta = timedelta(seconds=10),
        retry_cap: timedelta = timedelta(hours=1),
    ) -> None:
        self.engine = engine
        self.config = config
        self.require_incident = False  # scaled out: alerts wait for their incident
        self.notifiers = notifiers
        self.envs = envs
        self.environ = environ
        self.public_url = public_url.rstrip("/")
        self.clock = clock
        self.rng = rng or random.Random()
        self.breaker = breaker or CircuitBreaker()
        self.lease = lease
        self.send_timeout = send_timeout
        self.batch = batch
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.tick = tick
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self._next_tick: datetime | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.sent = self.retried = self.failed = 0
        # Rounds failed since the last that succeeded, and why the last one failed: each is
        # retried with backoff, but a run of them is a dispatcher that sends nothing
        # (readiness says so).
        self.failing = 0
        self.last_error: str | None = None
        # Set by the alert service: old posts behind excerpts are re-checked on their platform
        # before a notification quoting them goes out (monitor/privacy/recheck.py).
        self.recheck: Rechecker | None = None
        # Set by the alert service: the classifier's on-disk encoding cache, when on, whose
        # rows made from a purged post's text go with it (monitor/classify/disk_cache.py).
        self.encodings: EncodingEraser | None = None

    # --- one round -----------------------------------------------------------------------

    async def run_once(self, now: datetime | None = None) -> int:
        """One round; returns how many deliveries were attempted."""
        now = now or self.clock()
        if self._next_tick is None or now >= self._next_tick:
            async with self.engine.begin() as conn:
                # A safety net for alerts opened outside the pipeline's transaction (the
                # pipeline stage routes the rest as they commit); idempotent either way.
                await outbox.route_changed_alerts(
                    conn, self.config, now, self.environ, require_incident=self.require_incident
                )
            async with self.engine.begin() as conn:
                await outbox.enqueue_reminders(conn, self.config, now, self.environ)
            self._next_tick = now + self.tick
        try:
            async with self.engine.begin() as conn:
                active = await load_silences(conn, now)
                await outbox.form_deliveries(conn, self.config, active, now)
        except outbox.Conflict as exc:
            log.debug("forming deliveries: %s; trying again next round", exc)
        claimed: list[outbox.Claimed] = []
        async with self.engine.begin() as conn:
            blocked = self.breaker.blocked(now)
            paused = [_split(key) for key in blocked]
            for candidate in await outbox.claimable(conn, now, self.batch, paused):
                if len(claimed) >= self.concurrency:
                    break  # reserve only what is sent now; the next round takes the rest
                if candidate.breaker_key in blocked:
                    continue
                if not self.breaker.allows(candidate.breaker_key, now):
                    continue
                got = await outbox.claim(conn, candidate, now, self.lease)
                if got is not None:
                    claimed.append(got)
        if not claimed:
            return 0
        in_flight = {d.id: d for d in claimed}
        heartbeat = asyncio.create_task(self._keep_leases(in_flight, now), name="alerts-leases")
        try:
            messages = await self.messages_for(claimed)

            async def one(d: outbox.Claimed) -> None:
                await self._deliver(d, messages[d.id], now)
                in_flight.pop(d.id, None)

            await asyncio.gather(*(one(d) for d in claimed))
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        return len(claimed)

    async def _keep_leases(self, in_flight: Mapping[int, outbox.Claimed], start: datetime) -> None:
        """Renew the leases of sends still running, every third of a lease. Time is measured
        from the round's (injected) `start`, so a test clock and the leases agree."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        every = max(self.lease.total_seconds() / 3, 0.05)
        while True:
            await asyncio.sleep(every)
            held = list(in_flight.values())
            if not held:
                continue
            at = start + timedelta(seconds=loop.time() - began)
            try:
                async with self.engine.begin() as conn:
                    await outbox.renew(conn, held, at, self.lease)
            except Exception as exc:  # the next beat tries again
                if is_transient(exc):  # the store is away: one line, as the round says it
                    log.warning(
                        "renewing %d delivery leases failed: the store is unavailable (%s)",
                        len(held),
                        describe(exc),
                    )
                else:
                    log.exception("renewing %d delivery leases failed", len(held))

    async def _deliver(
        self, d: outbox.Claimed, message: Message | Exception, now: datetime
    ) -> None:
        notifier = self.notifiers.get((d.receiver, d.integration))
        if notifier is None:
            outcome = Outcome.fatal(
                f"receiver {d.receiver} has no {d.integration} any more (routing file changed)"
            )
        elif isinstance(message, Exception):
            outcome = Outcome.retry(f"rendering failed: {type(message).__name__}: {message}")
        else:
            try:
                outcome = await asyncio.wait_for(
                    notifier.send(message, d.recipient, d.idempotency_key, now), self.send_timeout
                )
            except TimeoutError:
                outcome = Outcome.retry(f"no answer within {self.send_timeout:.0f}s")
            except Exception as exc:  # a bug or an unexpected failure: keep the message
                log.exception("sending delivery %s failed unexpectedly", d.id)
                outcome = Outcome.retry(f"{type(exc).__name__}: {exc}")
        await self._record(d, outcome, now)

    async def _record(self, d: outbox.Claimed, outcome: Outcome, now: datetime) -> None:
        key = d.breaker_key
        retry_at: datetime | None = None
        if outcome.ok:
            self.breaker.success(key)
            self.sent += 1
        elif outcome.retryable:
            delay = backoff(d.attempts, self.rng, self.retry_base, self.retry_cap)
            if outcome.retry_after is not None:
                asked = timedelta(seconds=outcome.retry_after)
                delay = min(max(asked, timedelta(seconds=1)), self.retry_cap)
                self.breaker.pause(key, now + delay)
            else:
                self.breaker.failure(key, now)
            retry_at = now + delay
            self.retried += 1
            log.warning(
                "delivery %s to %s (%s) failed, retry %s in %.0fs: %s",
                d.id,
                d.receiver,
                d.integration,
                d.attempts,
                delay.total_seconds(),
                outcome.error,
            )
        else:
            self.breaker.failure(key, now)
            self.failed += 1
            log.error(
                "delivery %s to %s (%s) failed for good: %s",
                d.id,
                d.receiver,
                d.integration,
                outcome.error,
            )
        async with self.engine.begin() as conn:
            held = await outbox.finish_delivery(
                conn, d, now, sent=outcome.ok, retry_at=retry_at, error=outcome.error
            )
        if not held:
            log.warning("delivery %s: lease lost before the outcome was recorded", d.id)

    # --- rendering --------------------------------------------------------------------------

    async def messages_for(
        self, claimed: Sequence[outbox.Claimed]
    ) -> dict[int, Message | Exception]:
        """Every claimed delivery's message, read in a few queries for the whole round."""
        async with self.engine.connect() as conn:
            rows = await outbox.delivery_rows(conn, [d.id for d in claimed])
        await self._honour_deletions(
            [r["alert_id"] for r in rows if r["alert_id"] is not None],
            digests=any(r["digest_run_id"] is not None for r in rows),
        )
        async with self.engine.connect() as conn:
            by_delivery: dict[int, list[Mapping[str, Any]]] = {}
            for r in rows:
                by_delivery.setdefault(r["delivery_id"], []).append(r)
            run_ids = {r["digest_run_id"] for r in rows if r["digest_run_id"] is not None}
            runs: dict[int, Any] = {}
            if run_ids:
                for run in (
                    (await conn.execute(select(digest_runs).where(digest_runs.c.id.in_(run_ids))))
                    .mappings()
                    .all()
                ):
                    runs[run["id"]] = run
            views = {
                v.id: v
                for v in await self.alert_views(
                    conn, [r["alert_id"] for r in rows if r["alert_id"] is not None]
                )
            }
        out: dict[int, Message | Exception] = {}
        for d in claimed:
            members = by_delivery.get(d.id, [])
            try:
                out[d.id] = self._compose(d, members, runs, views)
            except Exception as exc:  # one bad message must not stop the others
                log.exception("rendering delivery %s failed", d.id)
                out[d.id] = exc
        return out

    async def _honour_deletions(self, alert_ids: Sequence[int], *, digests: bool) -> None:
        """Before a notification or digest is rendered: a post deleted since it was quoted
        leaves the message. A deletion whose purge did not run (its tombstone is kept, its
        excerpt too) is purged now — which also scrubs it from stored digests — and, where a
        re-checker is set, old posts are looked up on their platform as digests' are. The
        message then says how many quoted posts were left out (`AlertView.removed`)."""
        ids = sorted(set(alert_ids))
        if not ids and not digests:
            return
        now = self.clock()
        texts: list[str] = []
        async with self.engine.begin() as conn:
            gone = await tombstones.unpurged_evidence(conn, None if digests else ids)
            if gone:
                if self.encodings is not None:
                    texts = await post_store.texts_of(conn, gone)
                await post_store.purge_text(conn, gone, now)
        if texts and self.encodings is not None:
            try:
                await self.encodings.forget_async(texts)
            except EncodingCacheError as exc:  # they go when unused for retention_days
                log.warning("send-time check: the encoding cache was not updated (%s)", exc)
        if gone:
            log.info("send-time check: %d deleted posts left out of notifications", len(gone))
        if self.recheck is not None and ids:
            await self.recheck.verify_alerts(ids, now)

    def _compose(
        self,
        d: outbox.Claimed,
        members: Sequence[Mapping[str, Any]],
        runs: Mapping[int, Mapping[str, Any]],
        views: Mapping[int, AlertView],
    ) -> Message:
        if members and members[0]["digest_run_id"] is not None:
            run = runs[members[0]["digest_run_id"]]
            return Message(
                subject=run["subject"] or "",
                text=run["text"] or "",
                html=run["html"] or "",
                data=dict(run["data"] or {}),
            )
        receiver = self.config.receivers.get(d.receiver)
        with_excerpts = receiver.excerpts if receiver is not None else False
        chosen = [views[i] for i in sorted({m["alert_id"] for m in members}) if i in views]
        if not with_excerpts:
            chosen = [replace(v, excerpts=(), removed=0) for v in chosen]
        kind = members[0]["kind"] if members else "alert"
        common = _common_labels([v.labels for v in chosen])
        msg = AlertMessage(receiver=d.receiver, reason=kind, alerts=tuple(chosen), group=common)
        return render_alert(msg, self.envs)

    async def alert_views(self, conn: Any, alert_ids: Sequence[int]) -> list[AlertView]:
        ids = sorted({i for i in alert_ids if i is not None})
        found = (
            (await conn.execute(select(alerts).where(alerts.c.id.in_(ids)).order_by(alerts.c.id)))
            .mappings()
            .all()
        )
        excerpts: dict[int, list[str]] = {}
        removed: dict[int, int] = {}
        if ids:
            for r in (
                await conn.execute(
                    select(alert_posts.c.alert_id, alert_posts.c.excerpt)
                    .where(alert_posts.c.alert_id.in_(ids))
                    .order_by(alert_posts.c.added_at.desc(), alert_posts.c.post_id)
                )
            ).all():
                if r.excerpt is None:  # deleted by its author, or past its retention
                    removed[r.alert_id] = removed.get(r.alert_id, 0) + 1
                    continue
                bucket = excerpts.setdefault(r.alert_id, [])
                if len(bucket) < EXCERPTS_PER_ALERT:
                    bucket.append(r.excerpt)
        return [
            AlertView(
                id=a["id"],
                key=a["key"],
                summary=a["summary"],
                labels={str(k): str(v) for k, v in (a["labels"] or {}).items()},
                status=a["status"],
                post_count=a["post_count"],
                first_seen=a["first_seen"],
                last_seen=a["last_seen"],
                excerpts=tuple(excerpts.get(a["id"], ())),
                removed=removed.get(a["id"], 0),
                url=f"{self.public_url}/alerts/{a['id']}" if self.public_url else None,
            )
            for a in found
        ]

    # --- the loop ---------------------------------------------------------------------------

    def wake(self) -> None:
        """New outbox rows were committed: look now rather than at the next poll."""
        self._wake.set()

    @property
    def running(self) -> bool:
        """Whether the background loop (`start`) is running."""
        return self._task is not None

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._loop(), name="alerts-dispatcher")

    async def stop(self) -> None:
        """Finish the round in progress (bounded), then stop."""
        self._stopping.set()
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), self.send_timeout + 5)
        except TimeoutError:
            await stop_task(task)
        except asyncio.CancelledError:
            # Stopped in a hurry: the round is cut short, and the task still ends before this
            # does (shielded, it would run on with a store connection past the engine's close).
            await run_to_end(stop_task(task))
            raise

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            # Cleared before the round, not after it: a wake (new outbox rows, or `stop`) that
            # comes while the round runs then ends the wait below at once instead of being
            # lost until the next poll.
            self._wake.clear()
            try:
                attempted = await self.run_once()
                self.failing = 0
            except Exception as exc:
                self.failing += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                if is_transient(exc):
                    # The store is away: one line a round, as the worker and leadership say it,
                    # not a traceback of a hundred lines each round for as long as it lasts.
                    log.warning(
                        "alert dispatch round failed (%d in a row): the store is unavailable (%s)",
                        self.failing,
                        describe(exc),
                    )
                else:  # a bug: its traceback
                    log.exception("alert dispatch round failed (%d in a row)", self.failing)
                attempted = 0
            if self._stopping.is_set():
                break
            if attempted:
                continue
            wait = self.poll_seconds * min(2**self.failing, 30)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)


def _split(breaker_key: str) -> tuple[str, str]:
    receiver, _, integration = breaker_key.partition("/")
    return receiver, integration


def _common_labels(label_sets: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not label_sets:
        return {}
    first = label_sets[0]
    return {
        k: v
        for k, v in sorted(first.items())
        if k in ("kind", "area", "cluster", "topic") and all(ls.get(k) == v for ls in label_sets)
    }
