"""Queries for signals: area aggregates and levels, level changes, rumours, their posts, claims
people registered, counter messages, and the alerts signals open.

Authors appear only as distinct counts: no query here returns an author reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, distinct, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.store.alerts import excerpt, open_alert
from monitor.store.db import dialect_insert
from monitor.store.tables import (
    alert_posts,
    alerts,
    area_counts,
    area_levels,
    counter_messages,
    level_changes,
    place_matches,
    post_labels,
    posts,
    rumour_claims,
    rumour_posts,
    rumours,
    sources,
)
from monitor.types import Processed, RuleHit, as_utc

# Where a signals follower stands: the (processed_at, post id) of the last post it took up.
Cursor = tuple[datetime, str]


SIGNAL_TABLES = (
    "rumours",
    "rumour_posts",
    "rumour_claims",
    "counter_messages",
    "area_levels",
    "level_changes",
)

# --- tension: aggregates, levels, changes ------------------------------------------------------


async def add_area_counts(
    conn: AsyncConnection, counts: Mapping[tuple[str, datetime], tuple[int, int, float]]
) -> None:
    """Add hourly (posts, flagged, weighted) to each (area, hour); rows are kept after post
    text is purged, for baselines."""
    if not counts:
        return
    stmt = dialect_insert(conn, area_counts)
    stmt = stmt.on_conflict_do_update(
        index_elements=["area", "hour"],
        set_={
            "posts": area_counts.c.posts + stmt.excluded.posts,
            "flagged": area_counts.c.flagged + stmt.excluded.flagged,
            "weighted": area_counts.c.weighted + stmt.excluded.weighted,
        },
    )
    rows = [
        {"area": area, "hour": hour, "posts": p, "flagged": f, "weighted": w}
        for (area, hour), (p, f, w) in sorted(counts.items())
    ]
    await conn.execute(stmt, rows)


async def load_area_weights(
    conn: AsyncConnection, since: datetime
) -> list[tuple[str, datetime, float]]:
    stmt = select(area_counts.c.area, area_counts.c.hour, area_counts.c.weighted).where(
        area_counts.c.hour >= since, area_counts.c.weighted > 0
    )
    return [(r.area, r.hour, float(r.weighted)) for r in (await conn.execute(stmt)).all()]


async def first_hour(conn: AsyncConnection) -> datetime | None:
    value: datetime | str | None = (
        await conn.execute(select(func.min(area_counts.c.hour)))
    ).scalar_one()
    return as_utc(value)


async def save_levels(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Upsert area_levels rows (area, area_kind, name, level, level_name, since, below_since,
    measures, updated_at)."""
    if not rows:
        return
    stmt = dialect_insert(conn, area_levels)
    stmt = stmt.on_conflict_do_update(
        index_elements=["area"],
        set_={
            c: getattr(stmt.excluded, c)
            for c in ("level", "level_name", "since", "below_since", "measures", "updated_at")
        },
    )
    await conn.execute(stmt, [dict(r) for r in rows])


async def load_levels(conn: AsyncConnection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in (await conn.execute(select(area_levels))).all()]


async def insert_level_change(conn: AsyncConnection, row: Mapping[str, Any]) -> int:
    result = await conn.execute(level_changes.insert().values(**row).returning(level_changes.c.id))
    return int(result.scalar_one())


async def list_levels(
    conn: AsyncConnection, kind: str | None = None, min_level: int = 0
) -> list[dict[str, Any]]:
    stmt = select(area_levels).where(area_levels.c.level >= min_level)
    if kind:
        stmt = stmt.where(area_levels.c.area_kind == kind)
    stmt = stmt.order_by(area_levels.c.level.desc(), area_levels.c.area_kind, area_levels.c.name)
    return [dict(r._mapping) for r in (await conn.execute(stmt)).all()]


