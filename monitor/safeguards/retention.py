"""Retention: purge post text, then alert excerpts, when they pass their age; destroy retired
pseudonym keys; write a receipt to the audit log.

- Post text (and its embedding) goes `retention_days` after it was collected (default 30).
  The post row stays with its time, places, labels and scores: aggregates and tension
  baselines are kept.
- Alert excerpts go `alert_excerpt_retention_days` after they were added (default 365), with
  their copies in stored digests, the local mailbox and rumours' representative claims.
- Quarantined records (which may hold post text) go with post text, `retention_days` after
  they were first quarantined.
- Author keys of past periods are deleted, so pseudonyms made with them can never be linked.
- Tombstones of platform deletions (monitor/store/tombstones.py) go with the post text's period.
- With the classifier's on-disk encoding cache on (`classifier_encoding_cache`), the rows made
  from the purged texts go too (found from the text, before it is dropped), then the cache's
  own rows unused for `retention_days` (monitor/classify/disk_cache.py). A cache that cannot
  be updated does not stop the purge: the receipt says so (`encoding_cache_error`).

On SQLite the write-ahead log is checkpointed and truncated afterwards, and `secure_delete` (set
on every connection by `monitor.store.db`) has already zeroed the freed space, so the purged text
is in neither the database file nor its -wal file. On PostgreSQL the old row versions remain
until VACUUM reclaims them (autovacuum does, normally within minutes); see docs/dpia.md.

`purge` is one transaction: the receipt commits with the purge or not at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor.classify.disk_cache import EncodingCacheError, EncodingEraser
from monitor.config import Settings
from monitor.safeguards import audit
from monitor.store import quarantine as quarantine_store
from monitor.store import tombstones
from monitor.store.erase import erase_copies
from monitor.store.faults import describe, is_transient
from monitor.store.keys import period_start
from monitor.store.sqlite_connections import BUSY_WAIT_S
from monitor.store.tables import alert_posts, author_keys, posts, quarantine, rumours
from monitor.tasks import stop_task
from monitor.types import utcnow

log = logging.getLogger(__name__)

ACTOR = "system:retention"
PURGE_ACTION = "purge"  # the audit log's action for a purge's receipt
BATCH = 1000
# The pause between tries of a WAL checkpoint that found the store busy (`checkpoint`).
CHECKPOINT_RETRY_S = 0.1

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Policy:
    text_days: int = 30
    excerpt_days: int = 365
    key_rotation_days: int = 30

    def __post_init__(self) -> None:
        if self.text_days < 1 or self.excerpt_days < 1:
            raise ValueError("retention periods must be at least one day")

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            text_days=settings.retention_days,
            excerpt_days=settings.alert_excerpt_retention_days,
            key_rotation_days=settings.author_key_rotation_days,
        )


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What one purge did (or, with dry_run, would do)."""

    at: datetime
    dry_run: bool
    text_before: datetime
    excerpts_before: datetime
    posts_text_purged: int
    alert_excerpts_purged: int
    rumour_claims_cleared: int
    copies_scrubbed: int
    keys_destroyed: int
    tombstones_forgotten: int = 0
    wal_truncated: bool | None = None  # SQLite only: the -wal file emptied afterwards
    quarantine_purged: int = 0  # quarantined records (they may hold post text)
    # The on-disk encoding cache (when on): rows made from the purged texts, rows past its
    # own age or size bound, and why it could not be updated (None: it was, or it is off).
    encodings_forgotten: int = 0
    encodings_stale: int = 0
    encoding_cache_error: str | None = None

    def receipt(self) -> dict[str, object]:
        out = asdict(self)
        for key in ("at", "text_before", "excerpts_before"):
            out[key] = out[key].isoformat()
        return out


