"""Shared fixtures: settings on a temporary home, and store URLs for SQLite and PostgreSQL.

PostgreSQL tests run against the server at $MONITOR_TEST_PG_URL (default the local one on
127.0.0.1:5432). Outside CI they skip, saying why, when no server answers; in CI (CI=true) a
missing server fails them, so a broken CI machine can never pass by skipping.

The suite runs in parallel (scripts/test: pytest-xdist, one worker a core), so nothing here is
shared between tests that one could change under another: each PostgreSQL test gets a database
of its own, each Redis test its own stream names, each server a port from its worker's own
block (`free_port`), each test its own tmp_path.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import functools
import os
import queue
import random
import shutil
import socket
import tempfile
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from monitor.config import Settings

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
PG_ADMIN_URL = os.environ.get(
    "MONITOR_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# The processes tests start (`python -m monitor run`, from a temporary folder) must run this
# checkout's code. An editable install resolves `monitor` to the folder it was installed from,
# so a second checkout sharing that virtual environment (a git worktree, a clone beside it)
# would otherwise test its own in-process code but the other copy's processes.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
)


def _test_tmpdir() -> str | None:
    """Where the suite's temporary files go: $MONITOR_TEST_TMPDIR when set (empty: the
    system's), else /dev/shm when it is there with room to spare (4 GiB free). Every SQLite
    store a test makes lives in its tmp_path, and on a disk each of their commits waits for
    fsync: on this machine, with other work on the disk, the seven SQLite key-ring tests took
    10.0 s of wall time for 1.3 s of CPU in /tmp and 2.2 s for 0.9 s in /dev/shm. Nothing a
    test checks depends on the disk: the stores are the same (WAL, synchronous=NORMAL), and
    what the crash tests kill is a process, whose committed writes are kept either way."""
    chosen = os.environ.get("MONITOR_TEST_TMPDIR")
    if chosen is not None:
        return chosen.strip() or None
    try:
        shm = os.statvfs("/dev/shm")
    except OSError:
        return None
    if shm.f_bavail * shm.f_frsize < 4 * 2**30 or not os.access("/dev/shm", os.W_OK):
        return None
    return "/dev/shm"


# Set before pytest makes its temporary folders (tmp_path_factory asks `tempfile` lazily), and
# inherited by the pytest-xdist workers and every process a test starts.
if (_tmpdir := _test_tmpdir()) is not None:
    os.environ["TMPDIR"] = _tmpdir
    tempfile.tempdir = None  # `tempfile` keeps the folder it found first

# One on-disk encoding cache for the run and for later runs (`classifier_encoding_cache`,
# monitor.classify.disk_cache), in the cache folder the exported encoder is kept in: the demo
# week (`monitor demo` processes, the real-encoder demo test) and the fairness and bias suites
# are encoded once, by whichever worker or process gets there first. Rows are keyed by the
# encoder's identity and bitwise what encoding gives, so a result never depends on whether
# they were cached. Tests of the encoder itself use the `transformer` fixture, which has none.
# MONITOR_CLASSIFIER_ENCODING_CACHE=0 runs the suite without it.
ENCODING_CACHE_ROWS = 20_000  # about 220 MB at most; a run writes about 10,000
os.environ.setdefault("MONITOR_CLASSIFIER_ENCODING_CACHE", str(ENCODING_CACHE_ROWS))


def suite_encoding_cache() -> Any:
    """The suite's on-disk encoding cache (a `DiskCacheConfig`), or None when turned off."""
    from monitor.classify.disk_cache import DiskCacheConfig
    from monitor.config import default_cache_dir

    rows = int(os.environ["MONITOR_CLASSIFIER_ENCODING_CACHE"])
    if rows <= 0:
        return None
    folder = os.environ.get("MONITOR_CLASSIFIER_CACHE_DIR", "").strip()
    return DiskCacheConfig(
        Path(folder).expanduser() if folder else default_cache_dir(), rows, max_age_days=30
    )


