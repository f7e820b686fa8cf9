"""Queries on posts, their places and labels, and source cursors. Idempotent by post id."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.store import quarantine as quarantine_store
from monitor.store import tombstones
from monitor.store.db import dialect_insert
from monitor.store.erase import erase_copies
from monitor.store.tables import (
    alert_posts,
    place_matches,
    post_labels,
    posts,
    quarantine,
    sources,
)
from monitor.types import PlaceMatch, Post, Processed


def _post_row(post: Post) -> dict[str, Any]:
    return {
        "id": post.id,
        "platform": post.platform,
        "source": post.source,
        "text": post.text,
        "language": post.language,
        "created_at": post.created_at,
        "collected_at": post.collected_at,
        "author_ref": post.author_ref,
        "author_name": post.author_name,
        "url": post.url,
        "origin": post.origin,
        "reply_to": post.reply_to,
        "quote_of": post.quote_of,
        "repost_of": post.repost_of,
        "like_count": post.like_count,
        "repost_count": post.repost_count,
        "reply_count": post.reply_count,
        "truncated": post.truncated,
    }


async def insert_posts(conn: AsyncConnection, batch: Sequence[Post]) -> list[Post]:
    """Insert the posts not already stored and not reported deleted by their platform (a
    tombstone: the delete arrived first); return those that were new (in input order)."""
    if not batch:
        return []
    unique: dict[str, Post] = {}
    for post in batch:
        unique.setdefault(post.id, post)
    keys = [(p.id, p.platform, p.author_ref) for p in unique.values()]
    for pid in await tombstones.deleted_among(conn, keys):
        del unique[pid]
    if not unique:
        return []
    # executemany with RETURNING ("insertmanyvalues"): one cached statement, batched rows.
    stmt = (
        dialect_insert(conn, posts)
        .on_conflict_do_nothing(index_elements=["id"])
        .returning(posts.c.id)
    )
    result = await conn.execute(stmt, [_post_row(p) for p in unique.values()])
    new_ids = set(result.scalars().all())
    new = [p for p in unique.values() if p.id in new_ids]
    place_rows = [_place_row(p.id, m) for p in new for m in p.places]
    if place_rows:
        await conn.execute(
            dialect_insert(conn, place_matches).on_conflict_do_nothing(
                index_elements=["post_id", "place_id"]
            ),
            place_rows,
        )
    return new


def _place_row(post_id: str, m: PlaceMatch) -> dict[str, Any]:
    return {
        "post_id": post_id,
        "place_id": m.place_id,
        "name": m.name,
        "kind": m.kind,
        "ward": m.ward,
        "locality": m.locality,
        "district": m.district,
        "matched": m.matched,
    }


async def save_cursor(
    conn: AsyncConnection, source: str, kind: str, cursor: str | None, now: datetime
) -> None:
    values = {
        "name": source,
        "kind": kind,
        "cursor": cursor,
        "updated_at": now,
        "last_success_at": now,
        "error_count": 0,
    }
    stmt = dialect_insert(conn, sources).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={"cursor": cursor, "updated_at": now, "last_success_at": now},
    )
    await conn.execute(stmt)


async def load_cursor(conn: AsyncConnection, source: str) -> str | None:
    row = (await conn.execute(select(sources.c.cursor).where(sources.c.name == source))).first()
    return None if row is None else row[0]


def encode_embedding(vector: Sequence[float]) -> bytes | None:
    if len(vector) == 0:
        return None
    return np.asarray(vector, dtype=np.float16).tobytes()


def decode_embedding(blob: bytes | None) -> np.ndarray[Any, np.dtype[np.float32]]:
    if not blob:
        return np.zeros(0, dtype=np.float32)
    return np.frombuffer(blob, dtype=np.float16).astype(np.float32)


async def save_processed(conn: AsyncConnection, items: Iterable[Processed], now: datetime) -> None:
    """Store what classification and rules found. Safe to repeat for the same posts."""
    rows = []
    label_rows = []
    for item in items:
        rows.append(
            {
                "b_id": item.post.id,
                "scores": {k: round(v, 4) for k, v in item.scores.items()},
                "flags": list(item.flags),
                "embedding": encode_embedding(item.embedding),
                "processed_at": now,
            }
        )
        for flag in item.flags:
            label_rows.append(
                {
                    "post_id": item.post.id,
                    "origin": "classifier",
                    "name": "flag",
                    "value": flag,
                    "words": False,
                }
            )
        for hit in item.hits:
            for name, value in hit.labels.items():
                label_rows.append(
                    {
                        "post_id": item.post.id,
                        "origin": hit.rule_id,
                        "name": name,
                        "value": value,
                        "words": hit.words,
                    }
                )
    if not rows:
        return

    stmt = (
        update(posts)
        .where(posts.c.id == bindparam("b_id"))
        .values(
            scores=bindparam("scores"),
            flags=bindparam("flags"),
            embedding=bindparam("embedding"),
            processed_at=bindparam("processed_at"),
        )
    )
    await conn.execute(stmt, rows)
    if label_rows:
        await conn.execute(dialect_insert(conn, post_labels).on_conflict_do_nothing(), label_rows)


async def texts_of(conn: AsyncConnection, post_ids: Sequence[str]) -> list[str]:
    """The texts still kept for these posts: read before `purge_text`, for what is keyed by
    the text rather than the post (the classifier's on-disk encoding cache)."""
    out: list[str] = []
    for start in range(0, len(post_ids), 1000):
        part = list(post_ids[start : start + 1000])
        rows = await conn.execute(
            select(posts.c.text).where(posts.c.id.in_(part), posts.c.text.is_not(None))
        )
        out += rows.scalars().all()
    return out


async def purge_text(conn: AsyncConnection, post_ids: Sequence[str], now: datetime) -> int:
    """Remove the text (and embedding) of these posts everywhere it is kept; keep aggregates."""
    if not post_ids:
        return 0
    # First the copies of their excerpts (digests, mailbox, rumour claims), found by the
    # excerpts that are about to be removed below.
    await erase_copies(conn, post_ids, now)
    result = await conn.execute(
        update(posts)
        .where(posts.c.id.in_(post_ids), posts.c.text.is_not(None))
        .values(text=None, embedding=None, text_purged_at=now)
    )
    await conn.execute(
        update(alert_posts).where(alert_posts.c.post_id.in_(post_ids)).values(excerpt=None)
    )
    # Quarantine keys are the same keyed ids.
    await quarantine_store.forget(conn, post_ids)
    return int(result.rowcount or 0)


def _not_quarantined() -> Any:
    # A post whose processing failed on its own waits in the quarantine for a fix and a retry;
    # it must not be picked up again at every start or redelivery.
    return ~exists().where(quarantine.c.post_id == posts.c.id)


async def count_unprocessed(conn: AsyncConnection) -> int:
    """Stored posts still to process (not counting quarantined ones)."""
    stmt = select(func.count()).where(
        posts.c.processed_at.is_(None), posts.c.text.is_not(None), _not_quarantined()
    )
    return int((await conn.execute(stmt)).scalar_one())


async def count_posts(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.count()).select_from(posts))).scalar_one())


