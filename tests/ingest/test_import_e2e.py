"""`monitor import` as a user runs it: idempotent, resumable after a kill, reports bad lines,
and never writes a raw author id anywhere."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real `monitor import` processes


ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
WARDS = ["Manningham", "Toller", "Heaton", "Little Horton", "Girlington", "Keighley"]


def fictional_lines(n: int, prefix: str = "p") -> list[str]:
    lines = []
    for i in range(n):
        lines.append(
            json.dumps(
                {
                    "platform": "mastodon",
                    "id": f"https://social.example/users/fictional{i % 97}/statuses/{prefix}{i}",
                    "text": f"(fictional) Bin collection late again in {WARDS[i % len(WARDS)]} "
                    f"today, number {i}",
                    "created_at": (START + timedelta(seconds=i)).isoformat(),
                    "author": f"https://social.example/users/fictional-author-{i % 97}",
                    "synthetic": True,
                }
            )
        )
    return lines


def monitor_env(db: Path, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for `monitor` on the SQLite file `db`, keyword classifier, repo home."""
    env = dict(os.environ)
    env.update(
        MONITOR_DATABASE_URL=f"sqlite+aiosqlite:///{db}",
        MONITOR_CLASSIFIER="keyword",
        MONITOR_HOME=str(ROOT),
    )
    env.update(extra_env or {})
    return env