DEMO_WEEK = ROOT / "monitor" / "data" / "demo" / "bradford-scenario.jsonl"


@contextlib.contextmanager
def encoding_turn(name: str) -> Iterator[None]:
    """One process of the run at a time past this point, for encoding the texts called `name`
    into the suite's encoding cache: a lock file beside the cache (fcntl, released when its
    holder ends, however it ends). The cache alone shares rows only once they are written,
    and the slow files run first, side by side: two workers reaching the same texts at once
    both encoded all of them. Now the second waits while the first encodes (about what it
    would have spent encoding them itself, with the cores to itself), then reads them."""
    cache = suite_encoding_cache()
    if cache is None:  # no cache to share rows through: each encodes its own, at once
        yield
        return
    cache.folder.mkdir(parents=True, exist_ok=True)
    with (cache.folder / f"suite-{name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@functools.cache
def serving_classifier() -> Any:
    """The classifier `monitor demo` and `monitor run` load from this checkout's settings
    (`classifier = auto`: the shipped model where it is installed, else the keyword one),
    reading through the suite's encoding cache as their processes do (the same
    `classifier_cache_dir` and `classifier_encoding_cache`): rows it encodes are the rows
    they read, under the same encoder identity and text. One per worker."""
    from monitor.classify import load_classifier

    cache = suite_encoding_cache()
    folder = os.environ.get("MONITOR_CLASSIFIER_CACHE_DIR", "")
    settings = Settings(
        home=str(ROOT),
        classifier_cache_dir=folder,
        classifier_encoding_cache=cache.max_rows if cache is not None else 0,
    )
    return load_classifier(settings)


def analyse_demo_week(texts: Sequence[str]) -> list[Any] | None:
    """`texts` (the demo week's posts) analysed by `serving_classifier`, in the run's one turn
    for the demo week (`encoding_turn`); None where that classifier is the keyword one, whose
    rows no cache keeps. `monitor demo --once` (tests/demo/test_once.py) and the real-encoder
    signals test (tests/signals/test_demo.py) both need the week's 2,916 distinct texts
    encoded: whichever worker gets there first encodes them, the other reads them."""
    from monitor.classify.transformer import TransformerClassifier

    with encoding_turn("demo-week"):
        classifier = serving_classifier()
        if not isinstance(classifier, TransformerClassifier):
            return None
        return classifier.analyse_sync(texts)


def warm_demo_week() -> None:
    """The demo week's posts in the suite's encoding cache (`analyse_demo_week`), before a
    `monitor demo` process replays them; nothing when the suite runs without the cache (the
    process then encodes them itself, as it would have)."""
    from monitor.ingest.core import Ingestor
    from monitor.ingest.replay import iter_records
    from monitor.types import RawPost

    if suite_encoding_cache() is None:
        return
    # The texts as ingest stores them and the pipeline classifies them: the week's news items
    # are HTML, read as plain text.
    ingestor = Ingestor.from_settings(Settings(home=str(ROOT)), ROOT)
    records = [r for _, r in iter_records(DEMO_WEEK) if isinstance(r, RawPost)]
    analyse_demo_week([ingestor.text(r)[0] for r in records])


XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
# Ports for test servers: below Linux's ephemeral range (32768-60999), where outgoing
# connections take theirs, in a block of its own for each pytest-xdist worker.
PORT_BASE, PORT_BLOCK, PORT_BLOCKS = 20000, 800, 16


# Ports free_port has handed out in this process: a test that draws several before binding
# any (three roles' probe servers) must not get one twice, which a free port drawn at random
# again and again did about once in 800 draws (seen in CI on 2026-12-07: two roles on one port).
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now, for a test server to bind: drawn from this worker's own
    block, so that another worker of the run (or an outgoing connection) does not take it
    between this check and the server binding it, and never one this process handed out
    before until the block runs out (servers of earlier tests are closed by then)."""
    index = int(XDIST_WORKER[2:]) if XDIST_WORKER[2:].isdigit() else PORT_BLOCKS - 1
    start = PORT_BASE + (index % PORT_BLOCKS) * PORT_BLOCK
    candidates = list(range(start, start + PORT_BLOCK))
    random.shuffle(candidates)  # another run on the machine (its gw0) is unlikely to follow
    for fresh_only in (True, False):
        for port in candidates:
            if fresh_only and port in _HANDED_OUT:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            if not fresh_only:
                _HANDED_OUT.clear()  # the block is used up: start over, oldest ports first free
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError(f"no free port in {start}-{start + PORT_BLOCK - 1}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files holding a test marked `slow` run first, every file's own order kept: spread over
    workers a file at a time (scripts/test: --dist loadfile), the long ones then start at once
    and the quick ones fill in around them, instead of a slow file collected last running
    alone at the end."""
    slow = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in slow)


