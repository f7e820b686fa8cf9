"""Chaos (issue 13): SIGKILL `monitor run` at seeded random points of push and processing — 14
kills — and account for every post: none lost, none stored or counted twice, all processed in
the end. Prints the figures ("lost: 0") for the CI log. The import kills
(tests/test_chaos_import.py) and the dispatcher kills (tests/test_chaos_delivery.py) are files
of their own, so that a parallel run (scripts/test: a file at a time per worker) can run them
beside this one.

Set MONITOR_CHAOS_SEED to replay another sequence of kill points.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from tests.chaos_harness import (
    KILLS_PER_PHASE,
    SEED,
    Pusher,
    Service,
    alert_counts_hold,
    tally,
    wait_processed,
)

pytestmark = pytest.mark.slow


# Its own waits are bounded (processing 180 s); the suite's 300 s hang guard cut it short on
# a shared machine running both test workers at load 15.
@pytest.mark.timeout(900)
def test_sigkill_at_random_points_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    """Push and processing kills of `monitor run` on one store."""
    services: list[Service] = []
    try:
        lines, _ = run_chaos(random.Random(SEED), tmp_path, tmp_path / "chaos.db", services)
    finally:
        for service in services:
            service.cleanup()
    print(f"\nchaos (seed {SEED}):\n  " + "\n  ".join(lines))


def run_chaos(
    rng: random.Random, tmp_path: Path, db: Path, services: list[Service]
) -> tuple[list[str], int]:
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
    twice = alert_counts_hold(db)
    lines.append(f"alerts counting a post twice (push and processing): {twice}")
    assert push.accepted > 0 and push.lost == 0 and push.duplicated == 0, lines
    assert processing.lost == 0 and processing.duplicated == 0, lines
    assert processing.unprocessed == 0, lines
    assert twice == 0, lines
    return lines, push_kills + processing_kills