def start_import(data: Path, db: Path, batch_size: int) -> subprocess.Popen[bytes]:
    """`monitor import data` running in the background (to be killed), silent."""
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "import", str(data)],
        env=monitor_env(db, {"MONITOR_INGEST_BATCH_SIZE": str(batch_size)}),
        cwd=db.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def run_monitor(
    args: list[str], db: Path, extra_env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        env=monitor_env(db, extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=db.parent,
    )


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_reimport_adds_nothing_and_bad_lines_are_reported(tmp_path: Path) -> None:
    lines = fictional_lines(300)
    lines.insert(10, "{not json")
    lines.insert(20, json.dumps({"platform": "mastodon", "text": "(fictional) no id"}))
    data = tmp_path / "posts.jsonl"
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "m.db"

    first = run_monitor(["import", str(data)], db)
    assert first.returncode == 1, first.stderr  # problems make the exit code non-zero
    assert f"{data}:11:" in first.stderr and f"{data}:21:" in first.stderr
    assert count(db, "select count(*) from posts") == 300

    second = run_monitor(["import", str(data)], db)
    assert "stored 0 new posts" in second.stdout, second.stdout + second.stderr
    assert count(db, "select count(*) from posts") == 300
    assert count(db, "select count(*) from posts where processed_at is null") == 0


def test_a_truncated_gzip_stores_every_complete_line_and_says_why_it_stopped(
    tmp_path: Path,
) -> None:
    whole = tmp_path / "whole.jsonl.gz"
    with gzip.open(whole, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(fictional_lines(3000)) + "\n")
    raw = whole.read_bytes()
    data = tmp_path / "cut.jsonl.gz"
    data.write_bytes(raw[: len(raw) * 2 // 3])
    readable = 0
    with gzip.open(data, "rt", encoding="utf-8") as fh, contextlib.suppress(EOFError):
        for line in fh:
            readable += line.endswith("\n")
    db = tmp_path / "m.db"
    done = run_monitor(["import", str(data)], db, {"MONITOR_INGEST_BATCH_SIZE": "500"})
    assert done.returncode == 1, done.stderr
    assert "truncated or corrupt" in done.stderr and "Aborted" not in done.stderr
    # Every complete line is stored, the unfinished batch included (it was dropped before).
    assert count(db, "select count(*) from posts") >= readable > 1500


def test_a_pipe_or_an_unknown_file_type_is_refused_before_anything_starts(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "posts.jsonl"
    os.mkfifo(fifo)
    db = tmp_path / "m.db"
    refused = run_monitor(["import", str(fifo)], db, timeout=60)
    assert refused.returncode != 0 and "not a regular file" in refused.stderr
    text = tmp_path / "posts.txt"
    text.write_text(fictional_lines(1)[0] + "\n", encoding="utf-8")
    refused = run_monitor(["import", str(text)], db, timeout=60)
    assert refused.returncode != 0 and "unknown file type" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_killed_import_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    # The kill lands once 2000 posts are stored, whatever n is; n need only leave the import
    # seconds of work past that point, and the re-run then imports every line past it.
    n = 6000
    data = tmp_path / "big.jsonl"
    data.write_text("\n".join(fictional_lines(n)) + "\n", encoding="utf-8")
    db = tmp_path / "m.db"
    proc = start_import(data, db, batch_size=200)
    deadline = time.monotonic() + 120
    stored = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            stored = count(db, "select count(*) from posts")
        except sqlite3.Error:
            stored = 0
        if stored >= 2000:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.fail("the import finished before it could be killed; make the file larger")
    proc.send_signal(signal.SIGKILL)  # no chance to clean up: a crash, not a shutdown
    proc.wait()
    assert 0 < count(db, "select count(*) from posts") < n

    rerun = run_monitor(["import", str(data)], db, extra_env={"MONITOR_INGEST_BATCH_SIZE": "200"})
    assert rerun.returncode == 0, rerun.stderr
    assert count(db, "select count(*) from posts") == n
    assert count(db, "select count(distinct id) from posts") == n
    assert count(db, "select count(*) from posts where processed_at is null") == 0
    assert "already committed" in rerun.stdout


def test_no_raw_author_id_reaches_the_database_file(tmp_path: Path) -> None:
    data = tmp_path / "posts.jsonl"
    data.write_text("\n".join(fictional_lines(200)) + "\n", encoding="utf-8")
    db = tmp_path / "m.db"
    result = run_monitor(["import", str(data)], db)
    assert result.returncode == 0, result.stderr
    # Checkpoint so the WAL's pages are in the main file too, then look at every byte.
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("m.db*"))
    assert b"fictional-author-" not in raw
    assert count(db, "select count(distinct author_ref) from posts") == 97


def test_a_stop_while_another_connection_holds_the_write_lock_is_prompt_and_resumable(
    tmp_path: Path,
) -> None:
    """Ctrl-C to `monitor import` while another connection (another process: `monitor purge`,
    the service on the same file) holds SQLite's write lock. The import's writes wait for the
    lock; the stop must not: each step of it that was in SQLite used to wait out the 30 s busy
    timeout (8 s, then 10 s, cut short and logged) and the process did not exit until the lock
    was let go. After the holder lets go, the re-run stores every line once."""
    n = 4000
    data = tmp_path / "big.jsonl"
    data.write_text("\n".join(fictional_lines(n, prefix="lock")) + "\n", encoding="utf-8")
    db = tmp_path / "m.db"
    log = tmp_path / "import.log"
    # No drain budget: the stop's one wait for work in hand (a drain) is the setting's, and
    # with the lock held no work can be done; the stop itself is what is timed.
    env = monitor_env(db, {"MONITOR_INGEST_BATCH_SIZE": "200", "MONITOR_SHUTDOWN_DRAIN_S": "0"})
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "import", str(data)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(sqlite3.Error):
                if count(db, "select count(*) from posts") >= 400:
                    break
            time.sleep(0.05)
        holder = sqlite3.connect(db, timeout=30, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            time.sleep(2.0)  # the import's next write is waiting for the lock
            if proc.poll() is not None:
                pytest.fail("the import ended before it was stopped; make the file larger")
            proc.send_signal(signal.SIGINT)
            started = time.monotonic()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
            took = time.monotonic() - started
            stopped = proc.poll() is not None
        finally:
            if holder.in_transaction:
                holder.rollback()
            holder.close()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    output = log.read_text(encoding="utf-8", errors="replace")
    assert stopped and took < 10, f"the stop took {took:.1f}s:\n{output[-3000:]}"
    assert "stopped before draining" in output, output[-3000:]
    assert count(db, "select count(*) from posts") < n

    rerun = run_monitor(["import", str(data)], db, extra_env={"MONITOR_INGEST_BATCH_SIZE": "200"})
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert count(db, "select count(*) from posts") == n
    assert count(db, "select count(distinct id) from posts") == n
    assert count(db, "select count(*) from posts where processed_at is null") == 0