def run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop (an
    async test asking for a fixture): in a thread of its own, with a loop of its own."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def _pg_reachable() -> str | None:
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
        await conn.close()

    try:
        run_sync(probe)
    except Exception as exc:  # any failure means: no usable server
        return f"{type(exc).__name__}: {exc}"
    return None


_PG_PROBLEM: list[str | None] = []


def require_postgres() -> None:
    if not _PG_PROBLEM:
        _PG_PROBLEM.append(_pg_reachable())
    problem = _PG_PROBLEM[0]
    if problem is None:
        return
    message = f"PostgreSQL at {PG_ADMIN_URL} not reachable ({problem})"
    if IN_CI:
        pytest.fail(message + " — CI must run the PostgreSQL tests")
    pytest.skip(message + "; set MONITOR_TEST_PG_URL or start the server to run this test")


@contextlib.contextmanager
def fresh_pg_database(template: str | None = None) -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards; yields its SQLAlchemy URL.

    With `template` (the URL of another test database, which nothing may be connected to),
    the new database starts as a copy of that one: PostgreSQL copies its files, far quicker
    than building the same contents again, so a fixture can build a store once per module
    and hand each test a copy of its own to change."""
    require_postgres()
    name = f"monitor_test_{uuid.uuid4().hex[:12]}"
    create = f'CREATE DATABASE "{name}"'
    if template is not None:
        create += f' TEMPLATE "{template.rsplit("/", 1)[1]}"'
    run_sync(lambda: _pg_admin(create))
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        _DROPPER.drop(name)


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class _Dropper:
    """Drops finished test databases in a thread of its own. A DROP DATABASE waits for a
    checkpoint (1-3 s on this machine), which each PostgreSQL test used to wait out in its
    teardown; the name is unique to that test, so nothing waits on it now. The session's end
    waits for every drop (pytest_sessionfinish) and reports any that failed."""

    def __init__(self) -> None:
        self.names: queue.Queue[str | None] = queue.Queue()
        self.failed: list[str] = []
        self.thread: threading.Thread | None = None

    def drop(self, name: str) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="drop-test-databases")
            self.thread.daemon = True
            self.thread.start()
        self.names.put(name)

    def _run(self) -> None:
        while (name := self.names.get()) is not None:
            try:
                asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            except Exception as exc:  # reported at the session's end
                self.failed.append(f"{name}: {type(exc).__name__}: {exc}")

    def finish(self) -> list[str]:
        if self.thread is not None:
            self.names.put(None)
            self.thread.join()
            self.thread = None
        return self.failed


_DROPPER = _Dropper()


def pytest_sessionfinish(session: pytest.Session) -> None:
    failed = _DROPPER.finish()
    if failed:
        print("\ntest databases that could not be dropped:\n  " + "\n  ".join(failed))


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards)."""
    with fresh_pg_database() as url:
        yield url


