"""Chaos (issue 13): SIGKILL `monitor run` and `monitor import` at seeded random points of push,
import and processing — 21 kills — and account for every post: none lost, none stored or
counted twice, all processed in the end. Prints the figures ("lost: 0") for the CI log.

Set MONITOR_CHAOS_SEED to replay another sequence of kill points.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.chaos_harness import Pusher, Service, base_env, count, tally, wait_processed
from tests.test_import_e2e import fictional_lines

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("MONITOR_CHAOS_SEED", "20261205"))
KILLS_PER_PHASE = 7


def alert_counts_hold(db: Path) -> int:
    """Alerts whose post count disagrees with their posts: a post counted twice."""
    with sqlite3.connect(db, timeout=30) as conn:
        return int(
            conn.execute(
                "select count(*) from alerts a where a.post_count != "
                "(select count(*) from alert_posts p where p.alert_id = a.id)"
            ).fetchone()[0]
        )


def test_sigkill_at_random_points_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    db = tmp_path / "chaos.db"
    services: list[Service] = []
    try:
        lines = run_chaos(rng, tmp_path, db, services)
    finally:
        for service in services:
            service.cleanup()
    print(f"\nchaos (seed {SEED}):\n  " + "\n  ".join(lines))


def run_chaos(rng: random.Random, tmp_path: Path, db: Path, services: list[Service]) -> list[str]:
    lines: list[str] = []

    # --- push: kill `monitor run` while partners push ------------------------------------
    service = Service(db, tmp_path)
    services.append(service)
    service.start()
    pusher = Pusher(service.port, "chaos", batch=40, pause=0.02)
    pusher.start()
    push_kills = 0
    try:
        for _ in range(KILLS_PER_PHASE):
            # Kill mid-push: once this start has answered some pushes, at a random moment.
            before, deadline = len(pusher.accepted), time.monotonic() + 15
            while len(pusher.accepted) < before + 120 and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.5))
            service.kill()
            push_kills += 1
            service.start()
    finally:
        pusher.stop()

    # --- processing: kill while the worker works through a backlog -----------------------
    burst = Pusher(service.port, "backlog", batch=500)
    burst.start()
    while len(burst.accepted) < 2000 and burst.is_alive():
        time.sleep(0.05)
    burst.stop()
    processing_kills = 0
    for _ in range(KILLS_PER_PHASE):
        time.sleep(rng.uniform(0.05, 0.8))
        service.kill()
        processing_kills += 1
        service.start()
    assert wait_processed(db, timeout=180) == 0
    code, log = service.terminate()
    assert code == 0, log[-2000:]
    push = tally(db, pusher.accepted, "partner")
    lines.append(push.line("push", push_kills))
    processing = tally(db, burst.accepted, "partner")
    lines.append(processing.line("processing", processing_kills))

    # --- import: kill `monitor import` at random points, re-run until it completes --------
    data = tmp_path / "chaos.jsonl"
    n = 4000
    data.write_text("\n".join(fictional_lines(n, prefix="chaos")) + "\n", encoding="utf-8")
    env = base_env(db, MONITOR_INGEST_BATCH_SIZE="200")
    import_kills = 0
    for _ in range(KILLS_PER_PHASE):
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "import", str(data)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(2.5, 5.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            import_kills += 1
        proc.wait()
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "import", str(data)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    imported = count(db, "select count(*) from posts where platform = 'mastodon'")
    distinct = count(db, "select count(distinct id) from posts where platform = 'mastodon'")
    left = count(db, "select count(*) from posts where processed_at is null")
    lines.append(
        f"import: kills: {import_kills}, lines: {n}, stored: {imported}, lost: {n - imported}, "
        f"duplicated: {imported - distinct}, unprocessed: {left}"
    )
    twice = alert_counts_hold(db)
    lines.append(f"alerts counting a post twice: {twice}")
    assert push_kills + processing_kills + import_kills >= 20, lines
    assert push.accepted > 0 and push.lost == 0 and push.duplicated == 0, lines
    assert processing.lost == 0 and processing.duplicated == 0, lines
    assert processing.unprocessed == 0, lines
    assert imported == distinct == n and left == 0, lines
    assert twice == 0, lines
    return lines
