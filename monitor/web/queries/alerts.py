"""The review queue's reads: alerts with their lock, filters, and changes since a moment.

No query here returns post text: excerpts are read only by `evidence.py`, for evidence routes.
Filtering on labels happens in Python over the newest alerts of the chosen status, because
labels are JSON and the queue is hundreds of alerts, not millions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.store.alerts import OPEN_STATUSES
from monitor.store.tables import alert_actions, alert_posts, alerts, level_changes, posts

CLOSED_STATUSES = ("actioned", "dismissed", "closed")
STATUS_CHOICES = ("open", "closed", "all")
SCAN_LIMIT = 2000
LEVEL_RANK = {"critical": 4, "high": 3, "medium": 2, "elevated": 2, "low": 1, "normal": 0}


@dataclass(frozen=True, slots=True)
class Filters:
    status: str = "open"
    area: str = ""
    kind: str = ""
    level: str = ""

    @classmethod
    def from_query(cls, query: Any) -> Filters:
        status = str(query.get("status", "open"))
        return cls(
            status=status if status in STATUS_CHOICES else "open",
            area=str(query.get("area", ""))[:200],
            kind=str(query.get("kind", ""))[:60],
            level=str(query.get("level", ""))[:40],
        )

    def matches(self, labels: dict[str, str]) -> bool:
        return (
            (not self.area or labels.get("area") == self.area)
            and (not self.kind or labels.get("kind") == self.kind)
            and (not self.level or level_of(labels) == self.level)
        )


def level_of(labels: dict[str, str]) -> str:
    """An alert's level: a tension alert's `level=` label, else its rule's `severity=`."""
    return str(labels.get("level") or labels.get("severity") or "")


def _statuses(status: str) -> Sequence[str] | None:
    return {"open": OPEN_STATUSES, "closed": CLOSED_STATUSES}.get(status)


def _row(r: Any) -> dict[str, Any]:
    labels = dict(r.labels or {})
    return {
        "id": r.id,
        "summary": r.summary,
        "labels": labels,
        "area": labels.get("area", ""),
        "kind": labels.get("kind", ""),
        "level": level_of(labels),
        "status": r.status,
        "owner": r.owner,
        "dismiss_reason": r.dismiss_reason,
        "post_count": r.post_count,
        "first_seen": r.first_seen,
        "last_seen": r.last_seen,
        "created_at": r.created_at,
        "updated_at": r.updated_at,
    }


async def _owned_since(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, datetime]:
    if not ids:
        return {}
    rows = await conn.execute(
        select(alert_actions.c.alert_id, func.max(alert_actions.c.at))
        .where(alert_actions.c.alert_id.in_(ids), alert_actions.c.action == "take")
        .group_by(alert_actions.c.alert_id)
    )
    return {r[0]: r[1] for r in rows.all()}


async def with_locks(conn: AsyncConnection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    since = await _owned_since(conn, [r["id"] for r in rows if r["owner"]])
    for r in rows:
        r["owned_since"] = since.get(r["id"]) if r["owner"] else None
    return rows


def _sort_key(r: dict[str, Any]) -> tuple[int, int, float]:
    status_rank = 0 if r["status"] == "new" else 1 if r["status"] in OPEN_STATUSES else 2
    return (status_rank, -LEVEL_RANK.get(r["level"], 0), -r["last_seen"].timestamp())


async def list_alerts(
    conn: AsyncConnection, filters: Filters, limit: int = 200
) -> list[dict[str, Any]]:
    """Alerts for the queue: new before taken before closed, highest level, most recent."""
    stmt = select(alerts).order_by(alerts.c.updated_at.desc(), alerts.c.id.desc()).limit(SCAN_LIMIT)
    statuses = _statuses(filters.status)
    if statuses is not None:
        stmt = stmt.where(alerts.c.status.in_(statuses))
    rows = [_row(r) for r in (await conn.execute(stmt)).all()]
    chosen = sorted((r for r in rows if filters.matches(r["labels"])), key=_sort_key)[:limit]
    return await with_locks(conn, chosen)


async def facets(conn: AsyncConnection) -> dict[str, list[str]]:
    """The areas, kinds and levels that alerts have, for the filter menus."""
    stmt = select(alerts.c.labels).order_by(alerts.c.updated_at.desc()).limit(SCAN_LIMIT)
    areas: set[str] = set()
    kinds: set[str] = set()
    levels: set[str] = set()
    for (labels,) in (await conn.execute(stmt)).all():
        labels = dict(labels or {})
        areas.add(labels.get("area", ""))
        kinds.add(labels.get("kind", ""))
        levels.add(level_of(labels))
    return {
        "areas": sorted(a for a in areas if a),
        "kinds": sorted(k for k in kinds if k),
        "levels": sorted((v for v in levels if v), key=lambda v: -LEVEL_RANK.get(v, 0)),
    }


async def get_alert(conn: AsyncConnection, alert_id: int) -> dict[str, Any] | None:
    row = (await conn.execute(select(alerts).where(alerts.c.id == alert_id))).first()
    if row is None:
        return None
    alert = (await with_locks(conn, [_row(row)]))[0]
    alert["authors"] = (
        await conn.execute(
            select(func.count(distinct(posts.c.author_ref)))
            .select_from(alert_posts.join(posts, posts.c.id == alert_posts.c.post_id))
            .where(alert_posts.c.alert_id == alert_id)
        )
    ).scalar_one()
    alert["history"] = [
        dict(r._mapping)
        for r in (
            await conn.execute(
                select(alert_actions)
                .where(alert_actions.c.alert_id == alert_id)
                .order_by(alert_actions.c.id)
            )
        ).all()
    ]
    return alert


async def changed_since(
    conn: AsyncConnection, since: datetime, limit: int = 200
) -> list[dict[str, Any]]:
    """Alerts opened or changed after `since` (the live queue's feed), oldest change first."""
    stmt = (
        select(alerts)
        .where(alerts.c.updated_at > since)
        .order_by(alerts.c.updated_at, alerts.c.id)
        .limit(limit)
    )
    rows = [_row(r) for r in (await conn.execute(stmt)).all()]
    return await with_locks(conn, rows)


def public_view(alert: dict[str, Any]) -> dict[str, Any]:
    """An alert as JSON: labels, counts, times and lock; never post text."""
    out = {k: v for k, v in alert.items() if k != "history"}
    for key, value in list(out.items()):
        if isinstance(value, datetime):
            out[key] = value.isoformat()
    if "history" in alert:
        out["history"] = [{**h, "at": h["at"].isoformat()} for h in alert["history"]]
    return out


async def level_explanations(conn: AsyncConnection, alert_id: int) -> list[dict[str, Any]]:
    """The level changes that raised this alert, each with what the signals stage stored to
    explain it: the conditions of the level entered (measure, value, threshold, met) and the
    hourly window against the area's baseline."""
    stmt = (
        select(level_changes)
        .where(level_changes.c.alert_id == alert_id)
        .order_by(level_changes.c.at, level_changes.c.id)
    )
    out = []
    for r in (await conn.execute(stmt)).mappings().all():
        measures = r["measures"] if isinstance(r["measures"], dict) else {}
        conditions = measures.get("conditions")
        series = measures.get("series")
        out.append(
            {
                "at": r["at"],
                "area": r["name"],
                "from_level": r["from_level"],
                "to_level": r["to_level"],
                "reason": r["reason"],
                "conditions": conditions if isinstance(conditions, list) else [],
                "series": series if isinstance(series, list) else [],
            }
        )
    return out
