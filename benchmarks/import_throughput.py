"""Import throughput into SQLite and PostgreSQL: posts/s through intake (parse, ingest,
pseudonymise, place-match, store with cursor), and through the whole pipeline with the
keyword classifier and the shipped rules.

Baseline, measured in the same run: the naive way, one transaction per post.

    .venv/bin/python benchmarks/import_throughput.py [--posts 20000] [--no-postgres]

Aim (issue #2): at least 5,000 posts/s into SQLite on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.app import open_runtime  # noqa: E402
from monitor.classify.keyword import KeywordClassifier  # noqa: E402
from monitor.collectors.replay import iter_records  # noqa: E402
from monitor.config import Settings  # noqa: E402
from monitor.importer import import_file  # noqa: E402
from monitor.types import RawPost  # noqa: E402

PLACES = ["Manningham", "Girlington", "Toller", "Lidget Green", "City Park", "Keighley", "Shipley"]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def write_posts(path: Path, n: int) -> None:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            record = {
                "platform": "bluesky",
                "id": f"at://did:plc:fictional{i % 500}/app.bsky.feed.post/bench{i}",
                "text": f"(fictional benchmark post {i}) Roadworks near {PLACES[i % len(PLACES)]} "
                "again this morning, buses diverted, anyone know how long for?",
                "created_at": (start + timedelta(seconds=i)).isoformat(),
                "author": f"did:plc:fictional{i % 500}",
                "synthetic": True,
            }
            fh.write(json.dumps(record) + "\n")


async def naive_baseline(url: str, path: Path, limit: int) -> float:
    """One transaction per post: what a straightforward importer does."""
    async with open_runtime(
        Settings(database_url=url, classifier="keyword"), classifier=KeywordClassifier()
    ) as rt:
        posts: list[RawPost] = [r for _, r in iter_records(path) if isinstance(r, RawPost)]
        posts = posts[:limit]
        t0 = time.perf_counter()
        for i, post in enumerate(posts):
            await rt.pipeline.deliver("bench-naive", [post], str(i))
        elapsed = time.perf_counter() - t0
        await rt.pipeline.drain()
    return len(posts) / elapsed


async def measure(url: str, path: Path, n: int, *, process: bool) -> float:
    # For intake alone, a queue that never fills, so classification cannot hold intake back.
    settings = Settings(
        database_url=url, classifier="keyword", queue_size=n + 1 if not process else 1000
    )
    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        t0 = time.perf_counter()
        await import_file(path, rt.pipeline, batch_size=settings.ingest_batch_size)
        if process:
            await rt.pipeline.drain()
        elapsed = time.perf_counter() - t0
    return n / elapsed


async def pg_database() -> str | None:
    try:
        import asyncpg

        conn = await asyncpg.connect(PG_ADMIN, timeout=3)
    except Exception as exc:
        print(f"(PostgreSQL skipped: {exc})")
        return None
    name = f"monitor_bench_{uuid.uuid4().hex[:8]}"
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return name


async def drop_pg(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=20000)
    parser.add_argument("--baseline-posts", type=int, default=1000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    rows: list[tuple[str, str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "posts.jsonl"
        write_posts(data, args.posts)
        backends = [("sqlite", lambda tag: f"sqlite+aiosqlite:///{tmp}/{tag}.db")]
        pg = None if args.no_postgres else await pg_database()
        if pg:
            pg_names: dict[str, str] = {}

            def pg_url(tag: str) -> str:
                return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{pg_names[tag]}"

            backends.append(("postgresql", pg_url))
        for backend, make_url in backends:
            for tag in ("naive", "intake", "full"):
                if backend == "postgresql":
                    created = await pg_database()
                    assert created
                    pg_names[tag] = created
                url = make_url(tag)
                if tag == "naive":
                    rate = await naive_baseline(url, data, args.baseline_posts)
                    label = "baseline: one transaction per post"
                elif tag == "intake":
                    rate = await measure(url, data, args.posts, process=False)
                    label = "import: intake (ingest + store)"
                else:
                    rate = await measure(url, data, args.posts, process=True)
                    label = "import: intake + keyword classifier + rules"
                rows.append((backend, label, rate))
                if backend == "postgresql":
                    await drop_pg(pg_names[tag])
        if pg:
            await drop_pg(pg)
    print(f"\n{args.posts} fictional posts; baseline on {args.baseline_posts}\n")
    print("| backend | path | posts/s | × baseline |\n|---|---|---:|---:|")
    base = {b: r for b, label, r in rows if label.startswith("baseline")}
    for backend, label, rate in rows:
        print(f"| {backend} | {label} | {rate:,.0f} | {rate / base[backend]:.1f}× |")


if __name__ == "__main__":
    asyncio.run(main())
