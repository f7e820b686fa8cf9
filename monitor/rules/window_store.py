"""Windowed-rule counts kept in the store, so that restarts and extra workers count the same.

`WindowState` (monitor/rules/engine.py) counts in memory: a restart, planned or not, forgets
every window, and each of several workers sees only its own share of the stream. Here each post
that met a windowed rule's per-post conditions is written as a `window_events` row (per window
key) inside the transaction that stores the post's results, and the reading — count, distinct
authors, velocity, rise over the key's baseline — is taken from those rows, with the same
arithmetic and the same firing test as the in-memory state.

Several workers: on PostgreSQL each batch first takes a transaction-scoped advisory lock per
(rule, key) it will touch, in sorted order (no deadlocks), so a worker reads a window only after
any other worker's events for it have committed; SQLite has one writer at a time anyway.

Rows go once they are older than the window plus its baseline period.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, bindparam, case, delete, distinct, func, select, text, update
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


def _read_statement(with_baseline: bool) -> Select[Any]:
    """A window's counts for one key at one time, built once: a post's reading runs it for
    each windowed rule and key the post meets, and building it each time cost more than
    running it. `:floor` is the oldest time any of the counts looks at."""
    at = window_events.c.at
    hi = bindparam("hi", type_=UtcDateTime())
    in_window = and_(at > bindparam("lo", type_=UtcDateTime()), at <= hi)
    cols = [
        func.sum(case((in_window, 1), else_=0)),
        func.count(distinct(case((in_window, window_events.c.author_ref)))),
        func.sum(case((and_(at > bindparam("vlo", type_=UtcDateTime()), at <= hi), 1), else_=0)),
    ]
    floor = bindparam("floor", type_=UtcDateTime())
    if with_baseline:
        b_lo, b_hi = bindparam("b_lo", type_=UtcDateTime()), bindparam("b_hi", type_=UtcDateTime())
        cols.append(func.sum(case((and_(at >= b_lo, at < b_hi), 1), else_=0)))
    return select(*cols).where(
        window_events.c.rule_id == bindparam("rule_id"),
        window_events.c.key == bindparam("key"),
        at >= floor if with_baseline else at > floor,
        at <= hi,
    )


_READ = {False: _read_statement(False), True: _read_statement(True)}


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
        hits: dict[str, list[RuleHit]] = {}
        insert = dialect_insert(conn, window_events).on_conflict_do_nothing()
        for o in work:
            t = _epoch(o.when)
            for rule in o.rules:
                spec = rule.window
                if spec is None:
                    continue
                for key, name in window_keys(spec, o.post.places, o.clusters).items():
                    await conn.execute(
                        insert,
                        {
                            "rule_id": rule.id,
                            "key": key,
                            "post_id": o.post.id,
                            "at": o.when,
                            "author_ref": o.post.author_ref,
                        },
                    )
                    r = await self._read(conn, rule.id, spec, key, t, started)
                    fired, reason = _fires(spec, r, name)
                    if fired:
                        hits.setdefault(o.post.id, []).append(window_hit(rule, name, reason))
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

    async def _read(
        self,
        conn: AsyncConnection,
        rule_id: str,
        spec: WindowSpec,
        key: str,
        t: float,
        started: float,
    ) -> WindowReading:
        within = spec.within.total_seconds()
        lo, hi = _at(t - within), _at(t)
        vlo = _at(t - spec.velocity_within.total_seconds())
        span = baseline_span(spec, t, started)
        params = {"rule_id": rule_id, "key": key, "lo": lo, "hi": hi, "vlo": vlo}
        if span is None:
            params["floor"] = min(lo, vlo)
        else:
            b_lo, b_hi = _at(span[0]), _at(span[1])
            params.update(b_lo=b_lo, b_hi=b_hi, floor=min(lo, vlo, b_lo))
        row = (await conn.execute(_READ[span is not None], params)).one()
        count, authors, recent = (int(v or 0) for v in row[:3])
        past = int(row[3] or 0) if span is not None else 0
        return reading(spec, key, t, started, count, authors, recent, past)

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
