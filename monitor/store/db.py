"""Engine set-up and schema migration: SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from monitor.store.sqlite_connections import open_connections_safely

MIGRATIONS = Path(__file__).parent / "migrations"


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def dialect_insert(
    conn: AsyncConnection | AsyncEngine | Connection, table: Any
) -> postgresql.Insert | sqlite.Insert:
    """An INSERT in the store's own dialect, which has ON CONFLICT (do nothing, do update):
    PostgreSQL's in production, SQLite's otherwise. The one place that chooses."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; for SQLite, with the pragmas a busy single-file store needs."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        open_connections_safely(engine)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            # WAL lets the web UI read while the pipeline writes; secure_delete overwrites
            # purged text instead of leaving it in free pages (retention and deletions).
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def missing_sqlite_file(url: str) -> str | None:
    """The path of a SQLite store that does not exist yet (connecting would create it); None
    for any other URL or an existing file."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database).expanduser()
    return None if path.is_file() else str(parsed.database)


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: set(inspect(c).get_table_names()))


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def _upgrade(connection: Connection, revision: str, post_key_secret: str | None) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    # Migrations that key stored post ids need the same secret as the running service
    # (`post_key_env`); monitor/store/keys.py refuses a mismatch.
    cfg.attributes["post_key_secret"] = post_key_secret
    command.upgrade(cfg, revision)


async def upgrade(
    engine: AsyncEngine, revision: str = "head", *, post_key_secret: str | None = None
) -> None:
    """Bring the schema up to `revision` (Alembic), in the engine's own connection."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision, post_key_secret)


def upgrade_sync(url: str, revision: str = "head", *, post_key_secret: str | None = None) -> None:
    engine = create_engine(url)

    async def run() -> None:
        try:
            await upgrade(engine, revision, post_key_secret=post_key_secret)
        finally:
            await engine.dispose()

    asyncio.run(run())
