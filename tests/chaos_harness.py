"""Real processes to kill: `monitor run` and `monitor import` as subprocesses on a SQLite file,
a signed pusher that behaves like a partner (keeps a batch until it gets 202), and the
accounting of what was accepted against what the store holds. Used by the durability tests and
the chaos suite; the posts are fictional."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from monitor.alerts.notifiers.webhook import sign
from monitor.privacy.postids import PostIds
from tests.conftest import ROOT, free_port, run_sync

# The seeded kill points of the chaos tests (tests/test_chaos*.py): set MONITOR_CHAOS_SEED to
# replay another sequence. Each of their kill phases kills its process this many times.
SEED = int(os.environ.get("MONITOR_CHAOS_SEED", "20261205"))
KILLS_PER_PHASE = 7
SECRET = "whsec_" + base64.b64encode(b"fictional-chaos-partner-secret-0123456789").decode()
SECRET_ENV = "MONITOR_CHAOS_PUSH_SECRET"
WARDS = ["Manningham", "Toller", "Heaton", "Little Horton", "Girlington", "Keighley"]


Store = Path | str  # a SQLite file, or a PostgreSQL URL (postgresql+asyncpg://...)


def store_url(db: Store) -> str:
    return f"sqlite+aiosqlite:///{db}" if isinstance(db, Path) else db


def base_env(db: Store, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MONITOR_DATABASE_URL=store_url(db),
        MONITOR_CLASSIFIER="keyword",
        MONITOR_HOME=str(ROOT),
        MONITOR_RETENTION_PURGE_MINUTES="0",
        MONITOR_RULES_RELOAD_SECONDS="0",
    )
    env.update(extra)
    return env


def rows(db: Store, sql: str) -> list[tuple[object, ...]]:
    """Run one read-only query on either store (no parameters: the SQL is the test's own)."""
    if isinstance(db, Path):
        with sqlite3.connect(db, timeout=30) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]
    import asyncpg

    async def fetch() -> list[tuple[object, ...]]:
        conn = await asyncpg.connect(db.replace("postgresql+asyncpg://", "postgresql://", 1))
        try:
            return [tuple(r) for r in await conn.fetch(sql)]
        finally:
            await conn.close()

    return run_sync(fetch)


def count(db: Store, sql: str) -> int:
    value = rows(db, sql)[0][0]
    assert isinstance(value, int)
    return value


def record(tag: str, i: int) -> dict[str, object]:
    return {
        "platform": "partner",
        "id": f"fictional-{tag}-{i}",
        "text": f"(fictional) Rumour the community centre in {WARDS[i % len(WARDS)]} is "
        f"closing, is it true? {tag} {i}",
        "created_at": "2026-11-03T10:00:00+00:00",
        "author": f"partner-author-{i % 41}",
        "synthetic": True,
    }


@dataclass
class Service:
    """`monitor run` (role all) serving the push endpoint on a free port."""

    db: Store
    logs: Path
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[str] | None = None
    log: Path | None = None

    def start(self, timeout: float = 60) -> None:
        env = base_env(
            self.db,
            MONITOR_PUSH_SECRET_ENV=SECRET_ENV,
            MONITOR_WEB_PORT=str(self.port),
            **self.extra_env,
        )
        env[SECRET_ENV] = SECRET
        self.log = self.logs / f"monitor-run.{time.monotonic_ns()}.log"
        out = self.log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run"],
            env=env,
            cwd=self.logs,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"monitor run exited: {self.log.read_text()[-2000:]}")
            if self.get("/healthz")[0] == 200:
                return
            time.sleep(0.1)
        raise RuntimeError("monitor run did not answer /healthz in time")

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        except OSError:
            return 0, b""

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def cleanup(self) -> None:
        """Never leave a server running after a failed test."""
        if self.proc is not None and self.proc.poll() is None:
            self.kill()

    def terminate(self, timeout: float = 60) -> tuple[int, str]:
        assert self.proc is not None and self.log is not None
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        return code, self.log.read_text()


