"""Trends: volume and level over time for an area, a rumour or an incident, in a date range,
and the posts behind one bar of the chart (the drill-down, an evidence view).

Area volume comes from the hourly aggregates the signals stage keeps (`area_counts`: posts and
flagged posts, kept after post text is purged), levels from the recorded level changes. Counts
only: no query here returns authors, and only `posts_behind` returns text.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.privacy.postref import post_ref
from monitor.store.alerts import excerpt
from monitor.store.tables import (
    alert_posts,
    area_counts,
    area_levels,
    incident_alerts,
    incidents,
    level_changes,
    place_matches,
    posts,
    rumour_posts,
    rumours,
)
from monitor.types import as_utc

LONDON = ZoneInfo("Europe/London")
STEPS = (1, 3, 6, 12, 24, 48, 168)
MOST_BARS = 72
MAX_DAYS = 366
DRILL_LIMIT = 100
AREA_PARTS: tuple[str, ...] = ("flagged", "other")
RUMOUR_PARTS: tuple[str, ...] = ("support", "deny", "query", "comment")
INCIDENT_PARTS: tuple[str, ...] = ("posts",)


@dataclass(frozen=True, slots=True)
class Selection:
    """What the trend is of (one of area, rumour, incident) and over which days (UK dates)."""

    area: str = ""  # an area key as the signals stage writes it: "ward:Toller"
    rumour: int | None = None
    incident: int | None = None
    start: date | None = None
    end: date | None = None  # inclusive

    @property
    def kind(self) -> str:
        return "rumour" if self.rumour else "incident" if self.incident else "area"

    def span(self) -> tuple[datetime, datetime]:
        assert self.start is not None and self.end is not None
        first = datetime.combine(self.start, time(0), LONDON).astimezone(UTC)
        last = datetime.combine(self.end + timedelta(days=1), time(0), LONDON).astimezone(UTC)
        return first, last

    def step_hours(self) -> int:
        first, last = self.span()
        hours = (last - first) / timedelta(hours=1)
        return next((s for s in STEPS if hours / s <= MOST_BARS), STEPS[-1])


def _floor(t: datetime, first: datetime, step: int) -> datetime:
    return first + timedelta(hours=step) * int((t - first) / timedelta(hours=step))


async def areas(conn: AsyncConnection) -> list[dict[str, str]]:
    """Areas with a level or counts, wards first, for the picker."""
    rows = (await conn.execute(select(area_levels.c.area, area_levels.c.name))).all()
    known = {r.area: r.name for r in rows}
    for (area,) in (await conn.execute(select(area_counts.c.area).distinct())).all():
        known.setdefault(area, area.partition(":")[2] or area)
    order = {"ward": 0, "locality": 1, "district": 2}
    return sorted(
        ({"key": k, "name": v, "kind": k.partition(":")[0]} for k, v in known.items()),
        key=lambda a: (order.get(a["kind"], 3), a["name"]),
    )


async def latest(conn: AsyncConnection, sel: Selection) -> datetime | None:
    """The newest data point of the selection (the default range ends there)."""
    if sel.rumour:
        stmt = select(func.max(rumour_posts.c.created_at)).where(
            rumour_posts.c.rumour_id == sel.rumour
        )
    elif sel.incident:
        stmt = select(incidents.c.last_seen).where(incidents.c.id == sel.incident)
    elif sel.area:
        stmt = select(func.max(area_counts.c.hour)).where(area_counts.c.area == sel.area)
    else:
        stmt = select(func.max(area_counts.c.hour))
    value = (await conn.execute(stmt)).scalar_one_or_none()
    return as_utc(value) if value is not None else None


async def series(
    conn: AsyncConnection, sel: Selection
) -> tuple[list[tuple[datetime, dict[str, int]]], tuple[str, ...]]:
    """Counts per step of the selection, with the parts they are stacked by."""
    first, last = sel.span()
    step = sel.step_hours()
    out: dict[datetime, dict[str, int]] = defaultdict(dict)
    stmt: Any
    parts: tuple[str, ...]
    if sel.rumour:
        parts = RUMOUR_PARTS
        stmt = select(rumour_posts.c.created_at, rumour_posts.c.stance).where(
            rumour_posts.c.rumour_id == sel.rumour,
            rumour_posts.c.state == "member",
            rumour_posts.c.created_at >= first,
            rumour_posts.c.created_at < last,
        )
        for at, stance in (await conn.execute(stmt)).all():
            slot = out[_floor(as_utc(at), first, step)]
            key = stance if stance in parts else "comment"
            slot[key] = slot.get(key, 0) + 1
    elif sel.incident:
        parts = INCIDENT_PARTS
        stmt = (
            select(posts.c.created_at)
            .distinct()
            .select_from(
                incident_alerts.join(
                    alert_posts, alert_posts.c.alert_id == incident_alerts.c.alert_id
                ).join(posts, posts.c.id == alert_posts.c.post_id)
            )
            .where(
                incident_alerts.c.incident_id == sel.incident,
                posts.c.created_at >= first,
                posts.c.created_at < last,
            )
        )
        for row in (await conn.execute(stmt)).all():
            slot = out[_floor(as_utc(row[0]), first, step)]
            slot["posts"] = slot.get("posts", 0) + 1
    else:
        parts = AREA_PARTS
        stmt = select(area_counts.c.hour, area_counts.c.posts, area_counts.c.flagged).where(
            area_counts.c.hour >= first, area_counts.c.hour < last
        )
        if sel.area:
            stmt = stmt.where(area_counts.c.area == sel.area)
        else:  # every post once: the district rows hold them all
            stmt = stmt.where(area_counts.c.area.like("district:%"))
        for row in (await conn.execute(stmt)).all():
            slot = out[_floor(as_utc(row.hour), first, step)]
            slot["flagged"] = slot.get("flagged", 0) + int(row.flagged)
            slot["other"] = slot.get("other", 0) + int(row.posts) - int(row.flagged)
    return sorted(out.items()), parts


async def levels(conn: AsyncConnection, sel: Selection) -> list[tuple[datetime, str]]:
    """The area's level at the start of each step (from its recorded changes)."""
    if sel.kind != "area" or not sel.area:
        return []
    first, last = sel.span()
    stmt = (
        select(level_changes.c.at, level_changes.c.to_level)
        .where(level_changes.c.area == sel.area, level_changes.c.at < last)
        .order_by(level_changes.c.at, level_changes.c.id)
    )
    changes = [(as_utc(at), lvl) for at, lvl in (await conn.execute(stmt)).all()]
    step = timedelta(hours=sel.step_hours())
    rank = LEVEL_ORDER.get
    out: list[tuple[datetime, str]] = []
    i, current = 0, "normal"
    while i < len(changes) and changes[i][0] < first:  # the level in force at the start
        current = changes[i][1]
        i += 1
    t = first
    while t < last:
        end, peak = t + step, current
        while i < len(changes) and changes[i][0] < end:  # the highest level within the step
            current = changes[i][1]
            peak = max(peak, current, key=lambda v: rank(v, 0))
            i += 1
        out.append((t, peak))
        t = end
    return out


