"""How long a stop takes while another connection holds SQLite's write lock: this checkout
against a baseline commit, both measured in the same run, turn about.

    .venv/bin/python benchmarks/stop_under_lock.py [--baseline REF] [--repeat 3] [--hold 45]

The baseline commit is checked out with `git worktree add --detach` into a temporary folder
(removed after). Each case starts a fresh `python -m monitor` (SQLite, the keyword classifier,
no drain budget: `shutdown_drain_s` 0, so that what is timed is the stop itself), takes the
store's write lock from this process (`BEGIN IMMEDIATE`, as another process on the same file
would hold it), waits 2 s (the process's next write is then waiting for the lock), and sends
the signal:

- `monitor import` of 4,000 fictional posts, interrupted (SIGINT) once 400 are stored; after
  the lock is released it is run again, and every line must be stored once and processed;
- `monitor run` once /healthz answers, stopped with SIGTERM.

The lock is held for `--hold` seconds after the signal at most; a process still running then
is timed to its exit after the release (shown with ">"), and killed 60 s after that. Prints
the median seconds from the signal to the exit, and each run's. Linux only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The commit before a stop stopped waiting for the write lock.
DEFAULT_BASELINE = "0eec505"
WARDS = ["Manningham", "Girlington", "Toller", "Little Horton", "Keighley"]
POSTS = 4000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_posts(path: Path, n: int) -> None:
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            record = {
                "platform": "mastodon",
                "id": f"https://social.example/users/fictional{i % 50}/statuses/lock{i}",
                "text": f"(fictional) The bins in {WARDS[i % len(WARDS)]} were not collected "
                f"again this week, anyone know why? {i}",
                "created_at": (start + timedelta(minutes=i)).isoformat(),
                "author": f"https://social.example/users/fictional{i % 50}",
                "synthetic": True,
            }
            fh.write(json.dumps(record) + "\n")


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        return int(conn.execute(sql).fetchone()[0])


class Side:
    """One checkout to start `monitor` from."""

    def __init__(self, name: str, root: Path, work: Path, hold: float) -> None:
        self.name, self.root, self.hold = name, root, hold
        self.work = work / name.replace(" ", "-")
        self.work.mkdir(parents=True)
        self.runs = 0

    def env(self, db: Path, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PYTHONPATH=str(self.root),
            MONITOR_HOME=str(self.root),
            MONITOR_DATABASE_URL=f"sqlite+aiosqlite:///{db}",
            MONITOR_CLASSIFIER="keyword",
            MONITOR_RETENTION_PURGE_MINUTES="0",
            MONITOR_RULES_RELOAD_SECONDS="0",
            MONITOR_SHUTDOWN_DRAIN_S="0",
            MONITOR_INGEST_BATCH_SIZE="200",
        )
        env.update(extra)
        return env

    def fresh_db(self) -> Path:
        self.runs += 1
        db = self.work / f"m{self.runs}.db"
        subprocess.run(
            [sys.executable, "-m", "monitor", "db", "upgrade"],
            env=self.env(db),
            cwd=self.work,
            check=True,
            capture_output=True,
        )
        return db

    def start(self, db: Path, *args: str, **extra: str) -> subprocess.Popen[bytes]:
        with (self.work / f"log{self.runs}.txt").open("wb") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "monitor", *args],
                env=self.env(db, **extra),
                cwd=self.work,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop_under_lock(self, proc: subprocess.Popen[bytes], db: Path, sig: int) -> str:
        """Seconds from `sig` to the exit, the write lock held meanwhile (up to `hold`)."""
        holder = sqlite3.connect(db, timeout=30, isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            time.sleep(2.0)
            if proc.poll() is not None:
                raise RuntimeError(f"{self.name}: the process ended before the signal")
            proc.send_signal(sig)
            started = time.monotonic()
            try:
                proc.wait(timeout=self.hold)
                return f"{time.monotonic() - started:.1f}"
            except subprocess.TimeoutExpired:
                pass
        finally:
            if holder.in_transaction:
                holder.rollback()
            holder.close()
        try:
            proc.wait(timeout=60)
            return f">{time.monotonic() - started:.1f}"
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return f">{time.monotonic() - started:.1f} (killed)"

    def import_case(self, posts: Path) -> str:
        db = self.fresh_db()
        proc = self.start(db, "import", str(posts))
        try:
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline:
                if count(db, "select count(*) from posts") >= 400:
                    break
                time.sleep(0.05)
            took = self.stop_under_lock(proc, db, signal.SIGINT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        rerun = self.start(db, "import", str(posts))
        if rerun.wait(timeout=300) != 0:
            raise RuntimeError(f"{self.name}: the re-run failed (log{self.runs}.txt)")
        stored = count(db, "select count(*) from posts")
        distinct = count(db, "select count(distinct id) from posts")
        left = count(db, "select count(*) from posts where processed_at is null")
        if not stored == distinct == POSTS or left:
            raise RuntimeError(f"{self.name}: {stored} stored, {distinct} distinct, {left} left")
        return took

    def run_case(self) -> str:
        db = self.fresh_db()
        port = free_port()
        proc = self.start(db, "run", MONITOR_WEB_PORT=str(port))
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    url = f"http://127.0.0.1:{port}/healthz"
                    with urllib.request.urlopen(url, timeout=5) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    time.sleep(0.05)
            return self.stop_under_lock(proc, db, signal.SIGTERM)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def seconds(took: str) -> float:
    return float(took.lstrip(">").split()[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", default=DEFAULT_BASELINE, help="git ref to compare against")
    ap.add_argument("--repeat", type=int, default=3, help="measured runs of each case and side")
    ap.add_argument("--hold", type=float, default=45.0, help="longest hold after the signal")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="monitor-stop-lock-"))
    base_root = work / "baseline-checkout"
    try:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(base_root)]
            + [args.baseline],
            check=True,
        )
        sides = [
            Side("baseline", base_root, work, args.hold),
            Side("this checkout", ROOT, work, args.hold),
        ]
        posts = work / "posts.jsonl"
        write_posts(posts, POSTS)
        table: list[tuple[str, Callable[[Side], str]]] = [
            ("monitor import, SIGINT", lambda side: side.import_case(posts)),
            ("monitor run, SIGTERM", lambda side: side.run_case()),
        ]
        results: dict[tuple[str, str], list[str]] = {}
        for _ in range(args.repeat):
            for name, case in table:
                for side in sides:  # turn about, so that load on the machine hits both alike
                    results.setdefault((name, side.name), []).append(case(side))
        load = os.getloadavg()[0]
        print(f"baseline {args.baseline} vs this checkout; seconds from the signal to the exit,")
        print(f"the write lock held up to {args.hold:.0f} s after it (>: exited only after the")
        print(f"release); {os.cpu_count()} CPUs, load average now {load:.1f}\n")
        print(f"| {'case':<24} | {'baseline':<28} | {'this checkout':<28} |")
        print(f"|{'-' * 26}|{'-' * 30}|{'-' * 30}|")
        for name, _ in table:
            cells = []
            for side in sides:
                runs = results[(name, side.name)]
                median = statistics.median(seconds(t) for t in runs)
                cells.append(f"{median:.1f} ({', '.join(runs)})")
            print(f"| {name:<24} | {cells[0]:<28} | {cells[1]:<28} |")
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_root)],
            check=False,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
