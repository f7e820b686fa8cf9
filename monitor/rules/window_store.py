"""Windowed-rule counts kept in the store, so that restarts and extra workers count the same.

`WindowState` (monitor/rules/engine.py) counts in memory: a restart, planned or not, forgets
every window, and each of several workers sees only its own share of the stream. Here each post
that met a windowed rule's per-post conditions is written as a `window_events` row (per window
key) inside the transaction that stores the post's results, and the reading — count, distinct
authors, velocity, rise over the key's baseline — is taken from those rows, with the same
arithmetic and the same firing test as the in-memory state.

A batch reads each (rule, key) it touches once: the stored events its windows can see, and the
stored baseline count per baseline span (on bucket edges, so one or two a batch). Each post's
reading is then taken in memory, from those plus the batch's own events before it. Reading the
window in SQL for every post cost O(posts in the window) a post: a copy-paste wave of 3,000
posts about one ward made every post's reading scan the whole wave (benchmarks/waves.py).

Several workers: on PostgreSQL each batch first takes a transaction-scoped advisory lock per
(rule, key) it will touch, in sorted order (no deadlocks), so a worker reads a window only after
any other worker's events for it have committed; SQLite has one writer at a time anyway.

Rows go once they are older than the window plus its baseline period.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.rules.engine import (
    WindowReading,
    WindowState,
    _bucket_size,
    _fires,
    window_hit,
    window_keys,
)
from monitor.rules.schema import RuleSpec, WindowSpec
from monitor.store.db import dialect_insert
from monitor.store.tables import UtcDateTime, window_events, window_rules
from monitor.types import Post, RuleHit

START = "*"  # the window_rules row that says when counting started


@dataclass(frozen=True, slots=True)
class Observation:
    """A post that met these windowed rules' per-post conditions, counted at `when`."""

    post: Post
    rules: tuple[RuleSpec, ...]
    when: dt.datetime
    clusters: tuple[str, ...] = ()


def signature(rule: RuleSpec) -> str:
    """Changes when anything that decides which posts count, or how, changes."""
    return hashlib.sha256(repr(WindowState._signature_of(rule)).encode()).hexdigest()


