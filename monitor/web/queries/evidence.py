"""Evidence reads: the excerpts an alert stands on, with places, labels and scores.

Only evidence routes call this module (the permission table marks them; the guard asks for a
purpose and audits each view). No author reference leaves it: authors are counted, not shown.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.incidents.model import AlertFacts
from monitor.privacy.postref import post_ref
from monitor.store.tables import (
    alert_posts,
    alerts,
    counter_messages,
    incident_alerts,
    incidents,
    place_matches,
    post_labels,
    posts,
)
from monitor.types import PlaceMatch, Post, as_utc


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


# The columns a rule needs of a stored post: rule trials and backtests select these.
RULE_POST_COLUMNS = (
    posts.c.id,
    posts.c.platform,
    posts.c.text,
    posts.c.language,
    posts.c.created_at,
    posts.c.scores,
)


async def rule_posts(
    conn: AsyncConnection, rows: Sequence[Any]
) -> list[tuple[Post, dict[str, float]]]:
    """Stored posts (rows of `RULE_POST_COLUMNS`) as the rule engine sees them, with their
    places and classifier scores; no author reference is read."""
    places = await places_of(conn, [r.id for r in rows])
    out = []
    for r in rows:
        matches = tuple(
            PlaceMatch(
                p["place_id"],
                p["name"],
                p["kind"],
                p["ward"],
                p["locality"],
                p["district"],
                p["matched"],
            )  # fmt: skip
            for p in places.get(r.id, [])
        )
        post = Post(
            id=r.id,
            platform=r.platform,
            source="",
            text=r.text,
            language=r.language,
            created_at=r.created_at,
            collected_at=r.created_at,
            author_ref="",
            places=matches,
        )
        out.append((post, dict(r.scores or {})))
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
        # stand in for opening the original (monitor/safeguards/recheck.py).
        r["ref"] = post_ref(r["post_id"])
        r["places"] = places.get(r["post_id"], [])
        r["labels"] = labels.get(r["post_id"], [])
        r["rules"] = list(r["rules"] or [])
        r["scores"] = dict(r["scores"] or {})
        r["flags"] = list(r["flags"] or [])
    return rows


RESPONSE_WORDS = {
    "counter": "counter message",
    "deny": "denies or questions the claim",
    "query": "denies or questions the claim",
    "response": "response (calming, counter-speech or solidarity)",
}


def incident_posts_sync(
    conn: Connection,
    incident_id: int,
    official_names: Collection[str] = (),
    limit: int = 300,
) -> list[dict[str, Any]]:
    """The posts an incident's page lists, oldest first: its alerts' evidence and the posts
    that answer it (its claim cluster's denials and questions, public organisations' counter
    messages), each marked as telling the story or as a response, with which alerts hold it.

    Authors appear only as labels local to this page ("author 1", "author 2", in order of
    first post), so a reader sees whether a story is many people or a few repeating
    themselves, and nothing links them to another page; allowlisted public organisations
    are named. Post text is returned raw: the template escapes it."""
    from monitor.incidents import store as incident_store
    from monitor.incidents.responses import is_counter_message, is_response, words

    holders: dict[str, list[int]] = defaultdict(list)
    excerpts: dict[str, str] = {}
    alert_ids = []
    cluster = None
    row = conn.execute(select(incidents.c.cluster).where(incidents.c.id == incident_id)).first()
    if row is not None:
        cluster = row.cluster
    for r in conn.execute(
        select(alert_posts.c.alert_id, alert_posts.c.post_id, alert_posts.c.excerpt)
        .select_from(
            alert_posts.join(incident_alerts, incident_alerts.c.alert_id == alert_posts.c.alert_id)
        )
        .where(incident_alerts.c.incident_id == incident_id)
    ):
        holders[r.post_id].append(int(r.alert_id))
        if r.excerpt and r.post_id not in excerpts:
            excerpts[r.post_id] = r.excerpt
        alert_ids.append(int(r.alert_id))
    facts = incident_store.load_posts(conn, sorted(holders), official_names)
    answers: list[Any] = []
    if cluster is not None or official_names:
        alert_facts = [
            AlertFacts(
                id=int(a.id),
                key=a.key,
                labels={},
                summary="",
                status=a.status,
                first_seen=as_utc(a.first_seen),
                last_seen=as_utc(a.last_seen),
            )
            for a in conn.execute(
                select(
                    alerts.c.id, alerts.c.key, alerts.c.status, alerts.c.first_seen,
                    alerts.c.last_seen,
                ).where(alerts.c.id.in_(sorted(set(alert_ids))))
            )
        ]  # fmt: skip
        members, officials = incident_store.load_answers(
            conn, [cluster] if cluster is not None else [], alert_facts, official_names
        )
        answers = [*members.get(cluster, []), *officials] if cluster is not None else officials
    counter_texts = [
        words(t)
        for (t,) in conn.execute(
            select(counter_messages.c.text).where(counter_messages.c.text.is_not(None))
        )
    ]
    shown = dict(facts)
    for p in answers:
        if p.id not in shown and is_response(p, counter_texts):
            shown[p.id] = p
    ordered = sorted(shown.values(), key=lambda p: (p.at, p.id))[:limit]
    extra = {
        r.id: r
        for r in conn.execute(
            select(posts.c.id, posts.c.platform, posts.c.language, posts.c.author_name).where(
                posts.c.id.in_([p.id for p in ordered])
            )
        )
    }
    names: dict[str, str] = {}
    out = []
    for p in ordered:
        meta = extra.get(p.id)
        official = meta.author_name if meta is not None and p.official else None
        if official:
            who = official
        else:
            who = names.setdefault(p.author, f"author {len(names) + 1}")
        response = None
        if is_response(p, counter_texts):
            if is_counter_message(p, counter_texts):
                response = RESPONSE_WORDS["counter"]
            else:
                response = RESPONSE_WORDS.get(p.stance, RESPONSE_WORDS["response"])
        out.append(
            {
                "ref": post_ref(p.id),
                "created_at": p.at,
                "platform": meta.platform if meta is not None else None,
                "language": meta.language if meta is not None else None,
                "text": excerpts.get(p.id) or p.text,
                "places": [w.name for w in p.places],
                "author": who,
                "official": bool(official),
                "response": response,
                "alerts": sorted(set(holders.get(p.id, []))),
            }
        )
    return out
