"""Shared fixtures: settings on a temporary home, and store URLs for SQLite and PostgreSQL.

PostgreSQL tests run against the server at $MONITOR_TEST_PG_URL (default the local one on
127.0.0.1:5432). Outside CI they skip, saying why, when no server answers; in CI (CI=true) a
missing server fails them, so a broken CI machine can never pass by skipping.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from monitor.config import Settings

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
PG_ADMIN_URL = os.environ.get(
    "MONITOR_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop (an
    async test asking for a fixture): in a thread of its own, with a loop of its own."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def _pg_reachable() -> str | None:
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
        await conn.close()

    try:
        run_sync(probe)
    except Exception as exc:  # any failure means: no usable server
        return f"{type(exc).__name__}: {exc}"
    return None


_PG_PROBLEM: list[str | None] = []


def require_postgres() -> None:
    if not _PG_PROBLEM:
        _PG_PROBLEM.append(_pg_reachable())
    problem = _PG_PROBLEM[0]
    if problem is None:
        return
    message = f"PostgreSQL at {PG_ADMIN_URL} not reachable ({problem})"
    if IN_CI:
        pytest.fail(message + " — CI must run the PostgreSQL tests")
    pytest.skip(message + "; set MONITOR_TEST_PG_URL or start the server to run this test")


@contextlib.contextmanager
def fresh_pg_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards; yields its SQLAlchemy URL."""
    require_postgres()
    import asyncpg

    name = f"monitor_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    run_sync(lambda: admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        run_sync(lambda: admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards)."""
    with fresh_pg_database() as url:
        yield url


REDIS_URL = os.environ.get("MONITOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
_REDIS_PROBLEM: list[str | None] = []


def require_redis() -> None:
    if not _REDIS_PROBLEM:
        import redis

        try:
            redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
            _REDIS_PROBLEM.append(None)
        except Exception as exc:  # any failure means: no usable server
            _REDIS_PROBLEM.append(f"{type(exc).__name__}: {exc}")
    problem = _REDIS_PROBLEM[0]
    if problem is None:
        return
    message = f"Redis at {REDIS_URL} not reachable ({problem})"
    if IN_CI:
        pytest.fail(message + " — CI must run the Redis tests")
    pytest.skip(message + "; set MONITOR_TEST_REDIS_URL or start the server to run this test")


@pytest.fixture
def redis_url() -> str:
    require_redis()
    return REDIS_URL


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'monitor.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on both backends."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'monitor.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    """Default settings on a temporary SQLite file, the keyword classifier, the checkout home."""
    return Settings(database_url=sqlite_url, home=str(ROOT), classifier="keyword")


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        if IN_CI:
            pytest.fail(f"{SHARED_DATA} is missing: CI must have ../shared beside the checkout")
        pytest.skip(f"{SHARED_DATA} is absent (the labelled data and boundaries live there)")
    return SHARED_DATA
