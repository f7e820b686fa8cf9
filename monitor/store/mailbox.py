"""The local mailbox: messages the `local` receiver delivered, for the web UI to show.

`html` was rendered by monitor/alerts/render.py with autoescaping, so post text inside it is
inert; show it in a sandboxed frame anyway (defence in depth).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.store.tables import mailbox


async def list_messages(
    conn: AsyncConnection, limit: int = 50, box: str | None = None
) -> list[dict[str, Any]]:
    """Newest first: id, recipient (the mailbox), subject, text, html, kind and sent_at."""
    stmt = select(mailbox).order_by(mailbox.c.sent_at.desc(), mailbox.c.id.desc()).limit(limit)
    if box is not None:
        stmt = stmt.where(mailbox.c.mailbox == box)
    rows = (await conn.execute(stmt)).mappings().all()
    return [
        {
            "id": r["id"],
            "recipient": r["mailbox"],
            "subject": r["subject"],
            "text": r["text"],
            "html": r["html"],
            "kind": r["kind"],
            "sent_at": r["sent_at"],
        }
        for r in rows
    ]