async def purge(
    engine: AsyncEngine,
    policy: Policy,
    now: datetime,
    *,
    dry_run: bool = False,
    actor: str = ACTOR,
    encodings: EncodingEraser | None = None,
) -> PurgeReport:
    """Purge everything past its retention period as of `now`; write the audit receipt.
    `encodings`: the classifier's on-disk encoding cache, purged with the text (not on a dry
    run)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    text_before = now - timedelta(days=policy.text_days)
    excerpts_before = now - timedelta(days=policy.excerpt_days)
    current_period = period_start(now, policy.key_rotation_days).isoformat()
    async with engine.begin() as conn:
        if dry_run:
            report = PurgeReport(
                at=now,
                dry_run=True,
                text_before=text_before,
                excerpts_before=excerpts_before,
                posts_text_purged=await _count(conn, _expired_text(text_before)),
                alert_excerpts_purged=await _count(conn, _expired_excerpts(excerpts_before)),
                rumour_claims_cleared=await _count(conn, _expired_claims(excerpts_before)),
                copies_scrubbed=0,
                keys_destroyed=await _count(
                    conn, select(author_keys.c.period).where(author_keys.c.period < current_period)
                ),
                quarantine_purged=await _count(
                    conn, select(quarantine.c.id).where(quarantine.c.first_at < text_before)
                ),
            )
            await conn.rollback()
            return report
        cache = _CachePurge(encodings)
        purged = await _purge_text(conn, text_before, now, cache)
        await cache.finish()
        excerpts, copies = await _purge_excerpts(conn, excerpts_before, now)
        claims = await _clear_claims(conn, excerpts_before, now)
        keys = await conn.execute(delete(author_keys).where(author_keys.c.period < current_period))
        held = await quarantine_store.purge(conn, text_before)
        forgotten = await tombstones.purge_expired(conn, text_before)
        report = PurgeReport(
            at=now,
            dry_run=False,
            text_before=text_before,
            excerpts_before=excerpts_before,
            posts_text_purged=purged,
            alert_excerpts_purged=excerpts,
            rumour_claims_cleared=claims,
            copies_scrubbed=copies,
            keys_destroyed=int(keys.rowcount or 0),
            quarantine_purged=held,
            tombstones_forgotten=forgotten,
            encodings_forgotten=cache.rows,
            encodings_stale=cache.stale,
            encoding_cache_error=cache.error,
        )
        await audit.record(
            conn,
            actor,
            PURGE_ACTION,
            f"retention policy: post text after {policy.text_days} days, alert excerpts after "
            f"{policy.excerpt_days} days, pseudonym keys after their period",
            report.receipt(),
            now,
        )
    truncated = await checkpoint(engine)
    return PurgeReport(**{**asdict(report), "wal_truncated": truncated})


async def checkpoint(engine: AsyncEngine) -> bool | None:
    """SQLite: copy the WAL into the database and truncate it, so no old page image holding
    purged text stays in the -wal file. True when it completed; None on other databases."""
    if engine.dialect.name != "sqlite":
        return None
    # SQLite waits one try (`BUSY_TRY_S`) for the write lock and for the readers, holding the
    # write lock while it waits for them, then answers busy: tried again, the writers it held
    # back going between, until `BUSY_WAIT_S` have passed (SQLite's one wait before); a stop
    # ends it within a try.
    loop = asyncio.get_running_loop()
    give_up_at = loop.time() + BUSY_WAIT_S
    while True:
        async with engine.connect() as conn:
            row = (await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))).first()
            await conn.commit()
        busy = bool(row and row[0])
        if not busy or loop.time() >= give_up_at:
            break
        await asyncio.sleep(CHECKPOINT_RETRY_S)
    if busy:
        log.warning("WAL checkpoint was blocked by a reader; the next purge will retry it")
    return not busy


def _expired_text(before: datetime, *, with_text: bool = False) -> Select[Any]:
    columns = (posts.c.id, posts.c.text) if with_text else (posts.c.id,)
    return select(*columns).where(posts.c.text.is_not(None), posts.c.collected_at < before)


def _expired_excerpts(before: datetime) -> Select[Any]:
    return select(alert_posts.c.post_id).where(
        alert_posts.c.excerpt.is_not(None), alert_posts.c.added_at < before
    )


def _expired_claims(before: datetime) -> Select[Any]:
    return select(rumours.c.id).where(rumours.c.representative != "", rumours.c.last_seen < before)


async def _count(conn: AsyncConnection, stmt: Select[Any]) -> int:
    sub = stmt.subquery()
    return int((await conn.execute(select(func.count()).select_from(sub))).scalar_one())


class _CachePurge:
    """The encoding cache's side of one purge: each batch's texts, then the stale rows and a
    checkpoint. The first failure is kept for the receipt and stops further attempts."""

    def __init__(self, eraser: EncodingEraser | None) -> None:
        self.eraser = eraser
        self.rows = 0
        self.stale = 0
        self.error: str | None = None

    async def forget(self, texts: list[str], *, last: bool = False) -> None:
        if self.eraser is None or self.error is not None:
            return
        try:
            done = await self.eraser.forget_async(texts, purge_stale=last, checkpoint=last)
        except EncodingCacheError as exc:
            self.error = str(exc)
            log.warning("retention purge: the encoding cache was not purged: %s", exc)
            return
        self.rows += done.rows
        self.stale += done.stale

    async def finish(self) -> None:
        await self.forget([], last=True)


async def _purge_text(
    conn: AsyncConnection, before: datetime, now: datetime, cache: _CachePurge
) -> int:
    total = 0
    while True:
        # The text too where the encoding cache is on: its rows are found by the text.
        expired = _expired_text(before, with_text=cache.eraser is not None)
        rows = (await conn.execute(expired.limit(BATCH))).all()
        if not rows:
            return total
        result = await conn.execute(
            update(posts)
            .where(posts.c.id.in_([r[0] for r in rows]))
            .values(text=None, embedding=None, text_purged_at=now)
        )
        total += int(result.rowcount or 0)
        if cache.eraser is not None:  # inside the transaction: before the text is gone
            await cache.forget([r[1] for r in rows])


async def _purge_excerpts(
    conn: AsyncConnection, before: datetime, now: datetime
) -> tuple[int, int]:
    rows = (
        await conn.execute(
            select(alert_posts.c.alert_id, alert_posts.c.post_id, alert_posts.c.excerpt).where(
                alert_posts.c.excerpt.is_not(None), alert_posts.c.added_at < before
            )
        )
    ).all()
    if not rows:
        return 0, 0
    copies = await erase_copies(conn, (), now, excerpts=[r.excerpt for r in rows])
    result = await conn.execute(
        update(alert_posts)
        .where(alert_posts.c.excerpt.is_not(None), alert_posts.c.added_at < before)
        .values(excerpt=None)
    )
    return int(result.rowcount or 0), copies


async def _clear_claims(conn: AsyncConnection, before: datetime, now: datetime) -> int:
    stale = (
        (
            await conn.execute(
                select(rumours.c.representative).where(
                    rumours.c.representative != "", rumours.c.last_seen < before
                )
            )
        )
        .scalars()
        .all()
    )
    if not stale:
        return 0
    await erase_copies(conn, (), now, excerpts=list(stale))
    result = await conn.execute(
        update(rumours)
        .where(rumours.c.representative != "", rumours.c.last_seen < before)
        .values(representative="", revision=rumours.c.revision + 1, updated_at=now)
    )
    return int(result.rowcount or 0)


# --- the periodic job inside `monitor run` -----------------------------------------------------


Job = Callable[[datetime], Awaitable[object]]


@contextlib.asynccontextmanager
async def periodic(
    name: str, every_seconds: float, job: Job, clock: Clock = utcnow, first_after: float = 0.0
) -> AsyncIterator[asyncio.Task[None]]:
    """Run `job(now)` after `first_after` seconds and then every `every_seconds` until the block
    exits. A failing run is logged and retried at the next tick: it must not stop the service
    (a store that is away in one line, anything else with its traceback)."""

    async def loop() -> None:
        await asyncio.sleep(first_after)
        while True:
            try:
                await job(clock())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_transient(exc):
                    # The store is away: one line a try, as the worker and leadership say it;
                    # a traceback of a hundred lines every minute of an outage buried the log.
                    log.warning(
                        "%s failed: the store is unavailable (%s); retrying in %.0f s",
                        name,
                        describe(exc),
                        every_seconds,
                    )
                else:  # a bug: its traceback
                    log.exception("%s failed; retrying in %.0f s", name, every_seconds)
            await asyncio.sleep(every_seconds)

    task = asyncio.create_task(loop(), name=name)
    try:
        yield task
    finally:
        # A job in flight is stopped too, however it waits (monitor/tasks.py): one that missed
        # its cancellation would run on, every tick, after the service said it stopped.
        await stop_task(task)


def purge_job(engine: AsyncEngine, policy: Policy, encodings: EncodingEraser | None = None) -> Job:
    async def run(now: datetime) -> PurgeReport:
        report = await purge(engine, policy, now, encodings=encodings)
        if report.posts_text_purged or report.alert_excerpts_purged or report.keys_destroyed:
            log.info("retention purge: %s", report.receipt())
        return report

    return run
