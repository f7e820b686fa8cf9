"""The repeated-viewing guard's check against a long audit log, with and without the audit
log's actor index (migration 0012), on SQLite and, where it answers, PostgreSQL.

Before every evidence view the guard (monitor/safeguards/viewguard.py) reads the viewing
user's evidence views in its window (30 days by default). The audit log only grows, so without
an index on (actor, at) each check reads the whole of it. Baseline, measured in the same run:
the same store with the index dropped.

    .venv/bin/python benchmarks/view_guard.py [--events 20000 200000] [--pg URL]

Aim: a check stays about flat as the log grows (a few milliseconds at any size a council's log
reaches), so opening evidence never waits on the log's age.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from monitor.safeguards.viewguard import VIEW_ACTIONS, GuardPolicy, _events  # noqa: E402
from monitor.store import db  # noqa: E402
from monitor.store.tables import audit_events  # noqa: E402

USERS = 40
ACTIONS = (*VIEW_ACTIONS, "page_viewed", "alert_taken", "sign_in")
SECONDS = 2.0


async def fill(engine: AsyncEngine, events: int, now: datetime) -> None:
    """`events` audit rows over 120 days from USERS users (fictional author digests)."""
    rnd = random.Random(13)
    rows = [
        {
            "at": now - timedelta(minutes=rnd.randint(0, 60 * 24 * 120)),
            "actor": f"user{i % USERS}",
            "action": rnd.choice(ACTIONS),
            "detail": {
                "context": f"alert:{i % 500}",
                "viewed_authors": [f"{rnd.getrandbits(64):016x}" for _ in range(5)],
            },
            "prev_hash": "0" * 64,
            "hash": "0" * 64,
        }
        for i in range(events)
    ]
    async with engine.begin() as conn:
        for start in range(0, events, 5000):
            await conn.execute(insert(audit_events), rows[start : start + 5000])


async def per_check(engine: AsyncEngine, now: datetime) -> tuple[float, int]:
    """Milliseconds per guard read for one user, and the events it read."""
    async with engine.connect() as conn:
        started, n, read = time.perf_counter(), 0, 0
        while time.perf_counter() - started < SECONDS:
            read = len(await _events(conn, "user7", now, GuardPolicy()))
            n += 1
        return (time.perf_counter() - started) / n * 1000, read


async def measure(url: str, events: int) -> tuple[float, float, int]:
    engine = db.create_engine(url)
    try:
        await db.upgrade(engine)
        now = datetime.now(UTC)
        await fill(engine, events, now)
        indexed, read = await per_check(engine, now)
        async with engine.begin() as conn:
            await conn.execute(text("DROP INDEX ix_audit_events_actor_at"))
        scanned, _ = await per_check(engine, now)
        return scanned, indexed, read
    finally:
        await engine.dispose()


async def pg_database(base: str, name: str, create: bool = True) -> str | None:
    """A fresh database beside `base`'s (or, not `create`, none left), or None when no server
    answers."""
    admin = db.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            if create:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OSError:
        return None
    finally:
        await admin.dispose()
    return base.rsplit("/", 1)[0] + f"/{name}"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, nargs="+", default=[20_000, 200_000])
    ap.add_argument("--pg", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args(argv)
    print("| store | audit events | guard read, no index (baseline) | with the index | ratio |")
    print("|---|---|---|---|---|")
    for events in args.events:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/guard.db"
            scanned, indexed, read = asyncio.run(measure(url, events))
        print(
            f"| SQLite | {events:,} | {scanned:.1f} ms | {indexed:.1f} ms "
            f"({read} events read) | {scanned / indexed:.0f}x |"
        )
        pg = asyncio.run(pg_database(args.pg, "bench_view_guard"))
        if pg is None:
            print(f"| PostgreSQL | {events:,} | no server at {args.pg} | | |")
            continue
        scanned, indexed, read = asyncio.run(measure(pg, events))
        asyncio.run(pg_database(args.pg, "bench_view_guard", create=False))
        print(
            f"| PostgreSQL | {events:,} | {scanned:.1f} ms | {indexed:.1f} ms "
            f"({read} events read) | {scanned / indexed:.0f}x |"
        )


if __name__ == "__main__":
    main()
