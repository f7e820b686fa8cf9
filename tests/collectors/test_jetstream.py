"""Jetstream: recorded frame shapes parse; the collector stores matching posts exactly once,
honours deletions, and survives malformed frames, closes, stalls, refusals and restarts."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from monitor.collectors.common import Backoff, MalformedPayload
from monitor.collectors.health import CollectorMetrics, SourceHealth
from monitor.collectors.jetstream import (
    AccountStatus,
    JetstreamCollector,
    JetstreamConfig,
    Marker,
    PostCommit,
    PostDelete,
    StreamError,
    parse_frame,
)
from monitor.collectors.text import KeywordFilter
from tests.collectors.conftest import (
    BASE_US,
    FakeClock,
    MemorySink,
    delete_frame,
    load_text,
    post_frame,
    wait_until,
)

ACCEPT = KeywordFilter(places=["Exampletown"], hashtags=["MakeSureItAddsUp"])


def fixture(name: str) -> str:
    return load_text("jetstream", f"{name}.json").strip()


# --- parsing ---------------------------------------------------------------------------------


def test_plain_create_becomes_a_post_with_the_raw_author_only_in_author_id() -> None:
    event = parse_frame(fixture("create_plain"))
    assert isinstance(event, PostCommit)
    assert event.operation == "create"
    assert event.time_us == 1787220930123456
    post = event.post
    assert post.post_id == (
        "bluesky:at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/app.bsky.feed.post/3mq2abcdwvu2k"
    )
    assert post.text.startswith("Heard there's trouble planned")
    assert post.author_id == "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"
    assert post.language == "en"
    assert post.created_at.isoformat() == "2026-08-20T10:15:29.871000+00:00"
    assert post.url == (
        "https://bsky.app/profile/did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/post/3mq2abcdwvu2k"
    )


def test_reply_with_facets_keeps_reply_link_and_filters_on_tags_and_card_title() -> None:
    event = parse_frame(fixture("create_reply_facets"))
    assert isinstance(event, PostCommit)
    assert event.post.reply_to == (
        "bluesky:at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/app.bsky.feed.post/3mq2abcdwvu2k"
    )
    assert "#Exampletown" in event.filter_text
    assert "Council statement on town centre event" in event.filter_text
    # The stored text is the post's own text, not the link card.
    assert "Council statement" not in event.post.text


def test_quote_post_links_the_quoted_post_and_record_tags_count_for_filtering() -> None:
    event = parse_frame(fixture("create_quote"))
    assert isinstance(event, PostCommit)
    assert event.post.quote_of == (
        "bluesky:at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/app.bsky.feed.post/3mq2abcdwvu2k"
    )
    assert ACCEPT(event.filter_text)
    assert not ACCEPT(event.post.text)


def test_update_delete_account_identity_and_other_collections() -> None:
    update = parse_frame(fixture("update"))
    assert isinstance(update, PostCommit) and update.operation == "update"
    delete = parse_frame(fixture("delete"))
    assert delete == PostDelete(
        1787221000000000,
        "bluesky:at://did:plc:aaaaaaaaaaaaaaaaaaaaaaaa/app.bsky.feed.post/3mq2abcdwvu2k",
    )
    gone = parse_frame(fixture("account_deleted"))
    assert gone == AccountStatus(
        1787221100000000, "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", False, "deleted"
    )
    back = parse_frame(fixture("account_active"))
    assert isinstance(back, AccountStatus) and back.active and back.status is None
    assert parse_frame(fixture("identity")) == Marker(1787221100000400, "identity")
    assert parse_frame(fixture("identity_no_handle")) == Marker(1787221100000450, "identity")
    assert parse_frame(fixture("other_collection")) == Marker(1787220934000000, "other-collection")


def test_v2_server_frames_with_extra_cursor_parse_like_legacy_ones() -> None:
    legacy = parse_frame(fixture("delete").replace("1787221000000000", "1787220930123456"))
    newer = parse_frame(fixture("v2server_delete"))
    assert legacy == newer
    create = parse_frame(fixture("v2server_create"))
    assert isinstance(create, PostCommit) and create.post.language == "en"


def test_v2_message_framing_commit_account_and_error() -> None:
    commit = parse_frame(fixture("v2_message_commit"))
    assert isinstance(commit, PostCommit)
    assert commit.time_us == 1787220935123456
    assert commit.post.native_id.endswith("/app.bsky.feed.post/3mq2abcm1bb2c")
    account = parse_frame(fixture("v2_message_account"))
    assert account == AccountStatus(
        1787220936000000, "did:plc:gggggggggggggggggggggggg", False, "takendown"
    )
    error = parse_frame(fixture("v2_error"))
    assert isinstance(error, StreamError) and error.error == "ConsumerTooSlow"


def test_future_created_at_falls_back_to_the_time_jetstream_saw_the_post() -> None:
    frame = fixture("create_plain").replace("2026-08-20T10:15:29.871Z", "2099-01-01T00:00:00Z")
    event = parse_frame(frame)
    assert isinstance(event, PostCommit)
    assert event.post.created_at.year == 2026


@pytest.mark.parametrize("line", load_text("jetstream", "malformed.txt").splitlines())
def test_malformed_frames_raise_malformed_payload(line: str) -> None:
    with pytest.raises(MalformedPayload):
        parse_frame(line)


# --- the collector against a websocket server ---------------------------------------------------


def make(
    url: str | list[str],
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
    **overrides: Any,
) -> JetstreamCollector:
    hosts = tuple(url) if isinstance(url, list) else (url,)
    options: dict[str, Any] = {
        "batch_size": 3,
        "flush_seconds": 0.05,
        "receive_timeout_seconds": 5,
    }
    options.update(overrides)
    config = JetstreamConfig(name="bsky", hosts=hosts, **options)
    health = SourceHealth("bsky", "jetstream", CollectorMetrics(CollectorRegistry()))
    return JetstreamCollector(
        config,
        session,
        sink,
        ACCEPT,
        health=health,
        clock=clock,
        backoff=Backoff(1.0, 60.0, random.Random(7)),
    )


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@contextlib.asynccontextmanager
async def running(collector: JetstreamCollector) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(collector.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def stream(n: int) -> tuple[list[str], set[str]]:
    """n fictional posts; every other one names Exampletown. Returns frames and kept ids."""
    frames, kept = [], set()
    for i in range(n):
        if i % 2 == 0:
            text = f"Fictional post {i}: queue outside the Exampletown clinic again"
            kept.add(f"bluesky:at://did:plc:fict{i % 7:020d}/app.bsky.feed.post/3mq2rk{i:06d}")
        else:
            text = f"Fictional post {i}: lovely weather for the cricket"
        frames.append(post_frame(i, text))
    return frames, kept


async def test_stores_only_matching_posts_and_commits_the_cursor_with_them(
    jetstream_server: Callable[..., Any],
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
) -> None:
    frames, kept = stream(10)
    server = await jetstream_server(frames)
    collector = make(server.url, sink, clock, session)
    async with running(collector):
        await wait_until(lambda: sink.cursors.get("bsky") == str(BASE_US + 9000))
    assert set(sink.posts) == kept
    assert all("cricket" not in t for t in sink.texts())
    assert server.connections[0]["wantedCollections"] == ["app.bsky.feed.post"]
    assert server.connections[0]["cursor"] is None  # first start: live tail
    assert collector.health.posts_delivered == len(kept)
    assert collector.health.lag_seconds is not None


async def test_malformed_frames_are_skipped_counted_and_the_collector_lives_on(
    jetstream_server: Callable[..., Any],
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = load_text("jetstream", "malformed.txt").splitlines()
    good, kept = stream(6)
    frames = good[:3] + bad + good[3:]
    server = await jetstream_server(frames)
    collector = make(server.url, sink, clock, session)
    async with running(collector):
        await wait_until(lambda: sink.cursors.get("bsky") == str(BASE_US + 5000))
    assert set(sink.posts) == kept
    assert collector.health.malformed_count == len(bad)
    assert len(server.connections) == 1  # no reconnect needed
    assert "skipped a malformed frame" in caplog.text
    # Logs carry the reason, never the frame's text.
    assert "no time_us here" not in caplog.text


async def test_deleted_post_leaves_no_trace_of_its_text(
    jetstream_server: Callable[..., Any],
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
) -> None:
    secret = "Fictional claim about the Exampletown mosque that the author withdrew"
    frames = [post_frame(0, secret), *stream(6)[0][1:]]
    frames.append(delete_frame(0, time_us=BASE_US + 60_000))
    frames.append(post_frame(99, "Exampletown later post", time_us=BASE_US + 70_000))
    server = await jetstream_server(frames)
    collector = make(server.url, sink, clock, session)
    async with running(collector):
        await wait_until(lambda: any("later post" in t for t in sink.texts()))
    assert not sink.holds_text("author withdrew")
    deleted_id = "bluesky:at://did:plc:fict00000000000000000000/app.bsky.feed.post/3mq2rk000000"
    assert deleted_id in sink.purged
    assert collector.health.deletions == 1


async def test_account_deletion_purges_all_its_posts_but_deactivation_does_not(
    jetstream_server: Callable[..., Any],
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
) -> None:
    gone, paused = "did:plc:gonegonegonegonegonegone", "did:plc:pausedpausedpausedpaused"
    frames = [
        post_frame(1, "Exampletown first fictional post", did=gone),
        post_frame(2, "Exampletown second fictional post", did=gone),
        post_frame(3, "Exampletown post by a resting account", did=paused),
        post_frame(4, "Exampletown unrelated", did="did:plc:otherotherotherotherother"),
    ]
    account = (
        '{{"did":"{d}","time_us":{t},"kind":"account","account":{{"active":false,'
        '"did":"{d}","seq":1,"status":"{s}","time":"2026-08-20T10:18:19.877Z"}}}}'
    )
    frames.append(account.format(d=gone, t=BASE_US + 10_000, s="deleted"))
    frames.append(account.format(d=paused, t=BASE_US + 11_000, s="deactivated"))
    # A replayed create from the deleted account must not come back.
    frames.append(post_frame(5, "Exampletown late replay", did=gone, time_us=BASE_US + 12_000))
    frames.append(post_frame(6, "Exampletown end marker", time_us=BASE_US + 13_000))
    server = await jetstream_server(frames)
    collector = make(server.url, sink, clock, session)
    async with running(collector):
        await wait_until(lambda: any("end marker" in t for t in sink.texts()))
    assert not sink.holds_text("first fictional post")
    assert not sink.holds_text("second fictional post")
    assert not sink.holds_text("late replay")
    assert any("resting account" in t for t in sink.texts())
    assert ("bluesky", gone) in sink.author_calls
    assert all(did != paused for _, did in sink.author_calls)


async def test_update_replaces_the_stored_text(
    jetstream_server: Callable[..., Any],
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
) -> None:
    frames = [fixture("create_reply_facets"), *stream(4)[0], fixture("update")]
    frames.append(post_frame(50, "Exampletown end marker", time_us=1787221000000000))
    server = await jetstream_server(frames)
    collector = make(server.url, sink, clock, session, batch_size=2)
    async with running(collector):
        await wait_until(lambda: any("end marker" in t for t in sink.texts()))
    post_id = "bluesky:at://did:plc:bbbbbbbbbbbbbbbbbbbbbbbb/app.bsky.feed.post/3mq2abcf2aa2c"
    assert sink.posts[post_id].text == "(edited) it's a peaceful vigil in Exampletown"
    assert not sink.holds_text("not a protest")


async def test_server_closing_the_socket_reconnects_a_few_seconds_before_the_cursor(
    jetstream_server: Callable[..., Any],
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
) -> None:
    frames, kept = stream(12)
    server = await jetstream_server(frames, scripts=[{"close_after": 7}])
    collector = make(server.url, sink, clock, session)
    async with running(collector):
        await wait_until(lambda: sink.cursors.get("bsky") == str(BASE_US + 11000))
    assert set(sink.posts) == kept
    assert max(sink.offered.values()) >= 1
    assert len(server.connections) == 2
    # Resumed from the committed cursor (event 6) rewound by 5 s.
    assert int(server.connections[1]["cursor"]) == BASE_US + 6000 - 5_000_000
    assert collector.health.reconnects == 1
    assert clock.sleeps and clock.sleeps[0] <= 1.0  # a healthy connection resets the backoff


async def test_a_stalled_stream_is_detected_and_resumed(
    jetstream_server: Callable[..., Any],
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
) -> None:
    frames, kept = stream(10)
    server = await jetstream_server(frames, scripts=[{"stall_after": 5}])
    collector = make(server.url, sink, clock, session, receive_timeout_seconds=0.3)
    async with running(collector):
        await wait_until(lambda: sink.cursors.get("bsky") == str(BASE_US + 9000))
    assert set(sink.posts) == kept
    assert collector.health.stalls == 1
    assert len(server.connections) == 2
    # The stalled connection's events were committed before reconnecting.
    assert int(server.connections[1]["cursor"]) == BASE_US + 4000 - 5_000_000


async def test_killed_and_restarted_collector_loses_nothing_and_stores_nothing_twice(
    jetstream_server: Callable[..., Any],
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
) -> None:
    frames, kept = stream(40)
    # Kill mid-stream: the first connection goes silent after 23 frames, 21 of which are in
    # committed batches of 3 and 2 of which are queued when the task is cancelled (a crash).
    server = await jetstream_server(frames, scripts=[{"stall_after": 23}])
    first = make(server.url, sink, clock, session, flush_seconds=60)
    async with running(first):
        await wait_until(lambda: server.sent == 23 and sink.cursors.get("bsky") is not None)
        await wait_until(lambda: sink.cursors["bsky"] == str(BASE_US + 20_000))
    stored_before = set(sink.posts)
    assert stored_before < kept
    second = make(server.url, sink, clock, session)
    async with running(second):
        await wait_until(lambda: sink.cursors.get("bsky") == str(BASE_US + 39_000))
    assert set(sink.posts) == kept
    assert len(sink.posts) == len(kept)  # stored once each, although some were offered twice
    assert int(server.connections[1]["cursor"]) == BASE_US + 20_000 - 5_000_000
    assert any(count > 1 for count in sink.offered.values())  # the replay really overlapped


async def test_cursor_is_not_committed_when_the_store_fails_and_nothing_is_lost(
    jetstream_server: Callable[..., Any],
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
) -> None:
    frames, kept = stream(9)
    server = await jetstream_server(frames)
    sink.fail_deliveries = 2  # the batch and its retry on disconnect both fail
    collector = make(server.url, sink, clock, session)
    async with running(collector):
        await wait_until(lambda: sink.cursors.get("bsky") == str(BASE_US + 8000))
    assert set(sink.posts) == kept
    assert collector.health.error_count >= 1
    # The failed batch was not committed, so the replay started from no cursor (live tail
    # from the start of this server's history), not from beyond the lost batch.
    assert server.connections[1]["cursor"] is None


async def test_bad_parameters_stop_the_collector_with_a_clear_error(
    jetstream_server: Callable[..., Any],
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
) -> None:
    server = await jetstream_server([], scripts=[{"status": 400}])
    collector = make(server.url, sink, clock, session)
    await asyncio.wait_for(collector.run(), timeout=5)
    assert collector.health.state == "failed"
    assert "400" in (collector.health.last_error or "")
    assert len(server.connections) == 1


async def test_repeated_refusals_mark_the_source_blocked_with_growing_backoff(
    jetstream_server: Callable[..., Any],
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
) -> None:
    scripts: list[dict[str, Any]] = [{"status": 403}] * 1000
    server = await jetstream_server(stream(4)[0], scripts=scripts)
    collector = make(server.url, sink, clock, session)
    async with running(collector):
        await wait_until(lambda: len(clock.sleeps) >= 8)
    assert collector.health.looks_blocked
    assert collector.health.state == "blocked"
    sleeps = clock.sleeps[:8]
    assert sleeps[0] < 1.01 and sleeps[3] >= 4.0 and sleeps[7] <= 60.0
    before_cap = sleeps[:6]  # below the 60 s cap each delay is at least the one before
    assert all(b >= a for a, b in zip(before_cap, before_cap[1:], strict=False))
    assert not sink.posts


async def test_refusals_then_success_clear_the_blocked_flag(
    jetstream_server: Callable[..., Any],
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
) -> None:
    frames, kept = stream(4)
    server = await jetstream_server(frames, scripts=[{"status": 401}] * 4)
    collector = make(server.url, sink, clock, session)
    async with running(collector):
        await wait_until(lambda: set(sink.posts) == kept)
    assert collector.health.error_count == 4
    assert not collector.health.looks_blocked
    assert collector.health.state == "ok"


async def test_429_at_upgrade_waits_as_long_as_retry_after_says(
    jetstream_server: Callable[..., Any],
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
) -> None:
    frames, kept = stream(4)
    server = await jetstream_server(
        frames, scripts=[{"status": 429, "headers": {"Retry-After": "42"}}]
    )
    collector = make(server.url, sink, clock, session)
    async with running(collector):
        await wait_until(lambda: set(sink.posts) == kept)
    assert clock.sleeps[0] == 42.0
    assert collector.health.rate_limit_waits == 1


async def test_an_unreachable_host_is_skipped_for_the_next_one(
    jetstream_server: Callable[..., Any],
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
    unused_tcp_port: int,
) -> None:
    frames, kept = stream(4)
    server = await jetstream_server(frames)
    dead = f"ws://127.0.0.1:{unused_tcp_port}/subscribe"
    collector = make([dead, server.url], sink, clock, session)
    async with running(collector):
        await wait_until(lambda: set(sink.posts) == kept)
    assert collector.health.error_count == 1


async def test_a_cursor_older_than_the_servers_history_is_reported_as_a_gap(
    jetstream_server: Callable[..., Any],
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
) -> None:
    frames, kept = stream(4)
    sink.cursors["bsky"] = str(BASE_US - 3600 * 1_000_000)  # an hour before the oldest event
    server = await jetstream_server(frames)
    collector = make(server.url, sink, clock, session)
    async with running(collector):
        await wait_until(lambda: set(sink.posts) == kept)
    assert collector.health.gaps == 1
    assert any("gap" in n for n in collector.health.notes)


async def test_a_server_error_frame_triggers_a_reconnect(
    jetstream_server: Callable[..., Any],
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
) -> None:
    frames, kept = stream(6)
    error = fixture("v2_error")
    server = await jetstream_server(frames[:3] + [error] + frames[3:])
    # The error frame has no time, so the replay from the cursor skips it the second time.
    collector = make(server.url, sink, clock, session)
    async with running(collector):
        await wait_until(lambda: set(sink.posts) == kept)
    assert len(server.connections) == 2


async def test_check_reads_a_few_frames_and_stores_nothing(
    jetstream_server: Callable[..., Any],
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
) -> None:
    frames, _ = stream(6)
    server = await jetstream_server(frames)
    collector = make(server.url, sink, clock, session)
    result = await collector.check(seconds=0.5)
    assert result.ok, result.detail
    assert "6 frames" in result.detail and "3 kept" in result.detail
    assert not sink.posts and not sink.cursors


async def test_check_names_an_unreachable_host_in_words_not_a_repr(
    sink: MemorySink, clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    from tests.conftest import free_port

    port = free_port()  # nothing listens there
    collector = make(f"ws://127.0.0.1:{port}/subscribe", sink, clock, session)
    result = await collector.check(seconds=0.5)
    assert not result.ok
    assert f"Cannot connect to host 127.0.0.1:{port}" in result.detail, result.detail
    assert "ConnectionKey" not in result.detail and "Error(" not in result.detail
