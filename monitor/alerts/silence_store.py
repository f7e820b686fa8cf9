"""Silences in the store: add, list, expire — each change written to the audit log in the same
transaction, so a silence cannot exist without the record of who made it and why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.alerts.matchers import parse_matchers
from monitor.alerts.silences import Silence, SilenceError, validate
from monitor.safeguards.audit import record
from monitor.store.tables import silences


async def add_silence(
    conn: AsyncConnection,
    *,
    matchers: Sequence[str],
    reason: str,
    created_by: str,
    starts_at: datetime,
    ends_at: datetime,
    now: datetime,
) -> int:
    validate(matchers, reason, created_by, starts_at, ends_at, now)
    silence_id = (
        await conn.execute(
            silences.insert()
            .values(
                matchers=list(matchers),
                reason=reason.strip(),
                created_by=created_by.strip(),
                created_at=now,
                starts_at=starts_at,
                ends_at=ends_at,
            )
            .returning(silences.c.id)
        )
    ).scalar_one()
    await _audit(
        conn,
        actor=created_by,
        action="silence.add",
        purpose=reason,
        detail={
            "silence": silence_id,
            "matchers": list(matchers),
            "starts_at": starts_at.isoformat(),
            "ends_at": ends_at.isoformat(),
        },
        now=now,
    )
    return int(silence_id)


async def expire_silence(
    conn: AsyncConnection, silence_id: int, *, by: str, reason: str, now: datetime
) -> None:
    """End a silence early. Expired silences stay in the table (and the audit log)."""
    if not by.strip():
        raise SilenceError("say who is expiring the silence")
    result = await conn.execute(
        update(silences)
        .where(
            silences.c.id == silence_id,
            silences.c.expired_at.is_(None),
            silences.c.ends_at > now,
        )
        .values(expired_at=now, expired_by=by.strip())
    )
    if result.rowcount != 1:
        raise SilenceError(f"no active silence {silence_id}")
    await _audit(
        conn,
        actor=by,
        action="silence.expire",
        purpose=reason or None,
        detail={"silence": silence_id},
        now=now,
    )


async def load_silences(
    conn: AsyncConnection, now: datetime, include_ended: bool = False
) -> list[Silence]:
    stmt = select(silences).order_by(silences.c.id)
    if not include_ended:
        stmt = stmt.where(silences.c.expired_at.is_(None), silences.c.ends_at > now)
    out = []
    for r in (await conn.execute(stmt)).mappings().all():
        out.append(
            Silence(
                id=r["id"],
                matchers=parse_matchers(r["matchers"]),
                reason=r["reason"],
                created_by=r["created_by"],
                starts_at=r["starts_at"],
                ends_at=r["ends_at"],
                expired_at=r["expired_at"],
            )
        )
    return out


async def _audit(
    conn: AsyncConnection,
    *,
    actor: str,
    action: str,
    purpose: str | None,
    detail: Mapping[str, Any],
    now: datetime,
) -> None:
    await record(conn, actor.strip(), action, purpose, dict(detail), now)
