"""Chaos (issue 13): SIGKILL `monitor import` at seeded random points — 7 kills — re-running it
until it completes, and account for every line: none lost, none stored or counted twice, all
processed. Prints the figures for the CI log. (The push and processing kills are in
tests/test_chaos.py; a file of its own so that a parallel run can run the two side by side.)

Set MONITOR_CHAOS_SEED to replay another sequence of kill points.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.store.db import upgrade_sync
from tests.chaos_harness import (
    KILLS_PER_PHASE,
    SEED,
    alert_counts_hold,
    base_env,
    count,
    store_url,
)
from tests.ingest.test_import_e2e import fictional_lines

pytestmark = pytest.mark.slow


# Its own waits are bounded (the last import 300 s); see tests/test_chaos.py.
@pytest.mark.timeout(900)
def test_sigkill_of_import_at_random_points_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    lines, kills = run_import_chaos(random.Random(SEED + 3), tmp_path, tmp_path / "import.db")
    # A kill point after the import finished is skipped; one such is allowed, as it always was.
    assert kills >= KILLS_PER_PHASE - 1, lines
    print(f"\nchaos (seed {SEED}):\n  " + "\n  ".join(lines))


# Work done so far: lines stored plus posts processed (0 .. 2n).
PROGRESS = "select count(*) + count(processed_at) from posts where platform = 'mastodon'"


def wait_for_progress(proc: subprocess.Popen[bytes], db: Path, share: float, total: int) -> None:
    """Wait until the running import has done `share` of the work it has left (lines stored,
    then posts processed), or has ended. Kill points are drawn in the import's own progress,
    not in seconds: timed ones fell after a fast import had finished, so a quick machine
    killed it once instead of seven times."""
    target = (start := count(db, PROGRESS)) + share * (total - start)
    deadline = time.monotonic() + 120  # bounds a stuck import only; the checks below judge it
    while proc.poll() is None and time.monotonic() < deadline:
        if count(db, PROGRESS) >= target:
            return
        time.sleep(0.02)


def run_import_chaos(rng: random.Random, tmp_path: Path, db: Path) -> tuple[list[str], int]:
    """Kill `monitor import` at random points, re-run until it completes. Its store is
    migrated first, as the import phase's store always was (the service made it)."""
    upgrade_sync(store_url(db))
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
        try:
            wait_for_progress(proc, db, rng.uniform(0.05, 0.9), 2 * n)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                import_kills += 1
        finally:
            if proc.poll() is None:  # the test failed here: leave no import running
                proc.kill()
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
    twice = alert_counts_hold(db)
    lines = [
        f"import: kills: {import_kills}, lines: {n}, stored: {imported}, lost: {n - imported}, "
        f"duplicated: {imported - distinct}, unprocessed: {left}",
        f"alerts counting a post twice (import): {twice}",
    ]
    assert imported == distinct == n and left == 0, lines
    assert twice == 0, lines
    return lines, import_kills