REDIS_URL = os.environ.get("MONITOR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
_REDIS_PROBLEM: list[str | None] = []


def require_redis() -> None:
    if not _REDIS_PROBLEM:
        import redis

        try:
            redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
            _REDIS_PROBLEM.append(None)
        except Exception as exc:  # any failure means: no usable server
            _REDIS_PROBLEM.append(f"{type(exc).__name__}: {exc}")
    problem = _REDIS_PROBLEM[0]
    if problem is None:
        return
    message = f"Redis at {REDIS_URL} not reachable ({problem})"
    if IN_CI:
        pytest.fail(message + " — CI must run the Redis tests")
    pytest.skip(message + "; set MONITOR_TEST_REDIS_URL or start the server to run this test")


@pytest.fixture
def redis_url() -> str:
    require_redis()
    return REDIS_URL


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'monitor.db'}"


@pytest.fixture(scope="session")
def sqlite_migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store migrated to head, built once per worker: what `migrated_sqlite_url`
    copies. A migrated store holds nothing but its schema and revision (keys and accounts are
    made later, by whatever opens it), so every copy starts as a fresh migration would."""
    from monitor.store import db

    path = tmp_path_factory.mktemp("sqlite-template") / "migrated.db"

    async def migrate() -> None:
        engine = db.create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await db.upgrade(engine)
        finally:
            await engine.dispose()

    run_sync(migrate)
    # The store runs in WAL mode: closing its last connection folds the log into the file,
    # so the file alone is the whole store. A log left behind would make copies incomplete.
    assert not path.with_name(path.name + "-wal").exists(), "template left a WAL file behind"
    return path


@pytest.fixture
def migrated_sqlite_url(sqlite_migrated_template: Path, tmp_path: Path) -> str:
    """`sqlite_url` (the same file name) already migrated to head: a copy of the store
    migrated once per worker. Copying the file takes about a millisecond; the ten migrations
    it replaces, each DDL step and its commit, 0.3-0.8 s a test on this machine under load."""
    path = tmp_path / "monitor.db"
    shutil.copyfile(sqlite_migrated_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on both backends."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'monitor.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="session")
def pg_migrated_template() -> Iterator[str]:
    """A PostgreSQL database migrated to the head revision, built once per worker: what
    `migrated_store_url` copies. Nothing stays connected to it (a template must be idle)."""
    from monitor.store import db

    with fresh_pg_database() as url:

        async def migrate() -> None:
            engine = db.create_engine(url)
            try:
                await db.upgrade(engine)
            finally:
                await engine.dispose()

        run_sync(migrate)
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def migrated_store_url(request: pytest.FixtureRequest) -> str:
    """`store_url` for tests whose first step is migrating to head: a copy of a store migrated
    once per worker (PostgreSQL about 1-2 s of DDL saved per test, SQLite 0.3-0.8 s), so that
    first step finds nothing left to do. Tests of the migrations themselves (an older
    revision, keys, an empty store) keep `store_url`."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("migrated_sqlite_url"))
    return str(request.getfixturevalue("migrated_pg_url"))


@pytest.fixture
def migrated_pg_url(pg_migrated_template: str) -> Iterator[str]:
    """`pg_url` already migrated to head: a copy of the database migrated once per worker."""
    with fresh_pg_database(template=pg_migrated_template) as url:
        yield url


@pytest.fixture
def settings(migrated_sqlite_url: str) -> Settings:
    """Default settings on a temporary SQLite file, the keyword classifier, the checkout home.
    The file is already migrated (`migrated_sqlite_url`): the tests that take these settings
    open a runtime on them, whose start-up migrates first anyway, or never open the store."""
    return Settings(database_url=migrated_sqlite_url, home=str(ROOT), classifier="keyword")


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        if IN_CI:
            pytest.fail(f"{SHARED_DATA} is missing: CI must have ../shared beside the checkout")
        pytest.skip(f"{SHARED_DATA} is absent (the labelled data and boundaries live there)")
    return SHARED_DATA
