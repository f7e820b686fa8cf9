"""Rumour board reads: clusters ranked by spread, their timeline, example posts per stance and
the before/after velocity around each counter message. Authors only as distinct counts."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.privacy.postref import post_ref
from monitor.signals.counter import counter_effect
from monitor.store import signals as signal_store
from monitor.store.alerts import excerpt
from monitor.store.tables import posts, rumour_posts, rumours

STANCES = ("support", "deny", "query", "comment")
EXAMPLES_PER_STANCE = 3


def spread_key(r: dict[str, Any]) -> tuple[int, int, int, int]:
    """Spreading first, then by distinct authors, places reached and posts."""
    return (
        -int(bool(r.get("spreading"))),
        -int(r.get("author_count") or 0),
        -len(r.get("places") or {}),
        -int(r.get("post_count") or 0),
    )


def hide_post_ids(row: dict[str, Any]) -> None:
    """Replace stored post ids (which name their authors) with pseudonymous references."""
    for key in [k for k in row if k.endswith("post_id")]:
        value = row.pop(key)
        row[key.removesuffix("_id") + "_ref" if key != "post_id" else "ref"] = (
            post_ref(value) if isinstance(value, str) else None
        )


async def board(conn: AsyncConnection, status: str | None = None) -> list[dict[str, Any]]:
    rows = await signal_store.list_rumours(conn, status=status or None, limit=200)
    for r in rows:
        hide_post_ids(r)
        r["places"] = dict(sorted((r.get("places") or {}).items(), key=lambda kv: -kv[1]))
        r["stance"] = {s: int((r.get("stance") or {}).get(s, 0)) for s in STANCES}
    return sorted(rows, key=spread_key)


async def summary(conn: AsyncConnection) -> dict[str, int]:
    """Rumours on the board and spreading now, for the overview."""
    live = signal_store.on_board()
    stmt = select(
        func.count().filter(live),
        func.count().filter(live & rumours.c.spreading.is_(True)),
    ).where(rumours.c.merged_into.is_(None))
    total, spreading = (await conn.execute(stmt)).one()
    return {"live": int(total or 0), "spreading": int(spreading or 0)}


async def examples(conn: AsyncConnection, rumour_id: int) -> dict[str, list[dict[str, Any]]]:
    """A few member posts per stance, earliest first, with excerpts and references."""
    picked = await _examples(conn, rumour_id)
    return {s: [row for _pid, row in rows] for s, rows in picked.items()}


async def example_post_ids(conn: AsyncConnection, rumour_id: int) -> list[str]:
    """The stored ids of the posts `examples` shows (for the re-check on their platform)."""
    return [pid for rows in (await _examples(conn, rumour_id)).values() for pid, _row in rows]


async def _examples(
    conn: AsyncConnection, rumour_id: int
) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    stmt = (
        select(
            rumour_posts.c.post_id,
            rumour_posts.c.stance,
            rumour_posts.c.created_at,
            rumour_posts.c.place,
            posts.c.text,
            posts.c.url,
            posts.c.repost_of,
            posts.c.language,
        )
        .select_from(rumour_posts.join(posts, posts.c.id == rumour_posts.c.post_id))
        .where(
            rumour_posts.c.rumour_id == rumour_id,
            rumour_posts.c.state == "member",
            posts.c.text.is_not(None),
        )
        .order_by(rumour_posts.c.created_at)
        .limit(2000)
    )
    out: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for r in (await conn.execute(stmt)).all():
        stance = r.stance if r.stance in STANCES else "comment"
        if len(out[stance]) >= EXAMPLES_PER_STANCE or r.repost_of:
            continue
        row = {
            "ref": post_ref(r.post_id),  # never the platform id or link: they name the author
            "created_at": r.created_at,
            "place": r.place,
            "excerpt": excerpt(r.text),
            "language": r.language,
        }
        out[stance].append((r.post_id, row))
    return {s: out.get(s, []) for s in STANCES}


async def counters_with_effect(
    conn: AsyncConnection, rumour_id: int, window: timedelta, now: datetime
) -> list[dict[str, Any]]:
    times = await signal_store.member_times(conn, rumour_id)
    latest = max([now, *times])
    out = []
    for c in await signal_store.counters(conn, rumour_id):
        effect = counter_effect(times, c["published_at"], window, latest)
        out.append({**c, "effect": effect})
    return out


async def stance_hours(
    conn: AsyncConnection, rumour_id: int
) -> list[tuple[datetime, dict[str, int]]]:
    """Member posts per hour by stance (counts only), for the timeline."""
    stmt = select(rumour_posts.c.created_at, rumour_posts.c.stance).where(
        rumour_posts.c.rumour_id == rumour_id, rumour_posts.c.state == "member"
    )
    hours: dict[datetime, dict[str, int]] = defaultdict(lambda: dict.fromkeys(STANCES, 0))
    for at, stance in (await conn.execute(stmt)).all():
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        hour = at.replace(minute=0, second=0, microsecond=0)
        hours[hour][stance if stance in STANCES else "comment"] += 1
    return sorted(hours.items())


async def merge_targets(conn: AsyncConnection, rumour_id: int) -> list[dict[str, Any]]:
    """Other live rumours this one could be merged into (the board's, by spread)."""
    return [r for r in await board(conn) if r["id"] != rumour_id and r["status"] != "closed"]
