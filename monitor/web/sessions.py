"""Signed-in sessions in the `web_sessions` table.

The cookie carries a random token; the store keeps only its SHA-256, so reading the database
does not let anyone sign in. Each session has a CSRF token for its forms, an idle timeout, an
absolute lifetime, and the purpose its user last gave for viewing evidence.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.store.tables import users, web_sessions
from monitor.web.accounts import User

# Writing last_seen_at on every request would make each page view a write: once a minute is
# precise enough for an idle timeout measured in tens of minutes.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    user: User
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    purpose: str | None
    purpose_until: datetime | None

    def purpose_at(self, now: datetime) -> str | None:
        """The purpose given for evidence views, while it is still valid."""
        if self.purpose and self.purpose_until is not None and now < self.purpose_until:
            return self.purpose
        return None


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def create(
    conn: AsyncConnection, username: str, now: datetime, lifetime: timedelta
) -> tuple[str, str]:
    """A new session; returns (cookie token, CSRF token). The token is shown only here."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    await conn.execute(
        web_sessions.insert().values(
            id=token_id(token),
            username=username,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
        )
    )
    return token, csrf


async def load(conn: AsyncConnection, token: str, now: datetime, idle: timedelta) -> Session | None:
    """The live session for a cookie token, or None when unknown, expired, idle or disabled."""
    row = (
        await conn.execute(
            select(web_sessions, users.c.role, users.c.disabled)
            .join(users, users.c.username == web_sessions.c.username)
            .where(web_sessions.c.id == token_id(token))
        )
    ).first()
    if row is None or row.disabled:
        return None
    if now >= row.expires_at or now - row.last_seen_at >= idle:
        await conn.execute(delete(web_sessions).where(web_sessions.c.id == row.id))
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        await conn.execute(
            update(web_sessions).where(web_sessions.c.id == row.id).values(last_seen_at=now)
        )
    return Session(
        id=row.id,
        user=User(row.username, row.role),
        csrf_token=row.csrf_token,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        purpose=row.purpose,
        purpose_until=row.purpose_until,
    )


async def alive(conn: AsyncConnection, session_id: str, now: datetime, idle: timedelta) -> bool:
    """Whether a session still lets its user in (not ended, expired, idle or disabled); read-only,
    for long requests such as the event stream that must stop when their session ends."""
    row = (
        await conn.execute(
            select(web_sessions.c.expires_at, web_sessions.c.last_seen_at, users.c.disabled)
            .join(users, users.c.username == web_sessions.c.username)
            .where(web_sessions.c.id == session_id)
        )
    ).first()
    return (
        row is not None
        and not row.disabled
        and now < row.expires_at
        and now - row.last_seen_at < idle
    )


async def set_purpose(
    conn: AsyncConnection, session_id: str, purpose: str, until: datetime
) -> None:
    await conn.execute(
        update(web_sessions)
        .where(web_sessions.c.id == session_id)
        .values(purpose=purpose, purpose_until=until)
    )


async def end(conn: AsyncConnection, session_id: str) -> None:
    await conn.execute(delete(web_sessions).where(web_sessions.c.id == session_id))


async def end_all_for(conn: AsyncConnection, username: str) -> int:
    done = await conn.execute(delete(web_sessions).where(web_sessions.c.username == username))
    return int(done.rowcount or 0)


async def purge_expired(conn: AsyncConnection, now: datetime) -> int:
    done = await conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))
    return int(done.rowcount or 0)
