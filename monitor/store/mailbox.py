"""The local mailbox: messages the `local` receiver delivered, for the web UI to show.

`html` was rendered by monitor/alerts/render.py with autoescaping, so post text inside it is
inert; show it in a sandboxed frame anyway (defence in depth). Each row says which roles may
read it (monitor/privacy/mailbox_access.py); the store returns a reader only those rows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.privacy.mailbox_access import ADMIN_ONLY, encode
from monitor.store.tables import mailbox


async def list_messages(
    conn: AsyncConnection,
    role: str,
    limit: int = 50,
    box: str | None = None,
    sro_mailbox: str = "sro",
) -> list[dict[str, Any]]:
    """Newest first, only the messages `role` may read: id, recipient (the mailbox), subject,
    text, html, kind and sent_at. The senior responsible officer's mailbox is for admins."""
    stmt = select(mailbox).order_by(mailbox.c.sent_at.desc(), mailbox.c.id.desc()).limit(limit)
    if box is not None:
        stmt = stmt.where(mailbox.c.mailbox == box)
    if role not in ADMIN_ONLY:
        stmt = stmt.where(
            mailbox.c.readers.contains(encode([role]), autoescape=True),
            mailbox.c.mailbox != sro_mailbox,
        )
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