async def list_level_changes(
    conn: AsyncConnection, area: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    stmt = select(level_changes)
    if area:
        stmt = stmt.where((level_changes.c.area == area) | (level_changes.c.name == area))
    stmt = stmt.order_by(level_changes.c.at.desc(), level_changes.c.id.desc()).limit(limit)
    return [dict(r._mapping) for r in (await conn.execute(stmt)).all()]


def seen_by(upto: Cursor | None) -> ColumnElement[bool]:
    """Processed posts the signals have taken up: all of them inline (`upto` None), or, for a
    follower, those up to its cursor in (processed_at, id) order."""
    if upto is None:
        return posts.c.processed_at.is_not(None)
    at, post_id = upto
    return or_(posts.c.processed_at < at, and_(posts.c.processed_at == at, posts.c.id <= post_id))


async def watermark(
    conn: AsyncConnection, exclude: Iterable[str] = (), upto: Cursor | None = None
) -> datetime | None:
    """The latest post time already processed (but for the batch in hand, `exclude`; and for
    a follower, only up to its cursor `upto`): where the signals clock stood when they last
    ran.

    A post dated after it was processed counted at its processing time (clocks disagree; see
    `SignalsEngine.observe`), and so it counts here. Taken at its own date, one post dated a
    day ahead (ingest allows that much) put the clock restored at a restart a day ahead, and
    no level was evaluated for the day's real posts until the clock caught up."""
    counted_at = case(
        (posts.c.created_at > posts.c.processed_at, posts.c.processed_at),
        else_=posts.c.created_at,
    )
    stmt = select(func.max(counted_at)).where(seen_by(upto))
    excluded = list(exclude)
    if excluded:
        stmt = stmt.where(posts.c.id.not_in(excluded))
    latest: datetime | str | None = (await conn.execute(stmt)).scalar_one()
    return as_utc(latest)


@dataclass(frozen=True, slots=True)
class StoredPost:
    """A processed post as signals needs it to rebuild a window after a restart."""

    id: str
    created_at: datetime
    author_ref: str
    flags: tuple[str, ...]
    hits: tuple[RuleHit, ...]
    places: tuple[Any, ...]  # PlaceMatch-like rows
    text: str = ""  # to tell a response (calming, denial, ...) again; "" once purged


async def processed_posts_between(
    conn: AsyncConnection, start: datetime, end: datetime, upto: Cursor | None = None
) -> list[StoredPost]:
    """Posts the signals have taken up (see `seen_by`) dated in (start, end]."""
    from monitor.types import PlaceMatch

    rows = (
        await conn.execute(
            select(posts.c.id, posts.c.created_at, posts.c.author_ref, posts.c.flags, posts.c.text)
            .where(
                seen_by(upto),
                posts.c.created_at > start,
                posts.c.created_at <= end,
            )
            .order_by(posts.c.created_at)
        )
    ).all()
    ids = [r.id for r in rows]
    hits = await _rule_hits(conn, ids)
    places: dict[str, list[PlaceMatch]] = {}
    for chunk in _chunks(ids, 500):
        for m in (
            await conn.execute(select(place_matches).where(place_matches.c.post_id.in_(chunk)))
        ).all():
            places.setdefault(m.post_id, []).append(
                PlaceMatch(m.place_id, m.name, m.kind, m.ward, m.locality, m.district, m.matched)
            )
    return [
        StoredPost(
            id=r.id,
            created_at=as_utc(r.created_at),
            author_ref=r.author_ref,
            flags=tuple(r.flags or ()),
            hits=hits.get(r.id, ()),
            places=tuple(places.get(r.id, ())),
            text=r.text or "",
        )
        for r in rows
    ]


# --- rumours: the stage's writes ---------------------------------------------------------------


async def save_rumours(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Upsert rumour rows as the stage holds them. Each row carries the `revision` the stage
    last saw; when a person has changed the rumour since (a higher revision in the store), the
    person's status stands and the stage takes it up at its next batch."""
    if not rows:
        return
    stmt = dialect_insert(conn, rumours)
    guarded = ("status", "closed_at", "merged_into")  # a person's merge stands too
    keep = {"id", "created_at", "revision", *guarded}
    columns = [c for c in rows[0] if c not in keep]
    set_: dict[str, Any] = {c: getattr(stmt.excluded, c) for c in columns}
    for c in (g for g in guarded if g in rows[0]):
        set_[c] = case(
            (rumours.c.revision == stmt.excluded.revision, getattr(stmt.excluded, c)),
            else_=getattr(rumours.c, c),
        )
    stmt = stmt.on_conflict_do_update(index_elements=["id"], set_=set_)
    await conn.execute(stmt, [dict(r) for r in rows])


async def add_memberships(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Add rows; a post's first row in a rumour stays, except that talk that stayed out
    ("near") becomes a member when the claims it answers come (it waited for them)."""
    if not rows:
        return
    kept: dict[tuple[Any, Any], dict[str, Any]] = {}
    for r in rows:
        key = (r["rumour_id"], r["post_id"])
        if key not in kept or (kept[key].get("state") == "near" and r.get("state") != "near"):
            kept[key] = dict(r)
    stmt = dialect_insert(conn, rumour_posts)
    updated = ("created_at", "how", "similarity", "stance", "place", "state", "added_at")
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["rumour_id", "post_id"],
            set_={c: stmt.excluded[c] for c in updated},
            where=(rumour_posts.c.state == "near") & (stmt.excluded.state != "near"),
        ),
        list(kept.values()),
    )


async def repoint_merged(conn: AsyncConnection, source: int, target: int) -> None:
    """A merged cluster's posts now belong to the cluster it merged into."""
    already = select(rumour_posts.c.post_id).where(rumour_posts.c.rumour_id == target)
    await conn.execute(
        update(rumour_posts)
        .where(rumour_posts.c.rumour_id == source, rumour_posts.c.post_id.not_in(already))
        .values(rumour_id=target)
    )
    await conn.execute(rumour_posts.delete().where(rumour_posts.c.rumour_id == source))
    await conn.execute(
        update(counter_messages)
        .where(counter_messages.c.rumour_id == source)
        .values(rumour_id=target)
    )


async def move_members(conn: AsyncConnection, target: int, post_ids: Sequence[str]) -> None:
    """These posts' memberships (whatever rumour holds them now, merges applied) move to
    `target`: late claims judged again in event-time order, and their replies. Rows of
    `target` that held them as talk or pending give way to the membership."""
    for i in range(0, len(post_ids), 500):
        chunk = list(post_ids[i : i + 500])
        await conn.execute(
            rumour_posts.delete().where(
                rumour_posts.c.rumour_id == target,
                rumour_posts.c.post_id.in_(chunk),
                rumour_posts.c.state != "member",
            )
        )
        await conn.execute(
            update(rumour_posts)
            .where(
                rumour_posts.c.rumour_id != target,
                rumour_posts.c.post_id.in_(chunk),
                rumour_posts.c.state == "member",
            )
            .values(rumour_id=target)
        )


async def move_split(
    conn: AsyncConnection, source: int, target: int, post_ids: Sequence[str]
) -> None:
    """A split: these members of `source` (its diverged claims and their replies) now belong
    to the rumour split off it. Its talk rows ("near") stay with `source`."""
    for i in range(0, len(post_ids), 500):
        chunk = list(post_ids[i : i + 500])
        await conn.execute(
            update(rumour_posts)
            .where(rumour_posts.c.rumour_id == source, rumour_posts.c.post_id.in_(chunk))
            .values(rumour_id=target)
        )


async def open_claims(conn: AsyncConnection) -> list[tuple[int, str]]:
    stmt = (
        select(rumour_claims.c.id, rumour_claims.c.claim_text)
        .where(rumour_claims.c.rumour_id.is_(None))
        .order_by(rumour_claims.c.id)
    )
    return [(r.id, r.claim_text) for r in (await conn.execute(stmt)).all()]


async def take_claim(conn: AsyncConnection, claim_id: int, rumour_id: int, now: datetime) -> None:
    await conn.execute(
        update(rumour_claims)
        .where(rumour_claims.c.id == claim_id)
        .values(rumour_id=rumour_id, taken_at=now)
    )


async def revisions(conn: AsyncConnection) -> dict[int, int]:
    """Rumours people have changed, with their revision (a small set: only people's edits)."""
    stmt = select(rumours.c.id, rumours.c.revision).where(rumours.c.revision > 0)
    return {r.id: int(r.revision) for r in (await conn.execute(stmt)).all()}


async def max_rumour_id(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.max(rumours.c.id)))).scalar_one() or 0)


