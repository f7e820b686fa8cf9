"""Alert rows: open an alert per dedup key, or add evidence to the one already open."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.labels import SEVERITY_RANK, candidates
from monitor.store.db import dialect_insert
from monitor.store.tables import ALERT_IS_OPEN, alert_posts, alerts
from monitor.types import Processed

OPEN_STATUSES = ("new", "acknowledged")
EXCERPT_CHARS = 280


def excerpt(text: str) -> str:
    """Only the excerpt an alert needs is kept with it (minimisation)."""
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


async def open_alert(
    conn: AsyncConnection,
    key: str,
    labels: Mapping[str, str],
    summary: str,
    at: datetime,
    now: datetime,
) -> tuple[int, bool]:
    """The open alert with this key, opened now if there is none: (id, whether opened).

    Safe with several workers at once: the partial unique index admits one open alert per
    key, and a second opener waits for the first and then finds its row."""
    alert_id = (
        await conn.execute(
            dialect_insert(conn, alerts)
            .values(
                key=key,
                labels=dict(labels),
                summary=summary,
                status="new",
                post_count=0,
                first_seen=at,
                last_seen=at,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["key"], index_where=ALERT_IS_OPEN)
            .returning(alerts.c.id)
        )
    ).scalar()
    if alert_id is not None:
        return int(alert_id), True
    existing = (
        await conn.execute(
            select(alerts.c.id).where(alerts.c.key == key, alerts.c.status.in_(OPEN_STATUSES))
        )
    ).scalar_one()
    return int(existing), False


async def record_hits(conn: AsyncConnection, items: Sequence[Processed], now: datetime) -> int:
    """Open or extend alerts for these processed posts; returns how many alerts changed."""
    touched: set[int] = set()
    # Alert rows are locked in key order, so workers extending the same alerts at once wait
    # for each other instead of deadlocking.
    work = sorted(
        ((cand, item) for item in items for cand in candidates(item)),
        key=lambda pair: (pair[0].key, pair[1].post.id),
    )
    for cand, item in work:
        alert_id, opened = await open_alert(
            conn, cand.key, cand.labels, cand.summary, item.post.created_at, now
        )
        if not opened:
            row = (await conn.execute(select(alerts.c.labels).where(alerts.c.id == alert_id))).one()
            if SEVERITY_RANK.get(cand.labels.get("severity", ""), 0) > SEVERITY_RANK.get(
                row.labels.get("severity", ""), 0
            ):
                await conn.execute(
                    update(alerts)
                    .where(alerts.c.id == alert_id)
                    .values(labels=dict(cand.labels), updated_at=now)
                )
        added = await conn.execute(
            dialect_insert(conn, alert_posts)
            .values(
                alert_id=alert_id,
                post_id=item.post.id,
                excerpt=excerpt(item.post.text),
                rules=sorted({h.rule_id for h in item.hits} | {cand.rule}),
                added_at=now,
            )
            .on_conflict_do_nothing(index_elements=["alert_id", "post_id"])
        )
        if added.rowcount:
            await conn.execute(
                update(alerts)
                .where(alerts.c.id == alert_id)
                .values(
                    post_count=alerts.c.post_count + 1,
                    # posts arrive out of order: keep the latest and earliest times
                    last_seen=case(
                        (alerts.c.last_seen < item.post.created_at, item.post.created_at),
                        else_=alerts.c.last_seen,
                    ),
                    first_seen=case(
                        (alerts.c.first_seen > item.post.created_at, item.post.created_at),
                        else_=alerts.c.first_seen,
                    ),
                    updated_at=now,
                )
            )
            touched.add(alert_id)
    return len(touched)