async def unprocessed_posts(
    conn: AsyncConnection, limit: int, after_id: str | None = None
) -> list[dict[str, Any]]:
    """Posts stored but not yet classified (a crash between the two), in id order from
    `after_id`: resumed at start-up."""
    stmt = select(posts).where(
        posts.c.processed_at.is_(None), posts.c.text.is_not(None), _not_quarantined()
    )
    if after_id is not None:
        stmt = stmt.where(posts.c.id > after_id)
    stmt = stmt.order_by(posts.c.id).limit(limit)
    return [dict(r._mapping) for r in (await conn.execute(stmt)).all()]


async def post_ids_by_author_refs(
    conn: AsyncConnection, platform: str, refs: Sequence[str]
) -> list[str]:
    """Used only to honour an account deletion reported by the platform: the account's stored
    posts, and its records waiting in the quarantine (which keep the pseudonym in the record;
    `purge_text` removes those by their key)."""
    if not refs:
        return []
    stmt = select(posts.c.id).where(posts.c.platform == platform, posts.c.author_ref.in_(refs))
    found = list((await conn.execute(stmt)).scalars().all())
    held = await quarantine_store.keys_by_author(conn, platform, refs)
    return found + sorted(held.difference(found))


async def replace_text(conn: AsyncConnection, post: Post) -> bool:
    """An edit reported by the platform: new text, to be classified again. False if unknown
    or already purged."""
    result = await conn.execute(
        update(posts)
        .where(posts.c.id == post.id, posts.c.text.is_not(None))
        .values(text=post.text, truncated=post.truncated, processed_at=None, embedding=None)
    )
    return bool(result.rowcount)


async def load_posts(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> list[Post]:
    """Rebuild Post records (with their places) from stored rows."""
    ids = [r["id"] for r in rows]
    places: dict[str, list[PlaceMatch]] = {i: [] for i in ids}
    if ids:
        stmt = select(place_matches).where(place_matches.c.post_id.in_(ids))
        for m in (await conn.execute(stmt)).all():
            places[m.post_id].append(
                PlaceMatch(
                    place_id=m.place_id,
                    name=m.name,
                    kind=m.kind,
                    ward=m.ward,
                    locality=m.locality,
                    district=m.district,
                    matched=m.matched,
                )
            )
    return [
        Post(
            id=r["id"],
            platform=r["platform"],
            source=r["source"],
            text=r["text"] or "",
            language=r["language"],
            created_at=r["created_at"],
            collected_at=r["collected_at"],
            author_ref=r["author_ref"],
            url=r["url"],
            reply_to=r["reply_to"],
            quote_of=r["quote_of"],
            repost_of=r["repost_of"],
            like_count=r["like_count"],
            repost_count=r["repost_count"],
            reply_count=r["reply_count"],
            truncated=r["truncated"],
            places=tuple(places[r["id"]]),
            author_name=r.get("author_name"),
            origin=r.get("origin"),
        )
        for r in rows
    ]


async def unprocessed_among(conn: AsyncConnection, post_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Of these stored posts, those never processed (their worker died before it could)."""
    if not post_ids:
        return []
    stmt = select(posts).where(
        posts.c.id.in_(post_ids),
        posts.c.processed_at.is_(None),
        posts.c.text.is_not(None),
        _not_quarantined(),
    )
    return [dict(r._mapping) for r in (await conn.execute(stmt)).all()]


async def claim_for_processing(
    conn: AsyncConnection, post_ids: Sequence[str], now: datetime
) -> set[str]:
    """Mark these posts processed, returning those this transaction claimed: a post another
    worker already processed (or is processing, on PostgreSQL the row lock waits for it) is
    not returned, so its results are recorded once."""
    if not post_ids:
        return set()
    result = await conn.execute(
        update(posts)
        .where(posts.c.id.in_(post_ids), posts.c.processed_at.is_(None))
        .values(processed_at=now)
        .returning(posts.c.id)
    )
    return set(result.scalars().all())
