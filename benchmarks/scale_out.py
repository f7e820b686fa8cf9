"""Scale-out: a synthetic stream through 1, 2 and 4 worker processes (`monitor run --role
worker`) over PostgreSQL and a Redis stream, with the real classifier.

    .venv/bin/python benchmarks/scale_out.py [--posts 4000] [--workers 1,2,4]
        [--classifier transformer]

For each worker count: a fresh database and stream; the workers start and load the model,
then the clock runs from putting the posts on the stream until every post is processed. Prints
posts/s, the ratio to one worker, and posts/s per worker. Each worker gets cores/N torch
threads, so the runs share the machine's cores the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.runtime.queues import Envelope, RedisSettings, RedisStreamQueue  # noqa: E402
from monitor.store import db  # noqa: E402
from monitor.types import RawPost  # noqa: E402

PG_ADMIN = os.environ.get("MONITOR_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("MONITOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEMPLATES = [
    "(fictional) Apparently the old mill in {p} is being turned into flats and nobody asked us",
    "(fictional) Bins not collected again in {p}, third week running, what is going on",
    "(fictional) Lovely evening at the park in {p}, kids loved the fireworks",
    "(fictional) Is it true they are closing the library in {p}? Anyone know?",
    "(fictional) Roadworks on the main road through {p} again, buses diverted till Friday",
    "(fictional) Everyone meet outside the community centre in {p} at 7pm, time to sort this",
]
PLACES = ["Manningham", "Toller", "Girlington", "Heaton", "Little Horton", "Keighley"]


def posts(n: int) -> list[RawPost]:
    start = datetime(2026, 11, 2, tzinfo=UTC)
    return [
        RawPost(
            platform="bluesky",
            native_id=f"at://did:plc:fictional{i % 300}/app.bsky.feed.post/scale{i}",
            text=TEMPLATES[i % len(TEMPLATES)].format(p=PLACES[i % len(PLACES)]) + f" #{i}",
            created_at=start + timedelta(seconds=i),
            author_id=f"did:plc:fictional{i % 300}",
            language="en",
            source="bench",
        )
        for i in range(n)
    ]


async def processed(url: str) -> int:
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        return int(await conn.fetchval("select count(*) from posts where processed_at is not null"))
    finally:
        await conn.close()


async def run(workers: int, n: int, classifier: str, cores: int) -> float:
    name = f"monitor_scale_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
    stream = f"bench:{uuid.uuid4().hex}"
    engine = db.create_engine(url)
    await db.upgrade(engine)
    await engine.dispose()
    env = dict(os.environ)
    env.update(
        MONITOR_DATABASE_URL=url,
        MONITOR_QUEUE_URL=REDIS,
        MONITOR_QUEUE_STREAM=stream,
        MONITOR_CLASSIFIER=classifier,
        MONITOR_CLASSIFIER_THREADS=str(max(1, cores // workers)),
        MONITOR_LOG_LEVEL="WARNING",
        MONITOR_HOME=str(ROOT),
    )
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "monitor",
            "run",
            "--role",
            "worker",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(workers)
    ]
    queue = RedisStreamQueue(RedisSettings(url=REDIS, stream=stream, max_length=10**9))
    try:
        # Each worker says "role worker: ..." once its classifier is loaded: start the clock
        # only when all are ready, so model loading is not counted.
        for proc in procs:
            assert proc.stderr is not None
            while b"role worker" not in (line := await proc.stderr.readline()):
                if not line:
                    raise RuntimeError("a worker exited; run it by hand to see why")
        # Keep reading what they print, so a full pipe never stalls a worker.
        drains = [asyncio.create_task(_drain(p)) for p in procs]
        batch = posts(n)
        t0 = time.perf_counter()
        for i in range(0, n, 64):
            await queue.put(Envelope("bench", tuple(batch[i : i + 64])))
        while await processed(url) < n:
            await asyncio.sleep(0.05)
        rate = n / (time.perf_counter() - t0)
        for task in drains:
            task.cancel()
        return rate
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                await asyncio.wait_for(p.wait(), 30)
            except TimeoutError:
                print(f"worker {p.pid} ignored SIGTERM for 30 s; killed", file=sys.stderr)
                p.kill()
                await p.wait()
        await queue.redis.delete(stream)
        await queue.close()
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


PROBLEMS: list[str] = []


async def _drain(proc: asyncio.subprocess.Process) -> None:
    """Read what a worker prints; keep its problems (failed batches, retries) for the report."""
    assert proc.stderr is not None
    while line := await proc.stderr.readline():
        text = line.decode(errors="replace").strip()
        if "retrying" in text or "ERROR" in text or "Error:" in text:
            PROBLEMS.append(text)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=4000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--classifier", default="transformer")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    results = []
    for w in [int(x) for x in args.workers.split(",")]:
        rate = await run(w, args.posts, args.classifier, cores)
        results.append((w, rate))
        print(f"  {w} worker(s): {rate:,.0f} posts/s", file=sys.stderr)
    if PROBLEMS:
        errors = sorted({p.split(": ", 1)[0][-80:] for p in PROBLEMS if "Error:" in p})
        failed = sum("retrying" in p for p in PROBLEMS)
        print(f"\n{failed} batch failures in workers (retried): {', '.join(errors)[:400]}")
    base = results[0][1]
    print(f"\n{args.posts} fictional posts, classifier {args.classifier}, {cores} cores\n")
    print("| workers | posts/s | × one worker | posts/s per worker |\n|---:|---:|---:|---:|")
    for w, rate in results:
        print(f"| {w} | {rate:,.0f} | {rate / base:.2f}× | {rate / w:,.0f} |")


if __name__ == "__main__":
    asyncio.run(main())
