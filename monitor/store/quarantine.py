"""The quarantine: records that failed a stage on their own, kept to see, retry and purge.

A record is keyed by its post id, so a record that fails again (a redelivery, or a retry before
the fix) is one row with more attempts, not a second row. Listing never returns an author: the
record's `author_ref` pseudonym is dropped from what is shown.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.privacy.postids import PostIds
from monitor.store.db import dialect_insert
from monitor.store.tables import quarantine
from monitor.types import PlaceMatch, Post, RawPost

# What an admin sees of a record: enough to tell what is wrong with it, nothing that names or
# points at its author (ids, links and reply/quote/repost targets carry the author's handle or
# DID on most platforms; the pseudonym is never shown either).
_SHOWN = (
    "platform",
    "source",
    "language",
    "created_at",
    "collected_at",
    "like_count",
    "repost_count",
    "reply_count",
    "truncated",
    "is_html",
    "text",
)
SHOWN_TEXT_CHARS = 500


@dataclass(frozen=True, slots=True)
class Entry:
    """One quarantined record as it is stored (the record may be None for stored posts, whose
    row is in `posts`)."""

    id: int
    key: str
    post_id: str | None
    source: str
    stage: str
    error: str
    record: dict[str, Any] | None
    attempts: int
    first_at: datetime
    last_at: datetime

    def shown(self) -> dict[str, Any]:
        """For admins: what failed where and why, without any author."""
        data = self.record or {}
        record = {k: data[k] for k in _SHOWN if k in data}
        if isinstance(record.get("text"), str):
            record["text"] = record["text"][:SHOWN_TEXT_CHARS]
        return {
            "id": self.id,
            "stored": self.post_id is not None,
            "source": self.source,
            "stage": self.stage,
            "error": self.error,
            "attempts": self.attempts,
            "first_at": self.first_at.isoformat(),
            "last_at": self.last_at.isoformat(),
            "record": record,
        }


def post_record(post: Post) -> dict[str, Any]:
    """An ingested post as JSON (its author only as the pseudonym ingest made). Built from the
    dataclass's own fields, so a field added to Post is kept here without a second list."""
    data: dict[str, Any] = {f.name: getattr(post, f.name) for f in fields(Post)}
    data["created_at"] = post.created_at.isoformat()
    data["collected_at"] = post.collected_at.isoformat()
    data["places"] = [asdict(m) for m in post.places]
    data["kind"] = "post"
    return data


def post_from_record(data: dict[str, Any]) -> Post:
    fields = {k: v for k, v in data.items() if k not in {"kind", "places"}}
    fields["created_at"] = datetime.fromisoformat(fields["created_at"])
    fields["collected_at"] = datetime.fromisoformat(fields["collected_at"])
    places = tuple(PlaceMatch(**m) for m in data.get("places", []))
    return Post(**fields, places=places)


# A raw record's fields that name or point at its author: sealed with the post id key
# (monitor/privacy/postids.py), as a stored post's platform id is. The text is sealed as it
# came (a retry ingests it again) and kept beside it masked (mentions, contacts), for admins.
_SEALED = ("native_id", "url", "reply_to", "quote_of", "repost_of", "text")


def raw_record(
    raw: RawPost, author_ref: str | None, ids: PostIds, mask: Callable[[str], str]
) -> dict[str, Any]:
    """A raw post that ingest could not take: its fields, the author only as a pseudonym,
    the platform id, links and text as it came only sealed."""
    data: dict[str, Any] = {
        f: getattr(raw, f) for f in RawPost.__slots__ if f != "author_id" and f not in _SEALED
    }
    data["created_at"] = raw.created_at.isoformat()
    data["kind"] = "raw"
    data["author_ref"] = author_ref
    data["sealed"] = ids.seal(json.dumps({f: getattr(raw, f) for f in _SEALED}))
    try:
        data["text"] = mask(raw.text[: SHOWN_TEXT_CHARS * 4])
    except Exception:  # the record failed ingest: its text may be what broke the masker
        data["text"] = ""
    return data


def raw_from_record(data: dict[str, Any], ids: PostIds) -> tuple[RawPost, str | None]:
    fields = {k: v for k, v in data.items() if k not in {"kind", "author_ref", "sealed", "text"}}
    fields.update(json.loads(ids.open(data["sealed"])))
    fields["created_at"] = datetime.fromisoformat(fields["created_at"])
    return RawPost(**fields), data.get("author_ref")


@dataclass(frozen=True, slots=True)
class Failure:
    """A record to quarantine."""

    key: str
    source: str
    stage: str
    error: str
    record: dict[str, Any] | None = None
    post_id: str | None = None