async def load_rumour_rows(
    conn: AsyncConnection, ids: Iterable[int] | None = None, *, live_only: bool = True
) -> list[dict[str, Any]]:
    stmt = select(rumours)
    if live_only:
        stmt = stmt.where(rumours.c.status != "closed")
    if ids is not None:
        stmt = stmt.where(rumours.c.id.in_(list(ids)))
    return [dict(r._mapping) for r in (await conn.execute(stmt.order_by(rumours.c.id))).all()]


@dataclass(frozen=True, slots=True)
class MemberRow:
    rumour_id: int
    post_id: str
    created_at: datetime
    stance: str
    place: str | None
    author_ref: str  # used in-process for distinct counts only; never returned to a caller
    similarity: float = 0.0  # how close it was when it joined
    how: str = ""  # link | duplicate | claim | similar | new | near
    state: str = "member"


async def load_members(
    conn: AsyncConnection, ids: Sequence[int], states: Sequence[str] = ("member",)
) -> list[MemberRow]:
    """Rows of these rumours in the given states (`near`: talk that stayed out)."""
    out: list[MemberRow] = []
    for chunk in _chunks(list(ids), 500):
        stmt = (
            select(
                rumour_posts.c.rumour_id,
                rumour_posts.c.post_id,
                rumour_posts.c.created_at,
                rumour_posts.c.stance,
                rumour_posts.c.place,
                posts.c.author_ref,
                rumour_posts.c.similarity,
                rumour_posts.c.how,
                rumour_posts.c.state,
            )
            .select_from(rumour_posts.join(posts, posts.c.id == rumour_posts.c.post_id))
            .where(rumour_posts.c.rumour_id.in_(chunk), rumour_posts.c.state.in_(states))
            .order_by(rumour_posts.c.created_at)
        )
        for r in (await conn.execute(stmt)).all():
            out.append(
                MemberRow(
                    r.rumour_id,
                    r.post_id,
                    as_utc(r.created_at),
                    r.stance,
                    r.place,
                    r.author_ref,
                    float(r.similarity or 0.0),
                    r.how or "",
                    r.state,
                )
            )
    return out


