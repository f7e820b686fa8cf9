"""Deletions win whatever the order (issue 13, finding 8): a Bluesky post deleted before its
create arrives, in the same collector flush, or while the create waits in the work queue never
keeps its text; an account deleted while its posts are queued likewise. Tombstones go with the
text retention period. Runs the real pipeline on SQLite (and PostgreSQL where marked) with the
Jetstream collector reading a websocket test server; all posts are fictional."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.runtime.app import open_runtime
from monitor.runtime.state import Runtime
from monitor.safeguards import retention
from monitor.store.tables import post_tombstones, posts
from monitor.types import RawPost
from tests.collectors.conftest import (
    BASE_US,
    delete_frame,
    exampletown_collector,
    post_frame,
    wait_until,
)

SECRET = "(fictional) withdrawn claim that the Exampletown library is closing for good"


def bsky(i: int, text: str = SECRET, did: str | None = None) -> RawPost:
    did = did or f"did:plc:fict{i:020d}"
    return RawPost(
        platform="bluesky",
        native_id=f"at://{did}/app.bsky.feed.post/3mq2rk{i:06d}",
        text=text,
        created_at=datetime(2026, 11, 3, 9, 0, tzinfo=UTC) + timedelta(minutes=i),
        author_id=did,
        source="bsky",
        language="en",
    )


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        yield rt


@contextlib.asynccontextmanager
async def worker_paused(rt: Runtime) -> AsyncIterator[None]:
    """The worker is stopped: what is delivered meanwhile waits in the queue."""
    await rt.pipeline.stop(drain=False)
    try:
        yield
    finally:
        await rt.pipeline.start()
        await rt.pipeline.drain()


async def texts(rt: Runtime) -> list[str]:
    async with rt.engine.connect() as conn:
        rows = await conn.execute(select(posts.c.text).where(posts.c.text.is_not(None)))
        return [r[0] for r in rows.all()]


async def test_a_delete_before_its_create_keeps_the_post_out(runtime: Runtime) -> None:
    gone, kept = bsky(1), bsky(2, "(fictional) Exampletown market is on as usual")
    await runtime.pipeline.delete_posts([gone.post_id])
    await runtime.pipeline.deliver("bsky", [gone, kept], None)
    await runtime.pipeline.drain()
    assert await texts(runtime) == [kept.text]


async def test_a_delete_while_the_create_is_queued_wins(runtime: Runtime) -> None:
    post = bsky(3)
    async with worker_paused(runtime):
        await runtime.pipeline.deliver("bsky", [post], None)
        await runtime.pipeline.delete_posts([post.post_id])
    assert await texts(runtime) == []
    # A replay of the create (rewound cursor, second source) stays out as well.
    await runtime.pipeline.deliver("bsky", [post], None)
    await runtime.pipeline.drain()
    assert await texts(runtime) == []


async def test_an_account_deleted_while_its_posts_are_queued_keeps_none(
    runtime: Runtime,
) -> None:
    did = "did:plc:fictionalaccount000000000"
    theirs = [bsky(4, did=did), bsky(5, SECRET + " again", did=did)]
    other = bsky(6, "(fictional) Exampletown bus times change on Monday")
    async with worker_paused(runtime):
        await runtime.pipeline.deliver("bsky", [*theirs, other], None)
        await runtime.pipeline.delete_author("bluesky", did)
    assert await texts(runtime) == [other.text]


async def test_create_and_delete_in_one_jetstream_flush_leaves_no_text(
    runtime: Runtime, jetstream_server: Callable[..., Any]
) -> None:
    """The create is grouped for delivery before another delete closes its group, then its own
    delete follows in the same flush: the flush queues the post, then deletes it from a store
    that does not hold it yet."""
    frames = [
        post_frame(0, SECRET),
        delete_frame(1, time_us=BASE_US + 1_000),  # closes the group holding post 0
        delete_frame(0, time_us=BASE_US + 2_000),
        post_frame(3, "(fictional) Exampletown park run at nine", time_us=BASE_US + 3_000),
    ]
    server = await jetstream_server(frames)
    async with aiohttp.ClientSession() as session:
        collector = exampletown_collector(server.url, session, runtime.pipeline, batch_size=4)
        async with worker_paused(runtime):
            task = asyncio.create_task(collector.run())
            try:
                await wait_until(lambda: collector.health.deletions >= 2)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    assert await texts(runtime) == ["(fictional) Exampletown park run at nine"]


async def test_tombstones_are_kept_for_the_retention_period_then_forgotten(
    runtime: Runtime, settings: Settings
) -> None:
    now = datetime.now(UTC)
    await runtime.pipeline.delete_posts([bsky(7).post_id])
    policy = retention.Policy.from_settings(settings)
    early = await retention.purge(runtime.engine, policy, now + timedelta(days=1))
    assert early.tombstones_forgotten == 0
    late = await retention.purge(
        runtime.engine, policy, now + timedelta(days=settings.retention_days + 1)
    )
    assert late.tombstones_forgotten == 1
    async with runtime.engine.connect() as conn:
        left = (await conn.execute(select(func.count()).select_from(post_tombstones))).scalar()
    assert left == 0


async def test_a_delete_recorded_while_a_worker_stores_the_post_is_applied_after_its_commit(
    runtime: Runtime,
) -> None:
    """The race on two connections: the worker checked for tombstones before the delete's
    tombstone committed, and the delete's purge ran before the worker's insert committed. The
    worker's check after its own commit finds the tombstone and purges."""
    from monitor.store import tombstones

    post = bsky(8)
    await runtime.pipeline.deliver("bsky", [post], None)
    await runtime.pipeline.drain()
    assert await texts(runtime) == [SECRET]
    stored_id = (await runtime.pipeline.ingestor.ids()).key(post.post_id)  # kept keyed
    async with runtime.engine.begin() as conn:  # the delete's first transaction, alone
        await tombstones.record_posts(conn, [stored_id], datetime.now(UTC))
    assert await runtime.pipeline.honour_deletions([stored_id]) == 1
    assert await texts(runtime) == []