def _at(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def _epoch(t: dt.datetime) -> float:
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp()


def reading(
    spec: WindowSpec,
    key: str,
    t: float,
    started: float,
    count: int,
    distinct_authors: int,
    recent: int,
    past: int,
) -> WindowReading:
    """Pure: the window's reading from its counts (as `WindowState._read` computes it)."""
    within = spec.within.total_seconds()
    velocity = recent / (spec.velocity_within.total_seconds() / 3600.0)
    history = min(spec.baseline.total_seconds(), (t - within) - started)
    rise: float | None = None
    baseline: float | None = None
    if history >= within:
        baseline = past / (history / within)
        rise = count / max(baseline, spec.baseline_floor)
    return WindowReading(key, count, distinct_authors, velocity, rise, baseline)


def baseline_span(spec: WindowSpec, t: float, started: float) -> tuple[float, float] | None:
    """The [from, to) epoch span whose posts make the baseline, on bucket edges; None while
    the history is shorter than one window."""
    within = spec.within.total_seconds()
    history = min(spec.baseline.total_seconds(), (t - within) - started)
    if history < within:
        return None
    size = _bucket_size(spec)
    first = int((t - within - history) // size)
    last = int((t - within) // size)
    return first * size, last * size


_RULE_KEY = (
    window_events.c.rule_id == bindparam("rule_id"),
    window_events.c.key == bindparam("key"),
)
# Built once (building a statement per key cost more than running it). The events one key's
# windows can see in a batch, oldest first: (`lo`, `hi`] spans every window start and end.
_EVENTS = (
    select(window_events.c.at, window_events.c.author_ref)
    .where(
        *_RULE_KEY,
        window_events.c.at > bindparam("lo", type_=UtcDateTime()),
        window_events.c.at <= bindparam("hi", type_=UtcDateTime()),
    )
    .order_by(window_events.c.at)
)
# The stored posts in one baseline span [b_lo, b_hi).
_PAST = select(func.count()).where(
    *_RULE_KEY,
    window_events.c.at >= bindparam("b_lo", type_=UtcDateTime()),
    window_events.c.at < bindparam("b_hi", type_=UtcDateTime()),
)
# Which of the batch's posts this key already counted (the insert does nothing for them, so
# they must not be counted twice).
_COUNTED = select(window_events.c.post_id).where(
    *_RULE_KEY, window_events.c.post_id.in_(bindparam("ids", expanding=True))
)


@dataclass(slots=True)
class _Count:
    """One post counted for one rule and key: its reading's bounds, as the store compares them."""

    obs: Observation
    rule: RuleSpec
    spec: WindowSpec
    key: str
    name: str
    t: float
    lo: dt.datetime  # window (lo, hi]
    hi: dt.datetime
    vlo: dt.datetime  # velocity window (vlo, hi]
    span: tuple[dt.datetime, dt.datetime] | None  # baseline [from, to), None while warming up
    new: bool = True  # False: the store already counted this post for this key


@dataclass(slots=True)
class _Series:
    """One rule and key's events within one batch: the stored ones its windows can see and the
    batch's own as they are counted, sorted by time; readings are bisections on these."""

    times: list[dt.datetime]
    authors: list[str]  # parallel to times; only ever counted
    past: dict[tuple[dt.datetime, dt.datetime], int]  # baseline span -> stored posts in it
    added: list[dt.datetime] = field(default_factory=list)  # the batch's own, sorted
    # Authors in times[lo:hi], moved from one reading's window to the next: a wave read in
    # time order moves them a post or two, where counting the window afresh would cost
    # O(window) a post, the cost this module's reading in memory is there to remove.
    lo: int = 0
    hi: int = 0
    counted: Counter[str] = field(default_factory=Counter)

    def add(self, at: dt.datetime, author: str) -> None:
        k = bisect.bisect_right(self.times, at)
        self.times.insert(k, at)
        self.authors.insert(k, author)
        if k < self.lo:
            self.lo += 1
            self.hi += 1
        elif k <= self.hi:  # inside (or at the end of) the counted slice: it stays one slice
            self.hi += 1
            self.counted[author] += 1
        bisect.insort(self.added, at)

    def distinct(self, a: int, b: int) -> int:
        """Distinct authors in times[a:b]. Grows the counted slice before shrinking it, so it
        never turns inside out."""
        authors, counted = self.authors, self.counted
        while self.hi < b:
            counted[authors[self.hi]] += 1
            self.hi += 1
        while self.lo > a:
            self.lo -= 1
            counted[authors[self.lo]] += 1
        while self.lo < a:
            _uncount(counted, authors[self.lo])
            self.lo += 1
        while self.hi > b:
            self.hi -= 1
            _uncount(counted, authors[self.hi])
        return len(counted)

    def read(self, c: _Count, started: float) -> WindowReading:
        """The reading the store's rows give for `c`: count, authors and velocity over (lo, hi]
        and (vlo, hi], the baseline over [from, to) (the stored part counted in SQL)."""
        times = self.times
        a = bisect.bisect_right(times, c.lo)
        b = bisect.bisect_right(times, c.hi)
        recent = b - bisect.bisect_right(times, c.vlo)
        past = 0
        if c.span is not None:
            b_lo, b_hi = c.span
            added = self.added
            past = self.past[c.span] + bisect.bisect_left(added, b_hi)
            past -= bisect.bisect_left(added, b_lo)
        return reading(c.spec, c.key, c.t, started, b - a, self.distinct(a, b), recent, past)


def _uncount(counted: Counter[str], author: str) -> None:
    left = counted[author] - 1
    if left:
        counted[author] = left
    else:
        del counted[author]


class StoredWindows:
    """Observes batches of posts against the windows kept in the store."""

    def __init__(self) -> None:
        self._signatures: dict[str, str] = {}  # rule id -> signature this process checked

    async def observe(
        self, conn: AsyncConnection, observations: Sequence[Observation]
    ) -> dict[str, list[RuleHit]]:
        """Count each post for each windowed rule it met, in order; post id -> window hits."""
        work = [o for o in observations if o.rules]
        if not work:
            return {}
        pairs = sorted(
            {
                (rule.id, key)
                for o in work
                for rule in o.rules
                if rule.window is not None
                for key in window_keys(rule.window, o.post.places, o.clusters)
            }
        )
        if conn.dialect.name == "postgresql":
            for rule_id, key in pairs:
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                    {"k": f"window|{rule_id}|{key}"},
                )
        started = await self._started(conn, work[0].when)  # as WindowState: the first seen
        rules = {r.id: r for o in work for r in o.rules}
        await self._check_signatures(conn, list(rules.values()))
        counts = self._plan(work, started)
        series = await self._series(conn, counts)
        insert = dialect_insert(conn, window_events).on_conflict_do_nothing()
        rows = [
            {
                "rule_id": c.rule.id,
                "key": c.key,
                "post_id": c.obs.post.id,
                "at": c.obs.when,
                "author_ref": c.obs.post.author_ref,
            }
            for c in counts
            if c.new
        ]
        if rows:
            await conn.execute(insert, rows)
        hits: dict[str, list[RuleHit]] = {}
        for c in counts:  # in the batch's order: each post's reading sees the posts before it
            s = series[c.rule.id, c.key]
            if c.new:
                s.add(c.obs.when, c.obs.post.author_ref)
            fired, reason = _fires(c.spec, s.read(c, started), c.name)
            if fired:
                hits.setdefault(c.obs.post.id, []).append(window_hit(c.rule, c.name, reason))
        await self._prune(conn, list(rules.values()), max(_epoch(o.when) for o in work))
        return hits

    async def _started(self, conn: AsyncConnection, first: dt.datetime) -> float:
        await conn.execute(
            dialect_insert(conn, window_rules)
            .values(rule_id=START, signature="", started_at=first)
            .on_conflict_do_nothing(index_elements=["rule_id"])
        )
        row = await conn.execute(
            select(window_rules.c.started_at).where(window_rules.c.rule_id == START)
        )
        return _epoch(row.scalar_one())

    async def _check_signatures(self, conn: AsyncConnection, rules: Sequence[RuleSpec]) -> None:
        """A rule edited since its counts were kept starts counting again (as a reload does)."""
        todo = {r.id: signature(r) for r in rules if self._signatures.get(r.id) != signature(r)}
        if not todo:
            return
        stored = dict(
            (
                await conn.execute(
                    select(window_rules.c.rule_id, window_rules.c.signature).where(
                        window_rules.c.rule_id.in_(list(todo))
                    )
                )
            ).all()
        )
        now = dt.datetime.now(dt.UTC)  # only when the row was made; never read as time
        for rule_id, sig in todo.items():
            if rule_id not in stored:
                await conn.execute(
                    dialect_insert(conn, window_rules)
                    .values(rule_id=rule_id, signature=sig, started_at=now)
                    .on_conflict_do_nothing(index_elements=["rule_id"])
                )
            elif stored[rule_id] != sig:
                await conn.execute(delete(window_events).where(window_events.c.rule_id == rule_id))
                await conn.execute(
                    update(window_rules)
                    .where(window_rules.c.rule_id == rule_id)
                    .values(signature=sig)
                )
            self._signatures[rule_id] = sig

    @staticmethod
    def _plan(work: Sequence[Observation], started: float) -> list[_Count]:
        """Each post's counts, in order, with the bounds its readings compare times with
        (the same datetimes the store compared when it read each post's window in SQL)."""
        counts = []
        seen: set[tuple[str, str, str]] = set()
        for o in work:
            t = _epoch(o.when)
            for rule in o.rules:
                spec = rule.window
                if spec is None:
                    continue
                span = baseline_span(spec, t, started)
                for key, name in window_keys(spec, o.post.places, o.clusters).items():
                    first = (rule.id, key, o.post.id) not in seen
                    seen.add((rule.id, key, o.post.id))
                    counts.append(
                        _Count(
                            o, rule, spec, key, name, t,
                            lo=_at(t - spec.within.total_seconds()),
                            hi=_at(t),
                            vlo=_at(t - spec.velocity_within.total_seconds()),
                            span=None if span is None else (_at(span[0]), _at(span[1])),
                            new=first,
                        )
                    )  # fmt: skip
        return counts

    async def _series(
        self, conn: AsyncConnection, counts: Sequence[_Count]
    ) -> dict[tuple[str, str], _Series]:
        """Read once per rule and key, before the batch's rows are inserted: the events its
        windows can see, the stored baseline per span, and which posts it already counted."""
        by_key: dict[tuple[str, str], list[_Count]] = {}
        for c in counts:
            by_key.setdefault((c.rule.id, c.key), []).append(c)
        out = {}
        for (rule_id, key), cs in by_key.items():
            ids = {"rule_id": rule_id, "key": key}
            lo = min(min(c.lo, c.vlo) for c in cs)
            hi = max(c.hi for c in cs)
            rows = (await conn.execute(_EVENTS, {**ids, "lo": lo, "hi": hi})).all()
            past = {}
            for span in {c.span for c in cs if c.span is not None}:
                params = {**ids, "b_lo": span[0], "b_hi": span[1]}
                past[span] = int((await conn.execute(_PAST, params)).scalar_one())
            posts = sorted({c.obs.post.id for c in cs})
            counted: set[str] = set()
            for i in range(0, len(posts), 500):  # bound the statement's parameters
                found = await conn.execute(_COUNTED, {**ids, "ids": posts[i : i + 500]})
                counted.update(found.scalars())
            for c in cs:
                c.new = c.new and c.obs.post.id not in counted
            out[rule_id, key] = _Series([r[0] for r in rows], [r[1] for r in rows], past)
        return out

    async def _prune(self, conn: AsyncConnection, rules: Sequence[RuleSpec], t: float) -> None:
        for rule in rules:
            spec = rule.window
            if spec is None:
                continue
            keep = 2 * spec.within.total_seconds() + spec.baseline.total_seconds()
            await conn.execute(
                delete(window_events).where(
                    window_events.c.rule_id == rule.id, window_events.c.at < _at(t - keep)
                )
            )