def _storable(text: str) -> str:
    """`text` without NUL characters, which PostgreSQL's text columns refuse.

    A record is quarantined because something about it is wrong, and its source label or the
    reason (which quotes its id) may hold the very NUL it was refused for: stored as it was,
    the quarantine row failed too, and with it the batch of good posts it was committed with.
    """
    return text.replace("\x00", "\ufffd")


async def add(conn: AsyncConnection, failures: Sequence[Failure], now: datetime) -> None:
    for f in failures:
        error = _storable(f.error)
        stmt = dialect_insert(conn, quarantine).values(
            key=f.key,
            post_id=f.post_id,
            source=_storable(f.source),
            stage=f.stage,
            error=error,
            record=f.record,
            attempts=1,
            first_at=now,
            last_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "stage": f.stage,
                "error": error,
                "post_id": f.post_id,
                "record": f.record,
                "attempts": quarantine.c.attempts + 1,
                "last_at": now,
            },
        )
        await conn.execute(stmt)


def _entry(row: Any) -> Entry:
    m = row._mapping
    first, last = m["first_at"], m["last_at"]
    return Entry(
        id=m["id"],
        key=m["key"],
        post_id=m["post_id"],
        source=m["source"],
        stage=m["stage"],
        error=m["error"],
        record=m["record"],
        attempts=m["attempts"],
        first_at=first if first.tzinfo else first.replace(tzinfo=UTC),
        last_at=last if last.tzinfo else last.replace(tzinfo=UTC),
    )


async def entries(
    conn: AsyncConnection, ids: Sequence[int] | None = None, limit: int = 200
) -> list[Entry]:
    stmt = select(quarantine).order_by(quarantine.c.id)
    if ids is not None:
        stmt = stmt.where(quarantine.c.id.in_(list(ids)))
    return [_entry(r) for r in (await conn.execute(stmt.limit(limit))).all()]


async def count(conn: AsyncConnection) -> int:
    return int((await conn.execute(select(func.count()).select_from(quarantine))).scalar_one())


async def counts_by_stage(conn: AsyncConnection) -> dict[str, int]:
    stmt = select(quarantine.c.stage, func.count()).group_by(quarantine.c.stage)
    return {stage: int(n) for stage, n in (await conn.execute(stmt)).all()}


async def remove(conn: AsyncConnection, ids: Sequence[int]) -> int:
    if not ids:
        return 0
    result = await conn.execute(delete(quarantine).where(quarantine.c.id.in_(list(ids))))
    return int(result.rowcount or 0)


async def forget(conn: AsyncConnection, keys: Sequence[str]) -> None:
    """Delete the records of these posts (their keyed ids): a post deleted on its platform or
    erased is never retried, and its record holds its text (and, sealed, its platform id and
    links) that would otherwise stay until the quarantine's own retention ran out."""
    for start in range(0, len(keys), 500):
        part = list(keys[start : start + 500])
        await conn.execute(delete(quarantine).where(quarantine.c.key.in_(part)))


async def keys_by_author(
    conn: AsyncConnection, platform: str, author_refs: Sequence[str]
) -> set[str]:
    """The keys of records by these pseudonyms (an account deletion reaches them too). The
    quarantine is small (records that failed on their own) and neither store indexes the
    record's JSON, so it is read here rather than matched in SQL."""
    wanted = set(author_refs)
    held = await conn.execute(
        select(quarantine.c.key, quarantine.c.record).where(quarantine.c.record.is_not(None))
    )
    return {
        key
        for key, record in held.all()
        if isinstance(record, dict)
        and record.get("platform") == platform
        and record.get("author_ref") in wanted
    }


async def purge(conn: AsyncConnection, before: datetime) -> int:
    """Retention: records first quarantined before `before` go (they hold post text)."""
    result = await conn.execute(delete(quarantine).where(quarantine.c.first_at < before))
    return int(result.rowcount or 0)


async def carry_attempts(conn: AsyncConnection, previous: dict[str, int]) -> int:
    """After a retry: records back in the quarantine keep counting their earlier attempts.
    Returns how many came back."""
    if not previous:
        return 0
    back = (
        (await conn.execute(select(quarantine.c.key).where(quarantine.c.key.in_(list(previous)))))
        .scalars()
        .all()
    )
    for key in back:
        await conn.execute(
            update(quarantine)
            .where(quarantine.c.key == key)
            .values(attempts=quarantine.c.attempts + previous[key])
        )
    return len(back)
