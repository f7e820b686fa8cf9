"""Read queries for the overview page and summaries. Authors appear only as distinct counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.privacy.suppress import DEFAULT_K, suppress_rows
from monitor.store.alerts import OPEN_STATUSES
from monitor.store.tables import alert_posts, alerts, place_matches, post_labels, posts


@dataclass(frozen=True)
class Totals:
    posts: int
    processed: int
    flagged: int
    open_alerts: int
    first: datetime | None
    last: datetime | None


async def totals(conn: AsyncConnection) -> Totals:
    row = (
        await conn.execute(
            select(
                func.count(),
                func.count(posts.c.processed_at),
                func.min(posts.c.created_at),
                func.max(posts.c.created_at),
            ).select_from(posts)
        )
    ).one()
    flagged = (await conn.execute(select(func.count(distinct(post_labels.c.post_id))))).scalar_one()
    open_alerts = (
        await conn.execute(
            select(func.count()).select_from(alerts).where(alerts.c.status.in_(OPEN_STATUSES))
        )
    ).scalar_one()
    first, last = row[2], row[3]
    return Totals(
        posts=row[0],
        processed=row[1],
        flagged=int(flagged),
        open_alerts=int(open_alerts),
        first=_as_datetime(first),
        last=_as_datetime(last),
    )


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


async def places(
    conn: AsyncConnection, limit: int = 100, min_count: int = DEFAULT_K
) -> list[dict[str, Any]]:
    """Posts, flagged posts and distinct authors per ward, busiest first (author counts
    under `min_count` shown as "<k")."""
    flagged = select(post_labels.c.post_id).distinct().subquery()
    stmt = (
        select(
            place_matches.c.ward,
            func.max(place_matches.c.locality).label("locality"),
            func.count(distinct(place_matches.c.post_id)).label("posts"),
            func.count(distinct(case((flagged.c.post_id.is_not(None), posts.c.id)))).label(
                "flagged"
            ),
            func.count(distinct(posts.c.author_ref)).label("authors"),
        )
        .select_from(
            place_matches.join(posts, posts.c.id == place_matches.c.post_id).outerjoin(
                flagged, flagged.c.post_id == posts.c.id
            )
        )
        .where(place_matches.c.ward.is_not(None))
        .group_by(place_matches.c.ward)
        .order_by(func.count(distinct(place_matches.c.post_id)).desc(), place_matches.c.ward)
        .limit(limit)
    )
    rows = [dict(r._mapping) for r in (await conn.execute(stmt)).all()]
    suppress_rows(rows, min_count)
    return rows


async def open_alerts(conn: AsyncConnection, limit: int = 50) -> list[dict[str, Any]]:
    """Open alerts, most severe and busiest first, each with one example excerpt."""
    first_excerpt = (
        select(alert_posts.c.excerpt)
        .where(and_(alert_posts.c.alert_id == alerts.c.id, alert_posts.c.excerpt.is_not(None)))
        .order_by(alert_posts.c.added_at)
        .limit(1)
        .scalar_subquery()
    )
    stmt = (
        select(alerts, first_excerpt.label("excerpt"))
        .where(alerts.c.status.in_(OPEN_STATUSES))
        .order_by(alerts.c.post_count.desc(), alerts.c.id)
        .limit(limit)
    )
    rows = [dict(r._mapping) for r in (await conn.execute(stmt)).all()]
    rank = {"critical": 4, "high": 3, "medium": 2, "low": 1}
    rows.sort(key=lambda r: (-rank.get(r["labels"].get("severity", ""), 0), -r["post_count"]))
    return rows
