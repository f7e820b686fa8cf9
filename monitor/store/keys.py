"""The author key ring: one random key per pseudonym period, kept in `author_keys`, then destroyed.

Every instance sharing a store uses the same key for the same period (periods are aligned to a
fixed epoch, and the first instance to need a key creates it; the others read it back), so an
author gets the same reference whichever worker ingests their posts. When a period is over,
`destroy_retired` deletes its key: references made with it can never be recomputed or linked to
later ones. When `author_key_env` is set, the secret it names is mixed into every key, so a
copy of the database alone is not enough to recompute references for the current period.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor.config import Settings
from monitor.privacy.postids import PostIds
from monitor.store.db import dialect_insert
from monitor.store.tables import author_keys, deployment_keys

KEY_BYTES = 32

# Periods are counted from a fixed Monday, so every instance computes the same period for the
# same moment (and weekly rotation starts on Mondays).
PERIOD_EPOCH = date(1970, 1, 5)


def period_start(now: datetime, rotation_days: int) -> date:
    """The first day (UTC) of the key period that `now` falls in."""
    if rotation_days < 1:
        raise ValueError("author_key_rotation_days must be at least 1")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    days = (now.astimezone(UTC).date() - PERIOD_EPOCH).days
    return PERIOD_EPOCH + timedelta(days=days - days % rotation_days)


class KeyRing:
    """Gets or creates the key of the current period; destroys those of past periods."""

    def __init__(
        self, engine: AsyncEngine, *, rotation_days: int, secret: str | None = None
    ) -> None:
        if rotation_days < 1:
            raise ValueError("author_key_rotation_days must be at least 1")
        self.engine = engine
        self.rotation_days = rotation_days
        self._secret = secret.encode("utf-8") if secret else None
        self._cache: dict[str, bytes] = {}
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, engine: AsyncEngine) -> KeyRing:
        return cls(
            engine,
            rotation_days=settings.author_key_rotation_days,
            secret=settings.secret("author_key"),
        )

    def period(self, now: datetime) -> str:
        """The period label `now` falls in, e.g. "2026-11-02" (the period's first day, UTC)."""
        return period_start(now, self.rotation_days).isoformat()

    async def current(self, now: datetime) -> bytes:
        """The key for the period `now` falls in, created (race-safely) if it has none yet."""
        period = self.period(now)
        key = self._cache.get(period)
        if key is not None:
            return key
        async with self._lock:
            key = self._cache.get(period)
            if key is None:
                async with self.engine.begin() as conn:
                    await _insert_if_absent(conn, period, os.urandom(KEY_BYTES), now)
                    stored = (
                        await conn.execute(
                            select(author_keys.c.key).where(author_keys.c.period == period)
                        )
                    ).scalar_one()
                key = self._effective(bytes(stored))
                self._cache = {p: k for p, k in self._cache.items() if p >= period}
                self._cache[period] = key
        return key

    async def held_keys(self) -> list[bytes]:
        """Every key still held, newest first: to find an author's posts when a platform reports
        the account deleted (posts made under destroyed keys cannot be found, by design)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(author_keys.c.key).order_by(author_keys.c.period.desc())
            )
            return [self._effective(bytes(k)) for (k,) in rows]

    async def destroy_retired(self, now: datetime) -> int:
        """Delete the keys of every period before the current one; how many were deleted."""
        period = self.period(now)
        async with self._lock:
            async with self.engine.begin() as conn:
                result = await conn.execute(
                    delete(author_keys).where(author_keys.c.period < period)
                )
            self._cache = {p: k for p, k in self._cache.items() if p >= period}
        return int(result.rowcount or 0)

    def _effective(self, stored: bytes) -> bytes:
        if self._secret is None:
            return stored
        return hmac.new(self._secret, stored, hashlib.sha256).digest()


async def _insert_if_absent(conn: AsyncConnection, period: str, key: bytes, now: datetime) -> None:
    """Insert the period's key unless another instance got there first (then keep theirs)."""
    values = {"period": period, "key": key, "created_at": now.astimezone(UTC)}
    if conn.dialect.name in ("sqlite", "postgresql"):
        stmt = dialect_insert(conn, author_keys).values(values).on_conflict_do_nothing()
        await conn.execute(stmt)
    else:
        try:
            async with conn.begin_nested():
                await conn.execute(insert(author_keys).values(values))
        except IntegrityError:
            pass


# --- the post id key (never rotates) ---------------------------------------------------------

POST_IDS = "post-ids"


class PostKeyMismatch(RuntimeError):
    """The store's post ids were keyed with other secret material than the one configured."""


def post_ids_sync(conn: Connection, secret: str | None, now: datetime) -> PostIds:
    """The deployment's `PostIds`, its key created (race-safely) on first use. Synchronous, for
    migrations; `PostKeys` is the cached async door to it."""
    row = conn.execute(
        select(deployment_keys.c.key, deployment_keys.c.check).where(
            deployment_keys.c.name == POST_IDS
        )
    ).first()
    if row is None:
        values = {
            "name": POST_IDS,
            "key": os.urandom(KEY_BYTES),
            "check": None,
            "created_at": now.astimezone(UTC),
        }
        conn.execute(dialect_insert(conn, deployment_keys).values(values).on_conflict_do_nothing())
        row = conn.execute(
            select(deployment_keys.c.key, deployment_keys.c.check).where(
                deployment_keys.c.name == POST_IDS
            )
        ).one()
    stored = bytes(row.key)
    key = hmac.new(secret.encode("utf-8"), stored, hashlib.sha256).digest() if secret else stored
    ids = PostIds(key)
    if row.check is None:
        conn.execute(
            update(deployment_keys)
            .where(deployment_keys.c.name == POST_IDS, deployment_keys.c.check.is_(None))
            .values(check=ids.check)
        )
    elif row.check != ids.check:
        raise PostKeyMismatch(
            "the stored post ids were keyed with another post_key_env secret (or none): "
            "set the secret they were made with; new posts would not match the stored ones"
        )
    return ids


class PostKeys:
    """Gets the deployment's `PostIds` once per process (they never change)."""

    def __init__(self, engine: AsyncEngine, secret: str | None = None) -> None:
        self.engine = engine
        self._secret = secret
        self._ids: PostIds | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, engine: AsyncEngine) -> PostKeys:
        return cls(engine, settings.secret("post_key"))

    async def get(self) -> PostIds:
        if self._ids is not None:
            return self._ids
        async with self._lock:
            if self._ids is None:
                now = datetime.now(UTC)
                async with self.engine.begin() as conn:
                    self._ids = await conn.run_sync(post_ids_sync, self._secret, now)
        return self._ids
