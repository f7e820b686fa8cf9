"""Source rows: collectors' health snapshots for `monitor sources` and the overview page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.store.db import dialect_insert
from monitor.store.tables import sources


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def record_health(conn: AsyncConnection, snapshots: Sequence[dict[str, Any]]) -> None:
    """Write each collector's counters to its source row (created if it has none yet); the
    cursor is left alone: only the pipeline moves it, with the posts before it."""
    now = datetime.now(UTC)
    for snap in snapshots:
        last_success = _parse(snap.get("last_success"))
        await conn.execute(
            dialect_insert(conn, sources)
            .values(name=snap["name"], kind=snap["kind"], updated_at=now, error_count=0)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        values: dict[str, Any] = {
            "error_count": int(snap.get("error_count") or 0),
            "last_error": snap.get("last_error"),
            "health": snap,
        }
        if last_success is not None:
            values["last_success_at"] = last_success
        await conn.execute(update(sources).where(sources.c.name == snap["name"]).values(**values))


async def list_sources(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(select(sources).order_by(sources.c.name))
    return [dict(r._mapping) for r in rows]