# --- rumours: what people do -------------------------------------------------------------------


async def register_claim(conn: AsyncConnection, text: str, by: str, now: datetime) -> int:
    result = await conn.execute(
        rumour_claims.insert()
        .values(claim_text=text, created_by=by, created_at=now)
        .returning(rumour_claims.c.id)
    )
    return int(result.scalar_one())


async def claim(conn: AsyncConnection, claim_id: int) -> dict[str, Any] | None:
    row = (await conn.execute(select(rumour_claims).where(rumour_claims.c.id == claim_id))).first()
    return None if row is None else dict(row._mapping)


async def set_status(conn: AsyncConnection, rumour_id: int, status: str, now: datetime) -> None:
    values: dict[str, Any] = {
        "status": status,
        "revision": rumours.c.revision + 1,
        "updated_at": now,
    }
    values["closed_at"] = now if status == "closed" else None
    await conn.execute(update(rumours).where(rumours.c.id == rumour_id).values(**values))


async def add_counter(
    conn: AsyncConnection,
    rumour_id: int,
    published_at: datetime,
    *,
    by: str,
    now: datetime,
    text: str | None = None,
    url: str | None = None,
    channel: str | None = None,
) -> int:
    result = await conn.execute(
        counter_messages.insert()
        .values(
            rumour_id=rumour_id,
            published_at=published_at,
            text=text,
            url=url,
            channel=channel,
            created_by=by,
            created_at=now,
        )
        .returning(counter_messages.c.id)
    )
    return int(result.scalar_one())


