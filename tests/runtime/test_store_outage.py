"""Issue 13, finding 3: a store outage of ~20 s must not kill the worker or lose accepted posts,
and readiness must say so while it lasts. PostgreSQL is reached through a TCP proxy the test
cuts (every connection dropped, new ones refused), as a server restart does; SQLite is made
read-only under the running service (SQLITE_READONLY, as a read-only file or mount gives).

The runtime here waits at most `store_retry_max_s` = 0.25 s between retries (30 s by default:
its backoff makes about 6 retries in a 20 s outage), so an outage of 3 s is twice as many
retries or more; the PostgreSQL test checks that it outlasts more of them than the worker
restarts after which it used to give up (`pipeline_max_restarts`). The scheduler retries within
the same cap, so readiness comes back as soon as the store does."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, func, select

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.runtime.app import open_runtime
from monitor.runtime.state import Runtime
from monitor.store.tables import posts
from monitor.types import RawPost
from monitor.web.server import create_app
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # outages of real seconds


START = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def raw(i: int) -> RawPost:
    return RawPost(
        platform="mastodon",
        native_id=f"https://social.example/users/fictional{i % 11}/statuses/o{i}",
        text=f"(fictional) road closed by the park in Heaton again, report {i}",
        created_at=START + timedelta(seconds=i),
        author_id=f"https://social.example/users/fictional{i % 11}",
        source="test",
    )


class Proxy:
    """A TCP proxy to a PostgreSQL server that can be cut and restored."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.server: asyncio.Server | None = None
        self.port = 0
        self.up = True
        self.links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.links.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        self.up = False
        for w in list(self.links):
            w.transport.abort()
        self.links.clear()

    def restore(self) -> None:
        self.up = True

    async def close(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()


@contextlib.asynccontextmanager
async def runtime(url: str) -> AsyncIterator[Runtime]:
    settings = Settings(
        database_url=url, home=str(ROOT), classifier="keyword", store_retry_max_s=0.25
    )
    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        yield rt


async def stored_and_processed(rt: Runtime) -> tuple[int, int]:
    async with rt.engine.connect() as conn:
        total = (await conn.execute(select(func.count()).select_from(posts))).scalar_one()
        done = (
            await conn.execute(
                select(func.count()).select_from(posts).where(posts.c.processed_at.is_not(None))
            )
        ).scalar_one()
    return int(total), int(done)


async def ride_out(rt: Runtime, client: TestClient, outage: Any, seconds: float) -> None:
    """Deliver 1,500 posts into an outage of `seconds`, checking the probes during it."""
    pipeline = rt.pipeline
    outage.begin()
    feeding = asyncio.create_task(
        pipeline.deliver("test", [raw(i) for i in range(1500)], cursor=None)
    )
    deadline = time.monotonic() + seconds
    saw_not_ready = False
    # The outage lasts `seconds`, and longer if readiness has not yet said so: on a loaded
    # machine the worker's first write (and so its first failure) can come late. The bound
    # only ends a test that fails.
    give_up = deadline + 60
    while time.monotonic() < deadline or (not saw_not_ready and time.monotonic() < give_up):
        await asyncio.sleep(0.5)
        ready = await client.get("/readyz")
        if ready.status == 503:
            body = await ready.json()
            saw_not_ready = saw_not_ready or any("store" in r for r in body["reasons"])
        # Alive throughout: a restart would not bring the store back.
        assert (await client.get("/healthz")).status == 200
        assert pipeline.failure is None
    outage.end()
    await asyncio.wait_for(feeding, 60)
    assert await pipeline.drain(timeout=120), "the pipeline did not catch up after the outage"
    assert saw_not_ready, "/readyz never said the store was unavailable"
    # Ready again once every part has reconnected (the scheduler retries every few seconds).
    for _ in range(40):
        ready = await client.get("/readyz")
        if ready.status == 200:
            break
        await asyncio.sleep(0.5)
    assert ready.status == 200, await ready.text()
    assert await stored_and_processed(rt) == (1500, 1500)
    assert pipeline.stats.worker_restarts == 0 and pipeline.stats.store_retries > 0


@pytest.mark.postgres
async def test_a_postgresql_outage_loses_nothing_and_readiness_says_so(
    migrated_pg_url: str,
) -> None:
    parts = urlsplit(migrated_pg_url)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    netloc = (
        f"{parts.username}@127.0.0.1:{proxy.port}" if parts.username else f"127.0.0.1:{proxy.port}"
    )
    url = urlunsplit(parts._replace(netloc=netloc))

    class Outage:
        def begin(self) -> None:
            proxy.cut()

        def end(self) -> None:
            proxy.restore()

    try:
        async with runtime(url) as rt:
            async with TestClient(TestServer(create_app(rt.settings, rt))) as client:
                await ride_out(rt, client, Outage(), 3)
                # Cut for longer than the retries after which the worker used to give up.
                assert rt.pipeline.stats.store_retries > rt.settings.pipeline_max_restarts
    finally:
        await proxy.close()


async def test_a_read_only_sqlite_store_loses_nothing_and_readiness_says_so(
    migrated_sqlite_url: str,
) -> None:
    async with runtime(migrated_sqlite_url) as rt:
        readonly = [False]

        @event.listens_for(rt.engine.sync_engine, "connect")
        def _maybe_readonly(dbapi_connection: Any, _record: Any) -> None:
            if readonly[0]:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA query_only=ON")
                cursor.close()

        engine = rt.engine

        class Outage:
            def begin(self) -> None:
                readonly[0] = True
                asyncio.get_running_loop().create_task(engine.dispose())

            def end(self) -> None:
                readonly[0] = False
                asyncio.get_running_loop().create_task(engine.dispose())

        async with TestClient(TestServer(create_app(rt.settings, rt))) as client:
            await ride_out(rt, client, Outage(), 3)
