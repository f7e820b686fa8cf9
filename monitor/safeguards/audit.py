"""The append-only, hash-chained audit log: who looked at evidence or exported it, and why.

Each event's `hash` covers the previous event's hash followed by the canonical JSON of the
event itself (id, time, actor, action, purpose, detail), so editing, deleting or reordering
any event but the newest breaks every hash after it, and `verify` says where. Nothing here
updates or deletes an event once its transaction commits.

Two things a plain hash chain cannot show, and what closes them:
- Someone with write access to the store can edit an event and recompute every hash after it.
  With `audit_key_env` set, each hash is an HMAC-SHA256 under a key held in the environment,
  never in the store, so recomputing needs the key. (Without a key the chain is plain SHA-256
  and `verify` says it is unkeyed.)
- Deleting the newest events leaves a shorter chain that is still whole. The head (count and
  newest hash) is exported on a schedule to `audit_head_file`, outside the store; `verify`
  checks that the exported head is still in the log.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.config import ConfigError, Settings
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


def chain_hash(prev_hash: str, canonical_row: str, key: bytes | None = None) -> str:
    """HMAC-SHA256 under `key`, or plain SHA-256 for a log kept without one."""
    message = (prev_hash + canonical_row).encode("utf-8")
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


# --- the key --------------------------------------------------------------------------------

MIN_KEY_BYTES = 32
# The key for this process's audit writes, set from the settings where the service or a command
# starts (`configure`): every writer in the process keys the same chain, without handing the
# key through each of the many places that record an event.
_key: bytes | None = None


def key_from_settings(settings: Settings) -> bytes | None:
    """The audit chain key named by `audit_key_env` (None without one); too short is an error."""
    value = settings.secret("audit_key")
    if value is None:
        return None
    key = value.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(
            f"${settings.audit_key_env} (audit_key_env) holds {len(key)} bytes; use at least "
            f"{MIN_KEY_BYTES} random bytes, e.g. $(openssl rand -base64 48)"
        )
    return key


def configure(settings: Settings) -> None:
    """Key this process's audit writes as the settings say (ConfigError for a weak key)."""
    global _key
    _key = key_from_settings(settings)


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
    body = canonical(event_id, at, actor, action, purpose, detail_json)
    digest = chain_hash(prev_hash, body, _key)
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


# The repeated-viewing guard (monitor/safeguards/viewguard.py) keeps digests of the authors each
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


async def verify(conn: AsyncConnection, key: bytes | None = None) -> list[str]:
    """Every break in the chain, oldest first; an empty list means the log is intact.

    With `key`, events must be keyed from the first keyed one on (events from before a key was
    set stay plain), and the newest must be keyed: a chain recomputed without the key is a
    break. Deleting the newest events cannot be seen from the log alone: `check_head` compares
    it with the head exported outside the store.
    """
    problems: list[str] = []
    expected_prev = GENESIS
    keyed_seen = False
    newest_keyed = False
    result = await conn.stream(select(audit_events).order_by(audit_events.c.id))
    async for row in result:
        event = _event(row)
        if event.prev_hash != expected_prev:
            problems.append(
                f"event {event.id}: its previous hash does not match the event before it "
                "(an event was deleted, inserted or reordered)"
            )
        body = canonical(event.id, event.at, event.actor, event.action, event.purpose, event.detail)
        keyed = key is not None and hmac.compare_digest(
            chain_hash(event.prev_hash, body, key), event.hash
        )
        plain = not keyed and chain_hash(event.prev_hash, body) == event.hash
        if keyed:
            keyed_seen = True
        elif plain and keyed_seen:
            problems.append(
                f"event {event.id}: not keyed, after keyed events (recomputed without the key)"
            )
        elif not plain:
            problems.append(f"event {event.id}: its hash does not match its contents (edited)")
        newest_keyed = keyed
        expected_prev = event.hash
    if key is not None and expected_prev != GENESIS and not newest_keyed:
        problems.append(
            "the newest event is not keyed although a key is set: the chain was recomputed "
            "without the key, or nothing was recorded since audit_key_env was set"
        )
    return problems


# --- the exported head ----------------------------------------------------------------------


def export_head(path: Path, count: int, newest: str, now: datetime) -> None:
    """Append `time count:hash` to the head file and flush it to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(f"{now.isoformat()} {count}:{newest}\n")
        fh.flush()
        os.fsync(fh.fileno())


def last_exported_head(path: Path) -> tuple[int, str] | None:
    """The newest `count:hash` in the head file; None when there is none yet."""
    if not path.is_file():
        return None
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not lines:
        return None
    try:
        count_text, newest = lines[-1].split()[-1].split(":", 1)
        return int(count_text), newest
    except ValueError:
        raise ValueError(f"{path}: the last line is not 'time count:hash'") from None


async def check_head(conn: AsyncConnection, count: int, expected: str) -> str | None:
    """Why the log no longer holds the head `count:expected` noted earlier (None when it does):
    events after it may have been added, none before or at it removed or changed."""
    if count == 0:
        return None
    row = (
        await conn.execute(
            select(audit_events.c.hash).order_by(audit_events.c.id).offset(count - 1).limit(1)
        )
    ).first()
    if row is None:
        total, _ = await head(conn)
        return (
            f"the log has {total} events, fewer than the {count} noted: the noted event is no "
            "longer in the log, so events were deleted"
        )
    if row[0] != expected:
        return (
            f"event number {count} no longer has the noted hash: the noted event is no longer "
            "in the log, so events were removed or changed"
        )
    return None


async def export_job_head(conn: AsyncConnection, path: Path, now: datetime) -> None:
    count, newest = await head(conn)
    export_head(path, count, newest, now)


async def head(conn: AsyncConnection) -> tuple[int, str]:
    """How many events there are and the newest hash (to note down outside the store)."""
    count = (await conn.execute(select(func.count()).select_from(audit_events))).scalar_one()
    newest = (
        await conn.execute(select(audit_events.c.hash).order_by(audit_events.c.id.desc()).limit(1))
    ).scalar_one_or_none()
    return int(count), newest or GENESIS


async def last_at(conn: AsyncConnection, action: str) -> datetime | None:
    """When the newest event of `action` was recorded, or None if there is none."""
    stmt = select(func.max(audit_events.c.at)).where(audit_events.c.action == action)
    value: datetime | None = (await conn.execute(stmt)).scalar_one_or_none()
    return value


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
