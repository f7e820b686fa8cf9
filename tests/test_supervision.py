"""Supervision and honest health (issue 13, findings 2 and 3): a worker that keeps failing is
restarted with backoff and then fails the process (liveness 503, exit non-zero) instead of
dying in silence; one SIGTERM drains for a bounded time and says what it left."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.runtime.app import open_runtime
from monitor.runtime.pipeline import PipelineFailed
from monitor.runtime.queues import Delivery, InProcessQueue
from monitor.web.server import create_app
from tests.chaos_harness import base_env, count, free_port
from tests.conftest import ROOT
from tests.ingest.test_import_e2e import fictional_lines, run_monitor

pytestmark = pytest.mark.slow  # real `monitor run` processes


class BrokenQueue(InProcessQueue):
    """A queue whose consumer side fails every time (a bug below the pipeline)."""

    async def take(self, max_posts: int, max_wait: float) -> Delivery:
        raise RuntimeError("fictional bug in the queue")


async def test_a_worker_that_keeps_failing_is_restarted_then_fails_the_process(
    sqlite_url: str,
) -> None:
    settings = Settings(
        database_url=sqlite_url, home=str(ROOT), classifier="keyword", pipeline_max_restarts=2
    )
    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        pipeline = rt.pipeline
        pipeline.queue = BrokenQueue()
        pipeline.max_backoff = 0.05
        await pipeline.stop(drain=False)
        await pipeline.start()
        async with TestClient(TestServer(create_app(settings, rt))) as client:
            with pytest.raises(PipelineFailed):
                await pipeline.wait_failed()
            assert pipeline.stats.worker_restarts == 2
            alive = await client.get("/healthz")
            assert alive.status == 503 and "fictional bug" in (await alive.json())["error"]
            ready = await client.get("/readyz")
            assert ready.status == 503
            assert any("failed" in r for r in (await ready.json())["reasons"])
            metrics = await (await client.get("/metrics")).text()
            assert "monitor_worker_up 0.0" in metrics
            assert "monitor_worker_restarts_total 2.0" in metrics
        # Nothing waits forever on a worker that is gone.
        with pytest.raises(PipelineFailed):
            await pipeline.drain(timeout=5)


def test_one_sigterm_drains_for_a_bounded_time_and_reports_what_it_left(tmp_path: Path) -> None:
    data = tmp_path / "posts.jsonl"
    data.write_text("\n".join(fictional_lines(3000)) + "\n", encoding="utf-8")
    db = tmp_path / "m.db"
    assert run_monitor(["import", str(data)], db).returncode == 0
    # The state a crash leaves: stored, committed, not processed.
    with sqlite3.connect(db) as conn:
        conn.execute("update posts set processed_at = null")
    env = base_env(
        db,
        MONITOR_CLASSIFIER_BATCH_SIZE="1",  # one transaction a post: slow enough to interrupt
        MONITOR_SHUTDOWN_DRAIN_S="1",
        MONITOR_WEB_PORT=str(free_port()),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if count(db, "select count(*) from posts where processed_at is not null") > 0:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    _, err = proc.communicate(timeout=30)
    took = time.monotonic() - started
    left = count(db, "select count(*) from posts where processed_at is null")
    assert left > 0, "it finished before the signal; make the backlog larger"
    assert took < 15, f"one SIGTERM took {took:.1f}s to stop"
    assert "nothing is lost" not in err
    assert f"{left} stored posts are not processed yet" in err, err[-2000:]
    assert proc.returncode == 1  # it did not drain: say so to the supervisor
