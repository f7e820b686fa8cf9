"""Alert rows: open an alert per dedup key, or add evidence to the one already open."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.labels import SEVERITY_RANK, AlertCandidate, candidates
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
    alert_id, opened, _ = await _open(conn, key, labels, summary, at, now)
    return alert_id, opened


async def _open(
    conn: AsyncConnection,
    key: str,
    labels: Mapping[str, str],
    summary: str,
    at: datetime,
    now: datetime,
) -> tuple[int, bool, dict[str, str]]:
    """`open_alert`, with the alert's labels as they are now."""
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
        return int(alert_id), True, dict(labels)
    existing = (
        await conn.execute(
            select(alerts.c.id, alerts.c.labels).where(
                alerts.c.key == key, alerts.c.status.in_(OPEN_STATUSES)
            )
        )
    ).one()
    return int(existing.id), False, dict(existing.labels)


def _rank(labels: Mapping[str, str]) -> int:
    return SEVERITY_RANK.get(labels.get("severity", ""), 0)


async def record_hits(conn: AsyncConnection, items: Sequence[Processed], now: datetime) -> int:
    """Open or extend alerts for these processed posts; returns how many alerts changed.

    A few statements per alert key, whatever the number of posts for it in the batch (it was
    five per post and key: the per-post cost of every flagged post)."""
    by_key: dict[str, list[tuple[AlertCandidate, Processed]]] = {}
    for item in items:
        for cand in candidates(item):
            by_key.setdefault(cand.key, []).append((cand, item))
    touched = 0
    # The batch's open alerts read at once: a live stream extends the same few alerts batch
    # after batch, and trying to open each first (then reading it) cost two statements per
    # alert on every batch. Keys with none open are opened as before (safe with other workers).
    found: dict[str, tuple[int, dict[str, str]]] = {}
    for chunk in _chunks(sorted(by_key)):
        for row in await conn.execute(
            select(alerts.c.key, alerts.c.id, alerts.c.labels).where(
                alerts.c.key.in_(chunk), alerts.c.status.in_(OPEN_STATUSES)
            )
        ):
            found[row.key] = (int(row.id), dict(row.labels))
    # Alert rows are locked in key order, so workers extending the same alerts at once wait
    # for each other instead of deadlocking.
    for key in sorted(by_key):
        work = sorted(by_key[key], key=lambda pair: pair[1].post.id)
        if await _extend(conn, key, work, now, found.get(key)):
            touched += 1
    return touched


def _chunks(keys: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    return [keys[i : i + size] for i in range(0, len(keys), size)]


async def _extend(
    conn: AsyncConnection,
    key: str,
    work: Sequence[tuple[AlertCandidate, Processed]],
    now: datetime,
    open_now: tuple[int, dict[str, str]] | None = None,
) -> bool:
    """Open or extend the alert with this key for these (candidate, post) pairs, in post id
    order: the first opens it; a later one of higher severity takes over its labels.
    `open_now`: the alert with this key found open in this transaction (id, labels)."""
    first, first_item = work[0]
    if open_now is not None:
        alert_id, labels = open_now
    else:
        alert_id, _, labels = await _open(
            conn, key, first.labels, first.summary, first_item.post.created_at, now
        )
    relabelled = False
    for cand, _ in work:
        if _rank(cand.labels) > _rank(labels):
            labels, relabelled = dict(cand.labels), True
    by_post: dict[str, Processed] = {}
    rows = []
    for cand, item in work:
        if item.post.id in by_post:
            continue  # the same post twice: its evidence row is added once, as before
        by_post[item.post.id] = item
        rows.append(
            {
                "alert_id": alert_id,
                "post_id": item.post.id,
                "excerpt": excerpt(item.post.text),
                "rules": sorted({h.rule_id for h in item.hits} | {cand.rule}),
                "added_at": now,
            }
        )
    result = await conn.execute(
        dialect_insert(conn, alert_posts)
        .on_conflict_do_nothing(index_elements=["alert_id", "post_id"])
        .returning(alert_posts.c.post_id),
        rows,
    )
    added = [by_post[p].post.created_at for p in result.scalars().all()]
    values: dict[str, Any] = {}
    if relabelled:
        values["labels"] = labels
    if added:
        # posts arrive out of order: keep the latest and earliest times
        latest, earliest = max(added), min(added)
        values.update(
            post_count=alerts.c.post_count + len(added),
            last_seen=case((alerts.c.last_seen < latest, latest), else_=alerts.c.last_seen),
            first_seen=case((alerts.c.first_seen > earliest, earliest), else_=alerts.c.first_seen),
        )
    if not values:
        return False
    await conn.execute(
        update(alerts).where(alerts.c.id == alert_id).values(updated_at=now, **values)
    )
    return bool(added)
