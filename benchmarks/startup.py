"""Start-up CPU of the `monitor` command: this checkout against a baseline commit, both measured
in the same run, turn about (issue 14: every role start pays it, and the suite starts `python
-m monitor` and its helpers dozens of times).

    .venv/bin/python benchmarks/startup.py [--baseline REF] [--repeat 5]

The baseline commit is checked out with `git worktree add --detach` into a temporary folder
(removed after); both checkouts' bytecode is compiled first, as scripts/test does. Each case
starts a fresh `python -m monitor` and reads its CPU (user + system) from the kernel:

- `monitor --help` and `monitor run --help`: the whole process;
- `monitor run` (role all, SQLite, the keyword classifier, as the suite's runs): until
  /healthz answers, on a new store (migrated at start) and on one already at the head;
- `monitor import` of 200 fictional posts without a language tag (language detection loads
  py3langid's model): the whole process.

Each side gets a cache folder of its own (`XDG_CACHE_HOME`), filled by one unmeasured run of
every case first, as a machine's cache is after its first start. The median of `--repeat`
runs is shown, and after / before. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
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
# The last commit before the start-up work of issue 14.
DEFAULT_BASELINE = "9713b8f"
WARDS = ["Manningham", "Girlington", "Toller", "Little Horton", "Keighley"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_posts(path: Path, n: int) -> None:
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            record = {
                "platform": "bluesky",
                "id": f"at://did:plc:fictional{i % 50}/app.bsky.feed.post/startup{i}",
                "text": f"(fictional) The bins in {WARDS[i % len(WARDS)]} were not collected "
                f"again this week, anyone know why? {i}",
                "created_at": (start + timedelta(minutes=i)).isoformat(),
                "author": f"did:plc:fictional{i % 50}",
                "synthetic": True,
            }
            fh.write(json.dumps(record) + "\n")


class Side:
    """One checkout to start `monitor` from, with a cache folder of its own."""

    def __init__(self, name: str, root: Path, work: Path) -> None:
        self.name, self.root = name, root
        self.work = work / name
        self.cache = self.work / "cache"
        self.cache.mkdir(parents=True)
        self.runs = 0

    def env(self, db: Path, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PYTHONPATH=str(self.root),
            XDG_CACHE_HOME=str(self.cache),
            MONITOR_HOME=str(self.root),
            MONITOR_DATABASE_URL=f"sqlite+aiosqlite:///{db}",
            MONITOR_CLASSIFIER="keyword",
            MONITOR_RETENTION_PURGE_MINUTES="0",
            MONITOR_RULES_RELOAD_SECONDS="0",
        )
        env.update(extra)
        return env

    def fresh_db(self) -> Path:
        self.runs += 1
        return self.work / f"m{self.runs}.db"

    def command(self, *args: str, db: Path | None = None) -> float:
        """CPU of `python -m monitor ARGS` from start to exit."""
        log = self.work / "stderr.log"
        with log.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "monitor", *args],
                env=self.env(db or self.fresh_db()),
                cwd=self.work,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
            _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.name}: monitor {' '.join(args)} failed: {tail}")
        return usage.ru_utime + usage.ru_stime

    def run_until_ready(self, db: Path) -> float:
        """CPU of `monitor run` when /healthz first answers 200; then it is stopped."""
        port = free_port()
        log = self.work / "run.log"
        with log.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "monitor", "run"],
                env=self.env(db, MONITOR_WEB_PORT=str(port)),
                cwd=self.work,
                stdout=err,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    tail = log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{self.name}: monitor run exited: {tail}")
                try:
                    url = f"http://127.0.0.1:{port}/healthz"
                    with urllib.request.urlopen(url, timeout=5) as answer:
                        if answer.status == 200:
                            return proc_cpu(proc.pid)
                except OSError:
                    pass
                time.sleep(0.02)
            raise RuntimeError(f"{self.name}: monitor run did not answer /healthz in time")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def cases(posts: Path) -> list[tuple[str, Callable[[Side], float]]]:
    def at_head(side: Side) -> float:
        db = side.work / "at-head.db"
        if not db.exists():
            side.command("db", "upgrade", db=db)
        return side.run_until_ready(db)

    return [
        ("monitor --help", lambda side: side.command("--help")),
        ("monitor run --help", lambda side: side.command("run", "--help")),
        ("monitor run, new store, until /healthz", lambda s: s.run_until_ready(s.fresh_db())),
        ("monitor run, store at head, until /healthz", at_head),
        ("monitor import, 200 posts, whole process", lambda s: s.command("import", str(posts))),
    ]


def checkout(ref: str, into: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(into), ref],
        check=True,
    )
    return into


def compile_bytecode(root: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", str(root / "monitor")],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", default=DEFAULT_BASELINE, help="git ref to compare against")
    ap.add_argument("--repeat", type=int, default=5, help="measured runs of each case and side")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="monitor-startup-"))
    base_root = work / "baseline-checkout"
    try:
        checkout(args.baseline, base_root)
        sides = [Side("baseline", base_root, work), Side("this checkout", ROOT, work)]
        for side in sides:
            compile_bytecode(side.root)
        posts = work / "posts.jsonl"
        write_posts(posts, 200)
        table = cases(posts)
        for _, case in table:  # fill each side's cache (and the OS's) once, unmeasured
            for side in sides:
                case(side)
        results: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.repeat):
            for name, case in table:
                for side in sides:  # turn about, so that load on the machine hits both alike
                    results.setdefault((name, side.name), []).append(case(side))
        rev = subprocess.run(
            ["git", "-C", str(base_root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        load = os.getloadavg()[0]
        print(f"baseline {args.baseline} ({rev}) vs this checkout; CPU seconds (user + system),")
        print(f"median of {args.repeat}; {os.cpu_count()} CPUs, load average now {load:.1f}\n")
        print(f"| {'case':<44} | baseline | this checkout | after / before |")
        print(f"|{'-' * 46}|----------|---------------|----------------|")
        for name, _ in table:
            before = statistics.median(results[(name, "baseline")])
            after = statistics.median(results[(name, "this checkout")])
            print(f"| {name:<44} | {before:>8.2f} | {after:>13.2f} | {after / before:>14.2f} |")
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_root)],
            check=False,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
