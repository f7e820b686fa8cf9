"""The append-only, hash-chained audit log: who looked at evidence or exported it, and why.

Each event's `hash` is SHA-256 of the previous event's hash followed by the canonical JSON of
the event itself (id, time, actor, action, purpose, detail), so editing, deleting or reordering
any event but the newest breaks every hash after it, and `verify` says where. Nothing here
updates or deletes an event once its transaction commits.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.store.tables import audit_events

GENESIS = "0" * 64
# Arbitrary constant naming the PostgreSQL advisory lock that serialises appends.
_PG_LOCK_KEY = 0x6D6F6E6974


@dataclass(frozen=True, slots=True)
class AuditEvent:
    id: int
    at: datetime
    actor: str
    action: str
    purpose: str | None
    detail: Mapping[str, Any] | None
    prev_hash: str
    hash: str


def canonical(
    event_id: int,
    at: datetime,
    actor: str,
    action: str,
    purpose: str | None,
    detail: Mapping[str, Any] | None,
) -> str:
    """The exact text an event's hash covers: sorted keys, no spaces, UTC time."""
    row = {
        "id": event_id,
        "at": at.isoformat(),
        "actor": actor,
        "action": action,
        "purpose": purpose,
        "detail": detail,
    }
    return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(prev_hash: str, canonical_row: str) -> str:
    return hashlib.sha256((prev_hash + canonical_row).encode("utf-8")).hexdigest()


async def record(
    conn: AsyncConnection,
    actor: str,
    action: str,
    purpose: str | None,
    detail: Mapping[str, Any] | None,
    now: datetime,
) -> AuditEvent:
    """Append one event inside the caller's transaction (it commits or rolls back with it).

    The row is inserted first, then chained to the newest row before it: on SQLite the insert
    takes the database's single write lock, and on PostgreSQL an advisory lock is held to the
    end of the transaction, so two writers can never chain to the same predecessor.
    """
    if now.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    detail_json = json.loads(json.dumps(detail, default=str)) if detail is not None else None
    event_id = (
        await conn.execute(
            audit_events.insert()
            .values(
                at=now,
                actor=actor,
                action=action,
                purpose=purpose,
                detail=detail_json,
                prev_hash="",
                hash="",
            )
            .returning(audit_events.c.id)
        )
    ).scalar_one()
    prev = (
        await conn.execute(
            select(audit_events.c.hash)
            .where(audit_events.c.id < event_id)
            .order_by(audit_events.c.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    prev_hash = prev or GENESIS
    # Read the time back as stored, so the hash covers exactly what verify will read.
    at = (
        await conn.execute(select(audit_events.c.at).where(audit_events.c.id == event_id))
    ).scalar_one()
    digest = chain_hash(prev_hash, canonical(event_id, at, actor, action, purpose, detail_json))
    await conn.execute(
        update(audit_events)
        .where(audit_events.c.id == event_id)
        .values(prev_hash=prev_hash, hash=digest)
    )
    return AuditEvent(event_id, at, actor, action, purpose, detail_json, prev_hash, digest)


def _event(row: Any) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        purpose=row.purpose,
        detail=row.detail,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


# The repeated-viewing guard (monitor/privacy/viewguard.py) keeps digests of the authors each
# evidence view showed; pages show how many, never the list, so that the audit page cannot
# become a list of who was looked at.
_AUTHOR_LISTS = ("viewed_authors", "authors")


def _for_display(event: AuditEvent) -> AuditEvent:
    detail = event.detail
    if not isinstance(detail, Mapping) or not any(
        isinstance(detail.get(k), list) for k in _AUTHOR_LISTS
    ):
        return event
    shown = {
        k: (len(v) if k in _AUTHOR_LISTS and isinstance(v, list) else v) for k, v in detail.items()
    }
    return dataclasses.replace(event, detail=shown)


async def verify(conn: AsyncConnection) -> list[str]:
    """Every break in the chain, oldest first; an empty list means the log is intact.

    Deleting the newest events cannot be seen from the log alone: compare `head()` with a copy
    kept elsewhere for that.
    """
    problems: list[str] = []
    expected_prev = GENESIS
    result = await conn.stream(select(audit_events).order_by(audit_events.c.id))
    async for row in result:
        event = _event(row)
        if event.prev_hash != expected_prev:
            problems.append(
                f"event {event.id}: its previous hash does not match the event before it "
                "(an event was deleted, inserted or reordered)"
            )
        body = canonical(event.id, event.at, event.actor, event.action, event.purpose, event.detail)
        if chain_hash(event.prev_hash, body) != event.hash:
            problems.append(f"event {event.id}: its hash does not match its contents (edited)")
        expected_prev = event.hash
    return problems


async def head(conn: AsyncConnection) -> tuple[int, str]:
    """How many events there are and the newest hash (to note down outside the store)."""
    count = (await conn.execute(select(func.count()).select_from(audit_events))).scalar_one()
    newest = (
        await conn.execute(select(audit_events.c.hash).order_by(audit_events.c.id.desc()).limit(1))
    ).scalar_one_or_none()
    return int(count), newest or GENESIS


async def recent(
    conn: AsyncConnection,
    limit: int = 100,
    before: int | None = None,
    actor: str | None = None,
    action: str | None = None,
) -> list[AuditEvent]:
    """Newest first, for the audit page; `before` pages back by id. Lists of author digests
    in `detail` are shown as their length (see `_for_display`)."""
    stmt = select(audit_events).order_by(audit_events.c.id.desc()).limit(limit)
    if before is not None:
        stmt = stmt.where(audit_events.c.id < before)
    if actor:
        stmt = stmt.where(audit_events.c.actor == actor)
    if action:
        stmt = stmt.where(audit_events.c.action == action)
    return [_for_display(_event(r)) for r in (await conn.execute(stmt)).all()]
