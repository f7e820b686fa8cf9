"""Areas: posts, flagged posts and distinct authors per ward and locality, levels now and
their changes, and flagged posts per day. Aggregates only; authors only as counts."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from monitor.privacy.suppress import DEFAULT_K, suppress_rows
from monitor.store.tables import area_levels, level_changes, place_matches, post_labels, posts
from monitor.types import as_utc

LONDON = ZoneInfo("Europe/London")


def _hour(conn: AsyncConnection, column: Any) -> ColumnElement[Any]:
    if conn.dialect.name == "postgresql":
        return func.date_trunc("hour", column)
    return func.strftime("%Y-%m-%d %H:00:00", column)


async def _counts(conn: AsyncConnection, column: Any) -> list[dict[str, Any]]:
    flagged = select(post_labels.c.post_id).distinct().subquery()
    stmt = (
        select(
            column.label("name"),
            func.count(distinct(place_matches.c.post_id)).label("posts"),
            func.count(distinct(case((flagged.c.post_id.is_not(None), posts.c.id)))).label(
                "flagged"
            ),
            func.count(distinct(posts.c.author_ref)).label("authors"),
            func.max(place_matches.c.locality).label("locality"),
        )
        .select_from(
            place_matches.join(posts, posts.c.id == place_matches.c.post_id).outerjoin(
                flagged, flagged.c.post_id == posts.c.id
            )
        )
        .where(column.is_not(None))
        .group_by(column)
    )
    return [dict(r._mapping) for r in (await conn.execute(stmt)).all()]


async def current_levels(conn: AsyncConnection) -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, name) -> the area's level now, as the signals stage last recorded it."""
    rows = await conn.execute(select(area_levels))
    return {(r.area_kind, r.name): dict(r._mapping) for r in rows.all()}


async def area_table(
    conn: AsyncConnection, lowest: str, min_count: int = DEFAULT_K
) -> dict[str, list[dict[str, Any]]]:
    """Per ward and locality: counts and level now; small author counts shown as "<k".

    The signals stage evaluates an area only once it has weighted flagged posts, so an area
    it never recorded is at the `lowest` level."""
    levels = await current_levels(conn)
    out: dict[str, list[dict[str, Any]]] = {}
    for kind, column in (("ward", place_matches.c.ward), ("locality", place_matches.c.locality)):
        rows = await _counts(conn, column)
        for r in rows:
            lv = levels.get((kind, r["name"]))
            r["recorded"] = lv is not None
            r["level"] = lv["level"] if lv else 0
            r["level_name"] = lv["level_name"] if lv else lowest
            r["since"] = lv["since"] if lv else None
            r["measures"] = (lv["measures"] or {}) if lv else {}
        rows.sort(key=lambda r: (-r["level"], -r["flagged"], -r["posts"], r["name"]))
        suppress_rows(rows, min_count)
        out[kind] = rows
    return out


async def daily_flagged(
    conn: AsyncConnection, days: int = 7
) -> tuple[list[date], dict[str, list[int]]]:
    """Flagged posts per ward per UK day, over the last `days` days that have posts."""
    hour = _hour(conn, posts.c.created_at)
    stmt = (
        select(place_matches.c.ward, hour.label("hour"), func.count(distinct(posts.c.id)))
        .select_from(
            place_matches.join(posts, posts.c.id == place_matches.c.post_id).join(
                post_labels, post_labels.c.post_id == posts.c.id
            )
        )
        .where(place_matches.c.ward.is_not(None))
        .group_by(place_matches.c.ward, hour)
    )
    per_day: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    seen: set[date] = set()
    for ward, hour_value, n in (await conn.execute(stmt)).all():
        day = as_utc(hour_value).astimezone(LONDON).date()
        per_day[ward][day] += int(n)
        seen.add(day)
    if not seen:
        return [], {}
    last, first = max(seen), min(seen)
    span = [last - timedelta(days=i) for i in range(days - 1, -1, -1)]
    span = [d for d in span if d >= first]
    series = {ward: [counts.get(d, 0) for d in span] for ward, counts in per_day.items()}
    return span, dict(sorted(series.items(), key=lambda kv: (-sum(kv[1]), kv[0])))


async def level_history(
    conn: AsyncConnection, limit: int = 100, min_count: int = DEFAULT_K
) -> list[dict[str, Any]]:
    """The newest level changes, with the reason the signals stage gave; small author counts in
    the reason and measures read "fewer than k" (the stored reason quotes the exact count)."""
    stmt = select(level_changes).order_by(level_changes.c.at.desc()).limit(limit)
    rows = [dict(r._mapping) for r in (await conn.execute(stmt)).all()]
    suppress_rows(rows, min_count)
    return rows
