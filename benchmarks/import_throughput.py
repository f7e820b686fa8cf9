"""Import throughput into SQLite and PostgreSQL: posts/s through intake (parse, ingest,
pseudonymise, place-match, store with the cursor), and through the whole pipeline with the
keyword classifier, the shipped rules, signals and alerts.

Baseline, measured in the same run: the same intake, one transaction per post.

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

from monitor.classify.keyword import KeywordClassifier  # noqa: E402
from monitor.config import Settings  # noqa: E402
from monitor.ingest.importer import import_file  # noqa: E402
from monitor.ingest.replay import iter_records  # noqa: E402
from monitor.runtime.app import open_runtime  # noqa: E402
from monitor.runtime.queues import Envelope  # noqa: E402
from monitor.types import RawPost  # noqa: E402

PLACES = ["Manningham", "Girlington", "Toller", "Lidget Green", "City Park", "Keighley", "Shipley"]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def write_posts(path: Path, n: int, lang: str | None = None) -> None:
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
            if lang:
                record["lang"] = lang
            fh.write(json.dumps(record) + "\n")


def read_posts(path: Path) -> list[RawPost]:
    return [r for _, r in iter_records(path) if isinstance(r, RawPost)]


async def intake_rate(url: str, path: Path, batch: int, limit: int | None = None) -> float:
    """Parse, ingest (normalise, language, pseudonymise, places) and store with the cursor:
    what the worker does before classifying, `batch` posts per transaction."""
    settings = Settings(database_url=url, classifier="keyword")
    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        t0 = time.perf_counter()
        posts = read_posts(path)[:limit]
        now = datetime.now(UTC)
        for i in range(0, len(posts), batch):
            chunk = tuple(posts[i : i + batch])
            await rt.pipeline.intake([Envelope("bench", chunk, str(i + len(chunk)))], now)
        elapsed = time.perf_counter() - t0
    return len(posts) / elapsed


async def full_rate(url: str, path: Path, n: int) -> float:
    """`monitor import` end to end: intake, keyword classifier, rules, signals, alerts."""
    settings = Settings(database_url=url, classifier="keyword")
    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        t0 = time.perf_counter()
        await import_file(path, rt.pipeline, batch_size=settings.ingest_batch_size)
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
        # Bluesky and Mastodon posts usually carry the author's language tag, which spares
        # ingest its language detection (the costliest step of intake).
        tagged = Path(tmp) / "tagged.jsonl"
        write_posts(tagged, args.posts, lang="en")
        backends = [("sqlite", lambda tag: f"sqlite+aiosqlite:///{tmp}/{tag}.db")]
        pg = None if args.no_postgres else await pg_database()
        if pg:
            pg_names: dict[str, str] = {}

            def pg_url(tag: str) -> str:
                return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{pg_names[tag]}"

            backends.append(("postgresql", pg_url))
        for backend, make_url in backends:
            for tag in ("naive", "intake", "tagged", "full"):
                if backend == "postgresql":
                    created = await pg_database()
                    assert created
                    pg_names[tag] = created
                url = make_url(tag)
                if tag == "naive":
                    rate = await intake_rate(url, data, 1, limit=args.baseline_posts)
                    label = "baseline: intake, one transaction per post"
                elif tag == "intake":
                    rate = await intake_rate(url, data, 500)
                    label = "intake: 500 posts per transaction (as the worker)"
                elif tag == "tagged":
                    rate = await intake_rate(url, tagged, 500)
                    label = "intake, posts with a platform language tag"
                else:
                    rate = await full_rate(url, data, args.posts)
                    label = "monitor import end to end, keyword classifier"
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
