"""Engine set-up and schema migration: SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

import asyncio
import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, event, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from monitor.config import mask_url_password
from monitor.store.sqlite_connections import BUSY_TRY_S, open_connections_safely

if TYPE_CHECKING:
    from alembic.config import Config

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
        # SQLite waits for another connection's lock a try at a time; the whole wait, 30 s, is
        # the connection's (sqlite_connections.BUSY_WAIT_S), which a stop ends within a try.
        engine = create_async_engine(url, connect_args={"timeout": BUSY_TRY_S}, **kwargs)
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


SQLITE_HEADER = b"SQLite format 3\x00"
# What opening a store raises when there is none to open: no server, a folder, a file that is
# not a database (commands turn it into `cannot_open`'s one line).
CONNECT_ERRORS = (OSError, OperationalError, InterfaceError, DatabaseError)


def cannot_open(url: str, why: BaseException | str) -> str:
    """One line saying the store at `url` (its password masked) cannot be opened, and why."""
    if isinstance(why, BaseException):
        why = str(getattr(why, "orig", None) or why).splitlines()[0][:200]
    return f"cannot open the store ({mask_url_password(url)}): {why}"


def sqlite_file_problem(url: str) -> str | None:
    """Why the SQLite store named by `url` cannot be opened, found without opening it: a
    folder, or a file that is not a database. (Opening one fails inside aiosqlite's worker
    thread, which could then report to an event loop already closed.) None otherwise."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database).expanduser()
    if path.is_dir():
        return f"{parsed.database} is a folder, not a database file"
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"{parsed.database}: cannot read: {exc.strerror or exc}"
    if head and head != SQLITE_HEADER:  # an empty file is a new store to SQLite
        return f"{parsed.database} is not a SQLite database file"
    return None


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: set(inspect(c).get_table_names()))


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def _upgrade(connection: Connection, revision: str, post_key_secret: str | None) -> None:
    from alembic import command

    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    # Migrations that key stored post ids need the same secret as the running service
    # (`post_key_env`); monitor/store/keys.py refuses a mismatch.
    cfg.attributes["post_key_secret"] = post_key_secret
    command.upgrade(cfg, revision)


_REVISION = re.compile(r"^revision = [\"']([\w-]+)[\"']$", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision = (?:None|[\"']([\w-]+)[\"'])$", re.MULTILINE)


@functools.cache
def head_revision() -> str | None:
    """The one head of the migrations, read from their files' `revision = "..."` and
    `down_revision = ...` lines; None when they are not one plain chain (a merge, a branch, a
    line written another way): then only Alembic can say."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        found, down = _REVISION.findall(source), _DOWN_REVISION.findall(source)
        if len(found) != 1 or len(down) != 1:
            return None
        revisions.add(found[0])
        if down[0]:
            parents.add(down[0])
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents < revisions else None


def _at_head(connection: Connection) -> bool:
    """Whether the store is already at the migrations' head: then upgrading would only load
    Alembic, its environment and every migration script to do nothing (a quarter of a
    second of each process's start)."""
    head = head_revision()
    if head is None or not inspect(connection).has_table("alembic_version"):
        return False
    stamped = connection.execute(text("select version_num from alembic_version")).scalars().all()
    return stamped == [head]


async def upgrade(
    engine: AsyncEngine, revision: str = "head", *, post_key_secret: str | None = None
) -> None:
    """Bring the schema up to `revision` (Alembic), in the engine's own connection."""
    async with engine.begin() as conn:
        if revision == "head" and await conn.run_sync(_at_head):
            return
        await conn.run_sync(_upgrade, revision, post_key_secret)


def upgrade_sync(url: str, revision: str = "head", *, post_key_secret: str | None = None) -> None:
    engine = create_engine(url)

    async def run() -> None:
        try:
            await upgrade(engine, revision, post_key_secret=post_key_secret)
        finally:
            await engine.dispose()

    asyncio.run(run())
