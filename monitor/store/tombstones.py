"""Tombstones: deletions reported by a platform, kept so that they win whatever the order.

A delete can reach us before its create (a rewound cursor, two sources, a reconnect), in the
same collector flush, or while the create waits in the work queue: purging the stored text then
finds nothing. So every deletion is first recorded here — post ids, and for a deleted account
its pseudonyms (never the platform's account id) — and `insert_posts` drops any post that has
one. Recording commits in its own transaction before the purge runs, and the worker checks again
after its own commit (`honour`), so a delete racing a worker on another connection still wins:
either the worker sees the tombstone, or the purge sees the worker's post.

Tombstones go with the post text's retention period: by then any create still arriving would be
past retention itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.store.db import dialect_insert
from monitor.store.tables import alert_posts, author_tombstones, post_tombstones, posts

CHUNK = 500


async def record_posts(conn: AsyncConnection, post_ids: Sequence[str], now: datetime) -> None:
    rows = [{"post_id": pid, "deleted_at": now} for pid in dict.fromkeys(post_ids)]
    if rows:
        await conn.execute(
            dialect_insert(conn, post_tombstones).on_conflict_do_nothing(
                index_elements=["post_id"]
            ),
            rows,
        )


async def record_authors(
    conn: AsyncConnection, platform: str, refs: Sequence[str], now: datetime
) -> None:
    rows = [
        {"platform": platform, "author_ref": ref, "deleted_at": now} for ref in dict.fromkeys(refs)
    ]
    if rows:
        await conn.execute(
            dialect_insert(conn, author_tombstones).on_conflict_do_nothing(
                index_elements=["platform", "author_ref"]
            ),
            rows,
        )


async def deleted_among(conn: AsyncConnection, keys: Sequence[tuple[str, str, str]]) -> set[str]:
    """Of these (post id, platform, author_ref), the post ids a platform reported deleted
    (the post itself, or its author's account)."""
    found: set[str] = set()
    for start in range(0, len(keys), CHUNK):
        part = keys[start : start + CHUNK]
        ids = [k[0] for k in part]
        rows = await conn.execute(
            select(post_tombstones.c.post_id).where(post_tombstones.c.post_id.in_(ids))
        )
        found.update(rows.scalars().all())
        refs = {k[2] for k in part}
        gone = await conn.execute(
            select(author_tombstones.c.platform, author_tombstones.c.author_ref).where(
                author_tombstones.c.author_ref.in_(refs)
            )
        )
        dead = {(r.platform, r.author_ref) for r in gone.all()}
        found.update(pid for pid, platform, ref in part if (platform, ref) in dead)
    return found


async def stored_and_deleted(conn: AsyncConnection, post_ids: Sequence[str]) -> list[str]:
    """Of these stored posts, those that still hold text although a tombstone says deleted."""
    out: list[str] = []
    for start in range(0, len(post_ids), CHUNK):
        ids = list(post_ids[start : start + CHUNK])
        rows = await conn.execute(
            select(posts.c.id, posts.c.platform, posts.c.author_ref).where(
                posts.c.id.in_(ids), posts.c.text.is_not(None)
            )
        )
        keys = [(r.id, r.platform, r.author_ref) for r in rows.all()]
        out += sorted(await deleted_among(conn, keys))
    return out


async def unpurged_evidence(conn: AsyncConnection, alert_ids: Sequence[int] | None) -> list[str]:
    """Evidence posts (of these alerts, or of any alert) whose excerpt is still kept although
    a tombstone says the post or its account was deleted: a process that died between a
    deletion's tombstone and its purge, or a deletion racing a send. Checked before a
    notification or digest goes out (monitor/alerts/dispatcher.py)."""
    by_post = select(alert_posts.c.post_id).where(
        alert_posts.c.excerpt.is_not(None),
        alert_posts.c.post_id.in_(select(post_tombstones.c.post_id)),
    )
    by_author = (
        select(alert_posts.c.post_id)
        .select_from(
            alert_posts.join(posts, posts.c.id == alert_posts.c.post_id).join(
                author_tombstones,
                (author_tombstones.c.platform == posts.c.platform)
                & (author_tombstones.c.author_ref == posts.c.author_ref),
            )
        )
        .where(alert_posts.c.excerpt.is_not(None))
    )
    found: set[str] = set()
    for stmt in (by_post, by_author):
        if alert_ids is not None:
            stmt = stmt.where(alert_posts.c.alert_id.in_(list(alert_ids)))
        found.update((await conn.execute(stmt)).scalars().all())
    return sorted(found)


async def purge_expired(conn: AsyncConnection, before: datetime) -> int:
    """Forget tombstones recorded before `before` (the text retention cut-off)."""
    n = await conn.execute(delete(post_tombstones).where(post_tombstones.c.deleted_at < before))
    m = await conn.execute(delete(author_tombstones).where(author_tombstones.c.deleted_at < before))
    return int(n.rowcount or 0) + int(m.rowcount or 0)
