"""Read queries for incidents: the queue, one incident with its alerts and timeline, and the
JSON shape the API, the demo summary and digests share. Authors are only ever a distinct count,
shown as "fewer than k" under the privacy threshold."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.incidents.model import HELD, SHOWN_STATES
from monitor.store.tables import alerts, incident_alerts, incident_events, incidents, rumours

STATUS_CHOICES = ("shown", "open", "cooling", "held", "closed", "merged", "all")


def statuses_for(choice: str) -> tuple[str, ...] | None:
    """The stored statuses a filter choice covers (None: every status)."""
    if choice == "all":
        return None
    if choice == "shown" or choice not in STATUS_CHOICES:
        return SHOWN_STATES
    return (choice,)


def count_text(n: int, k: int) -> str:
    """A distinct-author count as people see it: below the privacy threshold, 'fewer than k'."""
    return f"fewer than {k}" if 0 < n < k else str(n)


def row_dict(row: Any, k: int) -> dict[str, Any]:
    data = dict(row._mapping)
    data["authors"] = count_text(int(data.get("author_count") or 0), k)
    data.pop("author_count", None)  # only the shown form leaves the store layer
    gathering = data.get("gathering") or None
    data["gathering_text"] = (
        ", ".join(p for p in (gathering.get("where"), gathering.get("when")) if p)
        if isinstance(gathering, dict)
        else None
    )
    data["places"] = list(data.get("wards") or []) + [
        loc for loc in (data.get("localities") or []) if loc not in (data.get("wards") or [])
    ]
    return data


async def list_incidents(
    conn: AsyncConnection,
    status: str = "shown",
    *,
    k: int = 10,
    limit: int = 200,
    kind: str = "",
    area: str = "",
) -> list[dict[str, Any]]:
    """Incidents, the most severe and most recent first."""
    stmt = select(incidents)
    chosen = statuses_for(status)
    if chosen is not None:
        stmt = stmt.where(incidents.c.status.in_(chosen))
    rows = (await conn.execute(stmt.order_by(incidents.c.last_seen.desc()))).all()
    out = [row_dict(r, k) for r in rows]
    if kind:
        out = [r for r in out if kind in (r.get("kinds") or [])]
    if area:
        out = [r for r in out if area in r["places"]]
    rank = {"critical": 4, "high": 3, "medium": 2, "low": 1}
    out.sort(key=lambda r: (r["status"] != "open", -rank.get(r["level"], 0)))
    return out[:limit]


async def changed_since(
    conn: AsyncConnection, since: datetime, *, k: int = 10, limit: int = 200
) -> list[dict[str, Any]]:
    """Incidents people see (not held) opened or changed after `since`, oldest change first:
    the live review queue's feed."""
    stmt = (
        select(incidents)
        .where(incidents.c.updated_at > since, incidents.c.status != HELD)
        .order_by(incidents.c.updated_at, incidents.c.id)
        .limit(limit)
    )
    return [row_dict(r, k) for r in (await conn.execute(stmt)).all()]


async def get_incident(
    conn: AsyncConnection, incident_id: int, *, k: int = 10
) -> dict[str, Any] | None:
    row = (await conn.execute(select(incidents).where(incidents.c.id == incident_id))).one_or_none()
    if row is None:
        return None
    data = row_dict(row, k)
    data["alerts"] = await incident_alert_rows(conn, incident_id)
    data["timeline"] = await timeline(conn, incident_id)
    data["cluster_size"] = await _cluster_size(conn, data.get("cluster"), k)
    return data


async def _cluster_size(conn: AsyncConnection, cluster: int | None, k: int) -> str | None:
    """How many posts and accounts its claim cluster holds, as the rumour board counts them:
    a rumour that never spread shows only its alerts' posts here, which may be a few of its
    tellings ("6 posts" of the cluster's 16), so the page says how big the cluster is."""
    if cluster is None:
        return None
    found = (
        await conn.execute(
            select(rumours.c.post_count, rumours.c.author_count).where(rumours.c.id == cluster)
        )
    ).one_or_none()
    if found is None:
        return None
    n = int(found.post_count)
    return f"{n} post{'' if n == 1 else 's'} from {count_text(int(found.author_count), k)} accounts"


async def incident_alert_rows(conn: AsyncConnection, incident_id: int) -> list[dict[str, Any]]:
    rows = (
        await conn.execute(
            select(
                alerts.c.id,
                alerts.c.summary,
                alerts.c.labels,
                alerts.c.status,
                alerts.c.post_count,
                alerts.c.first_seen,
                alerts.c.last_seen,
                incident_alerts.c.pinned,
            )
            .select_from(alerts.join(incident_alerts, incident_alerts.c.alert_id == alerts.c.id))
            .where(incident_alerts.c.incident_id == incident_id)
            .order_by(alerts.c.first_seen, alerts.c.id)
        )
    ).all()
    return [dict(r._mapping) for r in rows]


async def timeline(conn: AsyncConnection, incident_id: int) -> list[dict[str, Any]]:
    rows = (
        await conn.execute(
            select(
                incident_events.c.at,
                incident_events.c.recorded_at,
                incident_events.c.kind,
                incident_events.c.reason,
                incident_events.c.actor,
            )
            .where(incident_events.c.incident_id == incident_id)
            .order_by(incident_events.c.at, incident_events.c.id)
        )
    ).all()
    return [dict(r._mapping) for r in rows]


async def incident_of_alert(conn: AsyncConnection, alert_id: int) -> int | None:
    value = (
        await conn.execute(
            select(incident_alerts.c.incident_id).where(incident_alerts.c.alert_id == alert_id)
        )
    ).scalar()
    return int(value) if value is not None else None


async def count_shown(conn: AsyncConnection) -> int:
    return int(
        (
            await conn.execute(
                select(func.count())
                .select_from(incidents)
                .where(incidents.c.status.in_(SHOWN_STATES))
            )
        ).scalar_one()
    )


def brief(row: dict[str, Any]) -> dict[str, Any]:
    """The scripts' view of an incident (`monitor demo --once --json`, digests)."""
    first: datetime = row["first_seen"]
    return {
        "id": row["id"],
        "headline": row["headline"],
        "status": row["status"],
        "kinds": list(row.get("kinds") or []),
        "places": row["places"],
        "first_seen": first.isoformat(),
        "level": row["level"],
        "alert_count": row["alert_count"],
        "posts": row["post_count"],
        "authors": row["authors"],
        "gathering": row["gathering_text"],
    }


def briefs(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [brief(r) for r in rows]