async def decide_pending(
    conn: AsyncConnection, rumour_id: int, post_id: str, accept: bool, by: str, now: datetime
) -> bool:
    """A person confirms (or rejects) a post held in a registered rumour's confirmation band."""
    result = await conn.execute(
        update(rumour_posts)
        .where(
            rumour_posts.c.rumour_id == rumour_id,
            rumour_posts.c.post_id == post_id,
            rumour_posts.c.state == "pending",
        )
        .values(state="member" if accept else "rejected", decided_by=by, stance="support")
    )
    if not result.rowcount:
        return False
    await conn.execute(
        update(rumours)
        .where(rumours.c.id == rumour_id)
        .values(revision=rumours.c.revision + 1, updated_at=now)
    )
    return True


# --- rumours: reads for people -----------------------------------------------------------------


def on_board() -> ColumnElement[bool]:
    """The rumour board: rumours that spread (watching, countering) or that people
    registered. A cluster still `new` has not passed the spreading conditions (posts, authors,
    places, mostly claims): a candidate, listed only when asked for by status."""
    return (rumours.c.status != "closed") & (
        (rumours.c.status != "new") | rumours.c.registered.is_(True)
    )


async def list_rumours(
    conn: AsyncConnection, status: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    stmt = select(
        *[c for c in rumours.c if c.name not in ("centroid", "anchor", "simhashes")]
    ).where(rumours.c.merged_into.is_(None))
    if status:
        stmt = stmt.where(rumours.c.status == status)
    else:
        stmt = stmt.where(on_board())
    stmt = stmt.order_by(
        rumours.c.spreading.desc(),
        rumours.c.velocity.desc(),
        rumours.c.post_count.desc(),
        rumours.c.id,
    )
    return [dict(r._mapping) for r in (await conn.execute(stmt.limit(limit))).all()]


async def rumour(conn: AsyncConnection, rumour_id: int) -> dict[str, Any] | None:
    stmt = select(*[c for c in rumours.c if c.name not in ("centroid", "anchor", "simhashes")])
    row = (await conn.execute(stmt.where(rumours.c.id == rumour_id))).first()
    return None if row is None else dict(row._mapping)


async def rumour_timeline(conn: AsyncConnection, rumour_id: int) -> list[dict[str, Any]]:
    """Posts and distinct authors per hour (counts only)."""
    rows = (
        await conn.execute(
            select(rumour_posts.c.created_at, posts.c.author_ref)
            .select_from(rumour_posts.join(posts, posts.c.id == rumour_posts.c.post_id))
            .where(rumour_posts.c.rumour_id == rumour_id, rumour_posts.c.state == "member")
        )
    ).all()
    hours: dict[datetime, tuple[int, set[str]]] = {}
    for r in rows:
        at = as_utc(r.created_at)
        hour = at.replace(minute=0, second=0, microsecond=0)
        n, authors = hours.get(hour, (0, set()))
        authors.add(r.author_ref)
        hours[hour] = (n + 1, authors)
    return [
        {"hour": h, "posts": n, "distinct_authors": len(a)} for h, (n, a) in sorted(hours.items())
    ]


async def member_times(conn: AsyncConnection, rumour_id: int) -> list[datetime]:
    stmt = select(rumour_posts.c.created_at).where(
        rumour_posts.c.rumour_id == rumour_id, rumour_posts.c.state == "member"
    )
    return [as_utc(t) for t in (await conn.execute(stmt)).scalars().all()]


async def counters(conn: AsyncConnection, rumour_id: int) -> list[dict[str, Any]]:
    stmt = (
        select(counter_messages)
        .where(counter_messages.c.rumour_id == rumour_id)
        .order_by(counter_messages.c.published_at)
    )
    return [dict(r._mapping) for r in (await conn.execute(stmt)).all()]


async def pending(conn: AsyncConnection, rumour_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """Posts awaiting a person's confirmation: id, time, similarity and an excerpt."""
    stmt = (
        select(
            rumour_posts.c.post_id,
            rumour_posts.c.created_at,
            rumour_posts.c.similarity,
            posts.c.text,
        )
        .select_from(rumour_posts.join(posts, posts.c.id == rumour_posts.c.post_id))
        .where(rumour_posts.c.rumour_id == rumour_id, rumour_posts.c.state == "pending")
        .order_by(rumour_posts.c.similarity.desc())
        .limit(limit)
    )
    return [
        {
            "post_id": r.post_id,
            "created_at": as_utc(r.created_at),
            "similarity": float(r.similarity),
            "excerpt": excerpt(r.text) if r.text else None,
        }
        for r in (await conn.execute(stmt)).all()
    ]


async def distinct_authors(conn: AsyncConnection, rumour_id: int) -> int:
    stmt = (
        select(func.count(distinct(posts.c.author_ref)))
        .select_from(rumour_posts.join(posts, posts.c.id == rumour_posts.c.post_id))
        .where(rumour_posts.c.rumour_id == rumour_id, rumour_posts.c.state == "member")
    )
    return int((await conn.execute(stmt)).scalar_one())


# --- alerts the signals raise ------------------------------------------------------------------


async def record_signal_alert(
    conn: AsyncConnection,
    key: str,
    labels: Mapping[str, str],
    summary: str,
    evidence: Sequence[str],
    at: datetime,
    origin: str,
    now: datetime,
) -> int:
    """Open an alert for a signal, or extend the open one with the same key: new labels (a
    higher level) and summary, and the evidence posts it does not have yet."""
    alert_id, opened = await open_alert(conn, key, labels, summary, at, now)
    if not opened:
        await conn.execute(
            update(alerts)
            .where(alerts.c.id == alert_id)
            .values(labels=dict(labels), summary=summary, last_seen=at, updated_at=now)
        )
    texts: dict[str, str | None] = {}
    for chunk in _chunks(list(evidence), 500):
        for r in (
            await conn.execute(select(posts.c.id, posts.c.text).where(posts.c.id.in_(chunk)))
        ).all():
            texts[r.id] = r.text
    added = 0
    for post_id in evidence:
        if post_id not in texts:
            continue
        text = texts[post_id]
        result = await conn.execute(
            dialect_insert(conn, alert_posts)
            .values(
                alert_id=alert_id,
                post_id=post_id,
                excerpt=excerpt(text) if text else None,
                rules=[origin],
                added_at=now,
            )
            .on_conflict_do_nothing(index_elements=["alert_id", "post_id"])
        )
        added += int(result.rowcount or 0)
    if added:
        await conn.execute(
            update(alerts)
            .where(alerts.c.id == alert_id)
            .values(post_count=alerts.c.post_count + added)
        )
    return alert_id


class SignalsMissing(RuntimeError):
    """The store has not been migrated to include the signals tables."""


async def require_tables(conn: AsyncConnection) -> None:
    missing = await missing_signal_tables(conn)
    if missing:
        raise SignalsMissing(
            f"the store has no signals tables ({', '.join(missing)}): run `monitor db upgrade`"
        )


async def missing_signal_tables(conn: AsyncConnection) -> list[str]:
    """Names of the signals tables missing from the store (empty when all are there)."""
    from sqlalchemy import inspect

    def missing(sync_conn: Any) -> list[str]:
        inspector = inspect(sync_conn)
        return [t for t in SIGNAL_TABLES if not inspector.has_table(t)]

    return await conn.run_sync(missing)


def _chunks(values: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


async def load_processed(conn: AsyncConnection) -> list[Processed]:
    """Every processed post as the pipeline handed it to its stages (rule hits rebuilt from
    the stored labels), oldest first: for replaying a stored week through the signals."""
    rows = [
        dict(r._mapping)
        for r in (
            await conn.execute(
                select(posts)
                .where(posts.c.processed_at.is_not(None))
                .order_by(posts.c.created_at, posts.c.id)
            )
        ).all()
    ]
    return await _as_processed(conn, rows)


async def processed_by_ids(conn: AsyncConnection, ids: Sequence[str]) -> list[Processed]:
    """These processed posts as the pipeline handed them to its stages."""
    rows: list[dict[str, Any]] = []
    for chunk in _chunks(list(ids), 500):
        stmt = select(posts).where(posts.c.id.in_(chunk), posts.c.processed_at.is_not(None))
        rows += [dict(r._mapping) for r in (await conn.execute(stmt)).all()]
    return await _as_processed(conn, rows)


async def _rule_hits(
    conn: AsyncConnection, post_ids: Sequence[str]
) -> dict[str, tuple[RuleHit, ...]]:
    """The rule hits these posts were stored with, rebuilt from their labels (origin = rule
    id), in rule id order; a hit's `words` as stored with it (its rows all carry the same)."""
    labels: dict[str, dict[str, dict[str, str]]] = {}
    words: dict[tuple[str, str], bool] = {}
    for chunk in _chunks(list(post_ids), 500):
        stmt = select(post_labels).where(
            post_labels.c.post_id.in_(chunk), post_labels.c.origin != "classifier"
        )
        for lr in (await conn.execute(stmt)).all():
            labels.setdefault(lr.post_id, {}).setdefault(lr.origin, {})[lr.name] = lr.value
            words[lr.post_id, lr.origin] = bool(lr.words)
    return {
        post_id: tuple(
            RuleHit(rule, found, words=words[post_id, rule]) for rule, found in sorted(by.items())
        )
        for post_id, by in labels.items()
    }


async def _as_processed(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> list[Processed]:
    """Stored post rows back into the `Processed` records the pipeline's stages were given:
    scores, flags and the (float16) embedding from the row, rule hits from its labels (origin
    = rule id), places from place_matches."""
    from monitor.store.posts import decode_embedding, load_posts

    records = await load_posts(conn, rows)
    hits = await _rule_hits(conn, [r["id"] for r in rows])
    return [
        Processed(
            post,
            {str(k): float(v) for k, v in (r["scores"] or {}).items()},
            decode_embedding(r["embedding"]).tolist(),
            tuple(r["flags"] or ()),
            hits.get(post.id, ()),
        )
        for post, r in zip(records, rows, strict=True)
    ]


# --- the signals follower (scaled out: signals run once, in the scheduler leader) ----------------

FOLLOWER_SOURCE = "signals-follower"
START: Cursor = (datetime(1970, 1, 1, tzinfo=UTC), "")  # before every post


def encode_cursor(cursor: Cursor) -> str:
    return f"{cursor[0].isoformat()}|{cursor[1]}"


def decode_cursor(text: str) -> Cursor:
    at, _, post_id = text.partition("|")  # an ISO time holds no "|"; a post id may
    return (as_utc(at) or START[0], post_id)


async def load_follower_cursor(
    conn: AsyncConnection, name: str = FOLLOWER_SOURCE, *, lock: bool = False
) -> Cursor | None:
    """The follower's cursor (None before its first run); `lock` holds its row until the
    transaction ends, so two followers (a leader and one that lost the lead without knowing
    yet) cannot both move it."""
    stmt = select(sources.c.cursor).where(sources.c.name == name)
    if lock:
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).first()
    if row is None or not row.cursor:
        return None
    return decode_cursor(row.cursor)


async def save_follower_cursor(
    conn: AsyncConnection, cursor: Cursor, now: datetime, name: str = FOLLOWER_SOURCE
) -> None:
    from monitor.store.posts import save_cursor

    await save_cursor(conn, name, "signals", encode_cursor(cursor), now)


async def has_signal_state(conn: AsyncConnection) -> bool:
    """Whether signals have recorded anything yet (they ran inline before, in one process)."""
    for table in (area_counts, area_levels, rumours):
        if (await conn.execute(select(1).select_from(table).limit(1))).first() is not None:
            return True
    return False


async def last_processed(conn: AsyncConnection) -> Cursor | None:
    """The (processed_at, id) of the latest processed post."""
    row = (
        await conn.execute(
            select(posts.c.processed_at, posts.c.id)
            .where(posts.c.processed_at.is_not(None))
            .order_by(posts.c.processed_at.desc(), posts.c.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return (as_utc(row.processed_at) or START[0], row.id)


async def processed_after(
    conn: AsyncConnection, after: Cursor, until: datetime, limit: int
) -> list[tuple[datetime, list[Processed]]]:
    """Posts processed after the cursor `after` and no later than `until`, in (processed_at,
    id) order, grouped by processed_at: each group is one batch as a worker processed it
    (a worker claims a batch with one processed_at), so the follower can hand the signals
    the same batches. About `limit` posts; the last group is always read whole."""
    at, post_id = after
    stmt = (
        select(posts)
        .where(
            posts.c.processed_at >= at,  # the index's range; the keyset condition follows
            posts.c.processed_at <= until,
            or_(posts.c.processed_at > at, posts.c.id > post_id),
        )
        .order_by(posts.c.processed_at, posts.c.id)
        .limit(limit)
    )
    rows = [dict(r._mapping) for r in (await conn.execute(stmt)).all()]
    if rows and len(rows) == limit:
        last = rows[-1]
        rest = (
            select(posts)
            .where(posts.c.processed_at == last["processed_at"], posts.c.id > last["id"])
            .order_by(posts.c.id)
        )
        rows += [dict(r._mapping) for r in (await conn.execute(rest)).all()]
    groups: list[tuple[datetime, list[Processed]]] = []
    for row, item in zip(rows, await _as_processed(conn, rows), strict=True):
        when = as_utc(row["processed_at"]) or START[0]
        if groups and groups[-1][0] == when:
            groups[-1][1].append(item)
        else:
            groups.append((when, [item]))
    return groups


async def alert_evidence(
    conn: AsyncConnection, keys: Sequence[str]
) -> dict[str, tuple[dict[str, str], set[str]]]:
    """For each key, the labels and evidence post ids of its latest alert: what a restarted
    signals stage needs to go on extending a spreading rumour's alert exactly where it left
    off, instead of adding its window's posts again."""
    out: dict[str, tuple[dict[str, str], set[str]]] = {}
    latest: dict[str, tuple[int, dict[str, str]]] = {}
    for chunk in _chunks(list(keys), 500):
        stmt = select(alerts.c.id, alerts.c.key, alerts.c.labels).where(alerts.c.key.in_(chunk))
        for r in (await conn.execute(stmt)).all():
            if r.key not in latest or r.id > latest[r.key][0]:
                latest[r.key] = (int(r.id), {str(k): str(v) for k, v in (r.labels or {}).items()})
    by_id = {alert_id: key for key, (alert_id, _) in latest.items()}
    for key, (_, labels) in latest.items():
        out[key] = (labels, set())
    for chunk in _chunks(list(by_id), 500):
        stmt = select(alert_posts.c.alert_id, alert_posts.c.post_id).where(
            alert_posts.c.alert_id.in_(chunk)
        )
        for held in (await conn.execute(stmt)).all():
            out[by_id[int(held.alert_id)]][1].add(str(held.post_id))
    return out
