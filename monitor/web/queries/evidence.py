"""Evidence reads: the excerpts an alert stands on, with places, labels and scores.

Only evidence routes call this module (the permission table marks them; the guard asks for a
purpose and audits each view). No author reference leaves it: authors are counted, not shown.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.privacy.postref import post_ref
from monitor.store.tables import alert_posts, place_matches, post_labels, posts


def public_link(post_id: str, url: str | None) -> str | None:
    """A link to the public post: its own URL, a Mastodon status URI, or Bluesky's web view.
    It names the author, so it is never shown to a person; `monitor erase` accepts it.

    Only http(s) links are returned: a `javascript:` URL in imported data would otherwise be
    a script behind an innocent-looking link.
    """
    for candidate in (url, post_id.split(":", 1)[1] if ":" in post_id else None):
        if candidate and urlsplit(candidate).scheme in ("http", "https"):
            return candidate
    platform, _, native = post_id.partition(":")
    if platform == "bluesky" and native.startswith("at://"):
        parts = native[len("at://") :].split("/")
        if len(parts) == 3 and parts[1] == "app.bsky.feed.post":
            return f"https://bsky.app/profile/{parts[0]}/post/{parts[2]}"
    return None


async def places_of(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if ids:
        rows = await conn.execute(
            select(place_matches)
            .where(place_matches.c.post_id.in_(ids))
            .order_by(place_matches.c.post_id, place_matches.c.name)
        )
        for r in rows.all():
            out[r.post_id].append(dict(r._mapping))
    return out


async def labels_of(conn: AsyncConnection, ids: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = defaultdict(list)
    if ids:
        rows = await conn.execute(
            select(post_labels)
            .where(post_labels.c.post_id.in_(ids))
            .order_by(post_labels.c.post_id, post_labels.c.origin, post_labels.c.name)
        )
        for r in rows.all():
            out[r.post_id].append({"origin": r.origin, "name": r.name, "value": r.value})
    return out


async def alert_evidence(
    conn: AsyncConnection, alert_id: int, limit: int = 200
) -> list[dict[str, Any]]:
    """The alert's posts, oldest first: excerpt, link, time, places, labels, scores, rules."""
    stmt = (
        select(
            alert_posts.c.post_id,
            alert_posts.c.excerpt,
            alert_posts.c.rules,
            alert_posts.c.added_at,
            posts.c.text,
            posts.c.platform,
            posts.c.url,
            posts.c.repost_of,
            posts.c.language,
            posts.c.created_at,
            posts.c.scores,
            posts.c.flags,
            posts.c.like_count,
            posts.c.repost_count,
            posts.c.reply_count,
            posts.c.text_purged_at,
        )
        .select_from(alert_posts.outerjoin(posts, posts.c.id == alert_posts.c.post_id))
        .where(alert_posts.c.alert_id == alert_id)
        .order_by(posts.c.created_at, alert_posts.c.post_id)
        .limit(limit)
    )
    rows = [dict(r._mapping) for r in (await conn.execute(stmt)).all()]
    ids = [r["post_id"] for r in rows]
    places = await places_of(conn, ids)
    labels = await labels_of(conn, ids)
    for r in rows:
        # Shown by a pseudonymous reference: the platform id and the public link (and the
        # reposted post's) name the author (issue 13, finding 11). Re-checks on the platform
        # stand in for opening the original (monitor/privacy/recheck.py).
        r["ref"] = post_ref(r["post_id"])
        r["places"] = places.get(r["post_id"], [])
        r["labels"] = labels.get(r["post_id"], [])
        r["rules"] = list(r["rules"] or [])
        r["scores"] = dict(r["scores"] or {})
        r["flags"] = list(r["flags"] or [])
    return rows
