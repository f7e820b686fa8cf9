"""Processing cost per post on SQLite: CPU and SQL statements per post for posts that open and
extend alerts (the chaos and durability tests' pushed rumours: six wards, 41 authors), through
the real runtime (keyword classifier, the shipped rules with their stored windows, signals,
incidents and the alert stage), one batch per transaction as the worker takes them.

Baseline, measured in the same run: intake alone (ingest and store, no processing) on the same
number of posts, the floor every post pays before it is processed. The ratio says what
processing costs on top of storing.

    .venv/bin/python benchmarks/processing.py [--posts 2000] [--batch 64] [--repeat 3]
    .venv/bin/python benchmarks/processing.py --posts 1000 --compare 40 200 [--repeat 2]

`--compare SMALL LARGE` processes the same posts in small and in large batches: the worker's
fixed cost per batch (regrouping, stage queries, the transaction) is what the small batches
pay more per post, as a live stream that arrives a few posts at a time does. Printed with the
fixed cost per batch it implies, ratio small/large as the baseline to compare changes against.

CPU is this process's user+sys time (`time.process_time`), so it counts the event loop and the
background tasks the service runs beside the worker, as a running service pays them; it is
taken as the best of `--repeat` runs on a fresh store each.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event  # noqa: E402

from monitor.classify.keyword import KeywordClassifier  # noqa: E402
from monitor.config import Settings  # noqa: E402
from monitor.runtime.app import open_runtime  # noqa: E402
from monitor.runtime.queues import Envelope  # noqa: E402
from monitor.types import RawPost  # noqa: E402

WARDS = ["Manningham", "Toller", "Heaton", "Little Horton", "Girlington", "Keighley"]
START = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)


def raw_posts(n: int, same_time: bool = False) -> list[RawPost]:
    """Fictional rumour posts naming six wards, as tests/chaos_harness.py pushes them (a
    second apart; `same_time`: all at one time, as the chaos tests push them)."""
    return [
        RawPost(
            platform="partner",
            native_id=f"fictional-bench-{i}",
            text=f"(fictional) Rumour the community centre in {WARDS[i % len(WARDS)]} is "
            f"closing, is it true? bench {i}",
            created_at=START if same_time else START + timedelta(seconds=i),
            author_id=f"partner-author-{i % 41}",
            source="push:bench",
        )
        for i in range(n)
    ]


@dataclass(frozen=True)
class Run:
    cpu: float  # seconds of user+sys
    statements: int
    alerts_touched: int


async def run_once(db: Path, posts: Sequence[RawPost], batch: int, process: bool) -> Run:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{db}",
        classifier="keyword",
        home=str(ROOT),
        retention_purge_minutes=0,
        rules_reload_seconds=0,
    )
    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        statements = 0

        def count(*_: Any) -> None:
            nonlocal statements
            statements += 1

        event.listen(rt.engine.sync_engine, "before_cursor_execute", count)
        pipeline = rt.pipeline
        cpu0 = time.process_time()
        for i in range(0, len(posts), batch):
            envelope = Envelope("push:bench", tuple(posts[i : i + batch]))
            stored = await pipeline.intake([envelope], datetime.now(UTC))
            if process:
                await pipeline.process(stored)
        cpu = time.process_time() - cpu0
        event.remove(rt.engine.sync_engine, "before_cursor_execute", count)
        return Run(cpu, statements, pipeline.stats.alerts_touched)


async def best(posts: Sequence[RawPost], batch: int, process: bool, repeat: int) -> Run:
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(await run_once(Path(tmp) / "bench.db", posts, batch, process))
    return min(runs, key=lambda r: r.cpu)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--compare",
        type=int,
        nargs=2,
        metavar=("SMALL", "LARGE"),
        help="process the same posts in batches of SMALL and of LARGE; per-post cost of each",
    )
    parser.add_argument(
        "--same-time",
        action="store_true",
        help="all posts carry one created_at (as tests/test_chaos.py pushes them)",
    )
    args = parser.parse_args()
    posts = raw_posts(args.posts, args.same_time)
    if args.compare:
        await compare(posts, args.compare[0], args.compare[1], args.repeat)
        return
    floor = await best(posts, args.batch, False, args.repeat)
    full = await best(posts, args.batch, True, args.repeat)
    n = len(posts)
    print(f"{n} posts, {args.batch} per batch, best of {args.repeat} (CPU: user+sys)")
    for label, run in (("baseline: intake only", floor), ("intake and processing", full)):
        print(
            f"  {label:<24} {run.cpu / n * 1000:6.2f} ms CPU/post  "
            f"{n / run.cpu:7.0f} posts/CPU-s  {run.statements / n:5.2f} statements/post"
        )
    print(f"  processing on top of intake: {(full.cpu - floor.cpu) / n * 1000:.2f} ms CPU/post")
    print(f"  ratio (full / intake only): {full.cpu / floor.cpu:.2f}")
    print(f"  alerts touched: {full.alerts_touched}")


async def compare(posts: Sequence[RawPost], small: int, large: int, repeat: int) -> None:
    """Per-post cost of the same posts in small and in large batches, from the same run."""
    runs = {b: await best(posts, b, True, repeat) for b in (small, large)}
    n = len(posts)
    print(f"{n} posts, intake and processing, best of {repeat} (CPU: user+sys)")
    for b, run in runs.items():
        batches = -(-n // b)
        print(
            f"  {b:5d} per batch ({batches:4d} batches) {run.cpu / n * 1000:6.2f} ms CPU/post  "
            f"{run.statements / n:5.2f} statements/post  alerts touched {run.alerts_touched}"
        )
    s, lg = runs[small], runs[large]
    extra = -(-n // small) - -(-n // large)
    print(f"  ratio (small / large batches, per post): {s.cpu / lg.cpu:.2f}")
    if extra > 0:
        print(
            f"  fixed cost per batch: {(s.cpu - lg.cpu) / extra * 1000:.1f} ms CPU, "
            f"{(s.statements - lg.statements) / extra:.1f} statements"
        )


if __name__ == "__main__":
    asyncio.run(main())