LEVEL_ORDER = {"normal": 0, "elevated": 1, "medium": 1, "high": 2, "critical": 3}


async def label_of(conn: AsyncConnection, sel: Selection) -> str:
    """What the chart is of, in words, without any post text (a rumour's claim is evidence)."""
    if sel.rumour:
        n = (
            await conn.execute(select(rumours.c.post_count).where(rumours.c.id == sel.rumour))
        ).scalar_one_or_none()
        return f"rumour r{sel.rumour}" + (f" ({n} posts)" if n is not None else " (not found)")
    if sel.incident:
        row = (
            await conn.execute(
                select(incidents.c.family, incidents.c.wards).where(incidents.c.id == sel.incident)
            )
        ).first()
        if row is None:
            return f"incident {sel.incident} (not found)"
        wards = ", ".join(list(row.wards or [])[:3])
        return f"incident {sel.incident} ({row.family}{' in ' + wards if wards else ''})"
    if sel.area:
        return sel.area.partition(":")[2] or sel.area
    return "every area"


async def posts_behind(
    conn: AsyncConnection, sel: Selection, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """The posts behind one bar: time, places, flags and excerpt, by reference (never the
    platform id or link: they name the author); flagged first, at most DRILL_LIMIT."""
    stmt = select(
        posts.c.id, posts.c.created_at, posts.c.text, posts.c.flags, posts.c.language
    ).where(posts.c.created_at >= start, posts.c.created_at < end)
    if sel.rumour:
        stmt = stmt.join(rumour_posts, rumour_posts.c.post_id == posts.c.id).where(
            rumour_posts.c.rumour_id == sel.rumour, rumour_posts.c.state == "member"
        )
    elif sel.incident:
        inside = (
            select(alert_posts.c.post_id)
            .join(incident_alerts, incident_alerts.c.alert_id == alert_posts.c.alert_id)
            .where(incident_alerts.c.incident_id == sel.incident)
        )
        stmt = stmt.where(posts.c.id.in_(inside))
    elif sel.area:
        kind, _, name = sel.area.partition(":")
        column = {"ward": place_matches.c.ward, "locality": place_matches.c.locality}.get(
            kind, place_matches.c.district
        )
        stmt = stmt.where(posts.c.id.in_(select(place_matches.c.post_id).where(column == name)))
    rows = (await conn.execute(stmt.order_by(posts.c.created_at).limit(2000))).all()
    out = [
        {
            "ref": post_ref(r.id),
            "created_at": as_utc(r.created_at),
            "flags": sorted(r.flags or []) if isinstance(r.flags, list) else sorted(r.flags or {}),
            "excerpt": excerpt(r.text) if r.text else None,
            "language": r.language,
        }
        for r in rows
    ]
    out.sort(key=lambda p: (not p["flags"], p["created_at"]))
    return out[:DRILL_LIMIT]