class Pusher(threading.Thread):
    """A partner pushing batches of fictional posts; a batch is resent (same webhook-id) until
    it is answered 202, and only then counted as accepted."""

    def __init__(self, port: int, tag: str, batch: int = 50, pause: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.tag = tag
        self.batch = batch
        self.pause = pause
        self.accepted: set[str] = set()
        self.sent: set[str] = set()
        self.refused = 0
        self.next = 0
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()
        self.join(30)

    def run(self) -> None:
        while not self._halt.is_set():
            ids = range(self.next, self.next + self.batch)
            records = [record(self.tag, i) for i in ids]
            body = "\n".join(json.dumps(r) for r in records).encode()
            msg_id = f"msg-{self.tag}-{self.next}"
            self.sent.update(str(r["id"]) for r in records)
            while not self._halt.is_set():
                if self._push(body, msg_id):
                    self.accepted.update(str(r["id"]) for r in records)
                    self.next += self.batch
                    break
                time.sleep(0.05)
            if self.pause:
                time.sleep(self.pause)

    def _push(self, body: bytes, msg_id: str) -> bool:
        ts = int(time.time())
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign(SECRET, msg_id, ts, body),
            "content-type": "application/x-ndjson",
        }
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            conn.request("POST", "/api/v1/ingest", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
        except OSError:
            return False
        if resp.status in (200, 202):
            return True
        self.refused += 1
        return False


@dataclass
class Tally:
    """What was accepted against what the store holds, printed as the chaos figures."""

    accepted: int
    stored: int
    lost: int
    duplicated: int
    unprocessed: int

    def line(self, what: str, kills: int) -> str:
        return (
            f"{what}: kills: {kills}, accepted: {self.accepted}, stored: {self.stored}, "
            f"lost: {self.lost}, duplicated: {self.duplicated}, unprocessed: {self.unprocessed}"
        )


def platform_ids(db: Store, sealed: list[object]) -> list[str]:
    """The platform ids the store keeps sealed (posts are stored under keyed ids), opened with
    the store's own post id key (no `post_key_env` secret in these runs)."""
    if not sealed:
        return []
    (key,) = rows(db, "select key from deployment_keys where name = 'post-ids'")[0]
    ids = PostIds(bytes(key))  # type: ignore[arg-type]
    return [ids.open(str(s)) for s in sealed]


def tally(db: Store, accepted: set[str], platform: str) -> Tally:
    found = rows(db, f"select origin from posts where platform = '{platform}'")
    unprocessed = count(
        db, f"select count(*) from posts where processed_at is null and platform = '{platform}'"
    )
    # A post's results are recorded once: no label twice, no alert counting it twice.
    dup_labels = count(
        db,
        "select count(*) from (select post_id, origin, name, value from post_labels "
        "group by 1, 2, 3, 4 having count(*) > 1) d",
    )
    dup_alert_posts = count(
        db,
        "select count(*) from (select alert_id, post_id from alert_posts "
        "group by 1, 2 having count(*) > 1) d",
    )
    ids = platform_ids(db, [r[0] for r in found])
    stored = {i.split(":", 1)[1] for i in ids}
    return Tally(
        accepted=len(accepted),
        stored=len(accepted & stored),
        lost=len(accepted - stored),
        duplicated=(len(ids) - len(set(ids))) + int(dup_labels) + int(dup_alert_posts),
        unprocessed=int(unprocessed),
    )


def wait_processed(db: Store, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    left = -1
    while time.monotonic() < deadline:
        left = count(db, "select count(*) from posts where processed_at is null")
        if left == 0:
            return 0
        time.sleep(0.2)
    return left


def alert_counts_hold(db: Path) -> int:
    """Alerts whose post count disagrees with their posts: a post counted twice."""
    with sqlite3.connect(db, timeout=30) as conn:
        return int(
            conn.execute(
                "select count(*) from alerts a where a.post_count != "
                "(select count(*) from alert_posts p where p.alert_id = a.id)"
            ).fetchone()[0]
        )
