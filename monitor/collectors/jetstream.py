"""Bluesky posts from Jetstream over a websocket (the v1 `/subscribe` JSON wire).

`parse_frame` is pure: one frame (text) in, one event out, or `MalformedPayload`. It reads the
legacy v1 shape, the same shape with the extra `cursor` that v2 servers add, and the v2
`{"$type": "message", "payload": ...}` framing. `JetstreamCollector` owns the connection:
keyword/place filtering before storage, the `time_us` cursor committed with the posts before it,
reconnect a few seconds before that cursor (delivery is at least once; the sink dedups), a
receive timeout for stalls, backoff with jitter across a host list, and deletions honoured.

Ordering rule: everything the stream says is applied to the sink in stream order (posts,
deletions, account purges, edits), and the cursor that goes with a batch never runs ahead of
what was applied, so a crash at any point replays rather than loses.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from monitor.collectors.base import PostSink
from monitor.collectors.common import (
    CLOCK_SKEW_SECONDS,
    DEFAULT_USER_AGENT,
    AuthFailure,
    Backoff,
    CheckResult,
    Clock,
    MalformedPayload,
    RateLimited,
    RecentSet,
    SourceConfigError,
    SystemClock,
    TransientError,
    describe_error,
    parse_retry_after,
)
from monitor.collectors.health import SourceHealth
from monitor.collectors.platform import Platform, Wiring
from monitor.collectors.text import TextFilter
from monitor.types import RawPost

log = logging.getLogger(__name__)

PLATFORM = "bluesky"
POST_COLLECTION = "app.bsky.feed.post"
DEFAULT_HOSTS = (
    "jetstream1.us-east.bsky.network",
    "jetstream2.us-east.bsky.network",
    "jetstream1.us-west.bsky.network",
    "jetstream2.us-west.bsky.network",
)
# Account states that mean the person's posts must go: deleted, or removed by Bluesky. Suspended
# and deactivated accounts may come back, and their posts are not ours to destroy early.
PURGE_STATUSES = frozenset({"deleted", "takendown"})
_V2_PREFIX = "network.bsky.jetstream.subscribeEvents#"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
# A client clock can say anything; a createdAt this far past the time Jetstream saw the post is
# not believed, and the witnessed time is used instead.
_FUTURE_SLACK_US = int(CLOCK_SKEW_SECONDS * 1_000_000)
# The last microsecond a datetime holds: a time_us past it is not a time, and as the cursor it
# could never be turned back into one.
_MAX_TIME_US = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // _US


# --- events -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timed:
    """An event with Jetstream's `time_us`: the cursor moves to it once the event is handled."""

    time_us: int


@dataclass(frozen=True, slots=True)
class PostCommit(Timed):
    """A post created or edited ("update"). `filter_text` adds hashtags and the link card title."""

    operation: str
    post: RawPost
    filter_text: str


@dataclass(frozen=True, slots=True)
class PostDelete(Timed):
    post_id: str


@dataclass(frozen=True, slots=True)
class AccountStatus(Timed):
    did: str
    active: bool
    status: str | None


@dataclass(frozen=True, slots=True)
class Marker(Timed):
    """An event that only moves the cursor: identity, other collections, v2 info."""

    kind: str


@dataclass(frozen=True, slots=True)
class StreamError:
    """A v2 error frame (e.g. ConsumerTooSlow): the server wants us to reconnect."""

    error: str
    message: str


JetstreamEvent = PostCommit | PostDelete | AccountStatus | Marker | StreamError


# --- parsing (pure) ------------------------------------------------------------------------------


def parse_frame(data: str | bytes) -> JetstreamEvent:
    """One websocket text frame to one event. Raises `MalformedPayload` with the reason."""
    try:
        frame = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MalformedPayload(f"not JSON: {exc}") from None
    except ValueError:  # Python's guard on reading integers of over 4,300 digits
        raise MalformedPayload("not JSON: a number too long to read") from None
    if not isinstance(frame, dict):
        raise MalformedPayload("frame is not a JSON object")
    try:
        if "kind" in frame:
            return _parse_v1(frame)
        frame_type = frame.get("$type")
        if frame_type == "message":
            return _parse_v2(frame["payload"])
        if frame_type == "error":
            return StreamError(str(frame.get("error", "")), str(frame.get("message", "")))
    except (KeyError, TypeError, AttributeError, ValueError, OverflowError) as exc:
        # OverflowError: a time_us or time past year 9999. Escaping as anything but
        # MalformedPayload, a frame ended the connection, which resumed at the cursor before
        # it and met the same frame again, for ever.
        if isinstance(exc, MalformedPayload):
            raise
        raise MalformedPayload(f"missing or wrong field: {exc!r}") from None
    raise MalformedPayload("neither a v1 event (kind) nor a v2 message ($type)")


def _parse_v1(frame: dict[str, Any]) -> JetstreamEvent:
    did = frame["did"]
    time_us = frame["time_us"]
    if not isinstance(did, str) or not did.startswith("did:"):
        raise MalformedPayload("did is not a DID")
    if type(time_us) is not int or not 0 < time_us <= _MAX_TIME_US:
        raise MalformedPayload("time_us is not a positive integer within the calendar")
    kind = frame["kind"]
    if kind == "commit":
        c = frame["commit"]
        return _commit(time_us, did, c["operation"], c["collection"], c["rkey"], c.get("record"))
    if kind == "account":
        return _account(time_us, did, frame["account"])
    if kind == "identity":
        return Marker(time_us, "identity")
    if isinstance(kind, str):
        return Marker(time_us, kind)
    raise MalformedPayload("kind is not a string")


def _parse_v2(payload: dict[str, Any]) -> JetstreamEvent:
    ptype = payload["$type"]
    if not isinstance(ptype, str) or not ptype.startswith(_V2_PREFIX):
        raise MalformedPayload(f"unknown v2 payload type {ptype!r}")
    kind = ptype[len(_V2_PREFIX) :]
    if kind == "info":
        log.info("jetstream info: %s %s", payload.get("name"), payload.get("message"))
        return Marker(0, "info")
    did = payload["did"]
    if not isinstance(did, str) or not did.startswith("did:"):
        raise MalformedPayload("did is not a DID")
    time_us = _iso_to_us(payload["time"])
    if kind == "commit":
        return _commit(
            time_us,
            did,
            payload["operation"],
            payload["collection"],
            payload["rkey"],
            payload.get("record"),
        )
    if kind == "account":
        return _account(time_us, did, payload)
    return Marker(time_us, kind)


def _commit(
    time_us: int, did: str, operation: Any, collection: Any, rkey: Any, record: Any
) -> JetstreamEvent:
    if not isinstance(rkey, str) or not rkey or not isinstance(collection, str):
        raise MalformedPayload("commit without collection or rkey")
    if collection != POST_COLLECTION:
        return Marker(time_us, "other-collection")
    native_id = f"at://{did}/{POST_COLLECTION}/{rkey}"
    if operation == "delete":
        return PostDelete(time_us, f"{PLATFORM}:{native_id}")
    if operation not in ("create", "update"):
        raise MalformedPayload(f"unknown commit operation {operation!r}")
    if not isinstance(record, dict):
        raise MalformedPayload("post commit without a record")
    text = record.get("text", "")
    if not isinstance(text, str):
        raise MalformedPayload("post text is not a string")
    created_at = _created_at(record.get("createdAt"), time_us)
    langs = record.get("langs")
    language = langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str) else None
    reply = record.get("reply")
    reply_to = None
    if isinstance(reply, dict):
        parent = reply.get("parent")
        if isinstance(parent, dict) and isinstance(parent.get("uri"), str):
            reply_to = f"{PLATFORM}:{parent['uri']}"
    embed = record.get("embed")
    quote_of, card_title = _embed_links(embed) if isinstance(embed, dict) else (None, None)
    tags = _tags(record)
    filter_text = text
    if tags or card_title:
        filter_text = " ".join([text, *("#" + t for t in tags), card_title or ""])
    post = RawPost(
        platform=PLATFORM,
        native_id=native_id,
        text=text,
        created_at=created_at,
        author_id=did,
        url=f"https://bsky.app/profile/{did}/post/{rkey}",
        language=language,
        reply_to=reply_to,
        quote_of=quote_of,
    )
    return PostCommit(time_us, operation, post, filter_text)


def _account(time_us: int, did: str, account: dict[str, Any]) -> AccountStatus:
    active = account["active"]
    if not isinstance(active, bool):
        raise MalformedPayload("account.active is not a boolean")
    status = account.get("status")
    return AccountStatus(time_us, did, active, status if isinstance(status, str) else None)


def _tags(record: dict[str, Any]) -> list[str]:
    tags: list[str] = []
    facets = record.get("facets")
    if isinstance(facets, list):
        for facet in facets:
            features = facet.get("features") if isinstance(facet, dict) else None
            if isinstance(features, list):
                for feature in features:
                    if isinstance(feature, dict) and isinstance(feature.get("tag"), str):
                        tags.append(feature["tag"])
    extra = record.get("tags")
    if isinstance(extra, list):
        tags.extend(t for t in extra if isinstance(t, str))
    return tags


def _embed_links(embed: dict[str, Any]) -> tuple[str | None, str | None]:
    etype = embed.get("$type")
    quote_of = None
    title = None
    if etype == "app.bsky.embed.record":
        inner = embed.get("record")
        if isinstance(inner, dict) and isinstance(inner.get("uri"), str):
            quote_of = f"{PLATFORM}:{inner['uri']}"
    elif etype == "app.bsky.embed.recordWithMedia":
        outer = embed.get("record")
        inner = outer.get("record") if isinstance(outer, dict) else None
        if isinstance(inner, dict) and isinstance(inner.get("uri"), str):
            quote_of = f"{PLATFORM}:{inner['uri']}"
    elif etype == "app.bsky.embed.external":
        ext = embed.get("external")
        if isinstance(ext, dict) and isinstance(ext.get("title"), str):
            title = ext["title"]
    return quote_of, title


def _created_at(value: Any, time_us: int) -> datetime:
    witnessed = _EPOCH + time_us * _US
    if isinstance(value, str):
        try:
            created = datetime.fromisoformat(value)
        except ValueError:
            return witnessed
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        if (created - witnessed) // _US > _FUTURE_SLACK_US:
            return witnessed
        return created
    return witnessed


def _iso_to_us(value: Any) -> int:
    if not isinstance(value, str):
        raise MalformedPayload("time is not a string")
    when = datetime.fromisoformat(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    time_us = (when - _EPOCH) // _US
    if not 0 < time_us <= _MAX_TIME_US:
        raise MalformedPayload("time is not within the calendar after 1970")
    return time_us


def us_to_datetime(time_us: int) -> datetime:
    return _EPOCH + time_us * _US


# --- the collector -------------------------------------------------------------------------------


@dataclass(frozen=True)
class JetstreamConfig:
    name: str
    hosts: tuple[str, ...] = DEFAULT_HOSTS
    collections: tuple[str, ...] = (POST_COLLECTION,)
    keywords: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    rewind_seconds: float = 5.0
    receive_timeout_seconds: float = 60.0
    heartbeat_seconds: float = 30.0
    batch_size: int = 500
    flush_seconds: float = 2.0
    backoff_base_seconds: float = 1.0
    backoff_cap_seconds: float = 60.0
    gap_seconds: float = 120.0
    user_agent: str = DEFAULT_USER_AGENT
    enabled: bool = True

    def url(self, host: str) -> str:
        """`host` may be a bare host name (wss://host/subscribe) or a full ws(s):// URL."""
        if "://" in host:
            return host
        return f"wss://{host}/subscribe"


class SinkFailure(Exception):
    """The sink refused a batch; the queue is replayed from the committed cursor."""


class StallError(Exception):
    """No frame arrived within the receive timeout although the socket is open."""


@dataclass
class _Pending:
    """What has been received but not yet applied to the sink, in stream order."""

    ops: list[tuple[str, Any]] = field(default_factory=list)
    posts: dict[str, RawPost] = field(default_factory=dict)  # the open group of new posts
    last_time_us: int | None = None
    events: int = 0

    def close_group(self) -> None:
        if self.posts:
            self.ops.append(("posts", (list(self.posts.values()), self.last_time_us)))
            self.posts = {}


class JetstreamCollector:
    """Reads Jetstream forever; `run()` returns only on a configuration error."""

    kind = "jetstream"

    def __init__(
        self,
        config: JetstreamConfig,
        session: aiohttp.ClientSession,
        sink: PostSink,
        accept: TextFilter,
        health: SourceHealth | None = None,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        if not config.hosts:
            raise SourceConfigError(f"jetstream source {config.name!r}: no hosts configured")
        self.config = config
        self.name = config.name
        self._session = session
        self._sink = sink
        self._accept = accept
        self.health = health or SourceHealth(config.name, self.kind)
        self._clock = clock or SystemClock()
        self._backoff = backoff or Backoff(config.backoff_base_seconds, config.backoff_cap_seconds)
        self._host_index = 0
        self._committed: int | None = None
        self._pending = _Pending()
        self._last_flush = time.monotonic()
        # Creates replayed after their deletion (a rewound cursor) must not bring text back.
        self._deleted_posts = RecentSet(200_000)
        self._purged_dids = RecentSet(50_000)
        self._requested_cursor: int | None = None
        self._first_event_seen = False

    # -- the receive loop --

    async def run(self) -> None:
        self._committed = _cursor_int(await self._sink.load_cursor(self.name))
        while True:
            host = self.config.hosts[self._host_index % len(self.config.hosts)]
            got_events = False
            wait: float | None = None
            try:
                got_events = await self._stream(host)
                log.info("jetstream %s: %s closed the stream", self.name, host)
            except SourceConfigError as exc:
                self.health.failed(str(exc))
                log.error("jetstream %s: %s; not retrying", self.name, exc)
                await self._flush_or_drop()
                return
            except AuthFailure as exc:
                self.health.auth_failure(str(exc))
            except RateLimited as exc:
                self.health.rate_limited()
                wait = exc.wait_seconds
            except SinkFailure as exc:
                self.health.error("sink", str(exc))
                log.warning("jetstream %s: %s; will replay from the cursor", self.name, exc)
            except StallError as exc:
                self.health.stalls += 1
                self.health.error("stall", str(exc))
                log.warning("jetstream %s: %s", self.name, exc)
            except (aiohttp.ClientError, OSError, TransientError) as exc:
                self.health.error("network", f"{host}: {exc!r}")
                log.warning("jetstream %s: %s: %r", self.name, host, exc)
            except Exception as exc:  # a sink or programming error: log it, live on, replay
                self.health.error("internal", repr(exc))
                log.exception("jetstream %s: unexpected error", self.name)
            got_events = got_events or self._first_event_seen
            await self._flush_or_drop()
            if got_events:
                self._backoff.reset()
            else:
                self._host_index += 1  # this host is not serving us; try the next
            delay = self._backoff.next() if wait is None else wait
            self.health.reconnected()
            await self._clock.sleep(delay)

    async def _stream(self, host: str) -> bool:
        """One connection: read frames until it ends. True when it delivered any event."""
        params: list[tuple[str, str]] = [("wantedCollections", c) for c in self.config.collections]
        self._requested_cursor = None
        if self._committed is not None:
            self._requested_cursor = max(
                0, self._committed - int(self.config.rewind_seconds * 1_000_000)
            )
            params.append(("cursor", str(self._requested_cursor)))
        self._first_event_seen = False
        url = self.config.url(host)
        cursor_note = self._requested_cursor if self._requested_cursor is not None else "live"
        try:
            ws = await self._session.ws_connect(
                url,
                params=params,
                heartbeat=self.config.heartbeat_seconds,
                timeout=aiohttp.ClientWSTimeout(
                    ws_receive=self.config.receive_timeout_seconds, ws_close=10.0
                ),
                headers={"User-Agent": self.config.user_agent},
                compress=15,
            )
        except aiohttp.WSServerHandshakeError as exc:
            raise _handshake_error(exc, url, self._clock.now()) from None
        async with ws:
            log.info("jetstream %s: connected to %s (cursor %s)", self.name, url, cursor_note)
            loop = asyncio.get_running_loop()
            stall_after = self.config.receive_timeout_seconds
            idle_deadline = loop.time() + stall_after
            while True:
                wait = idle_deadline - loop.time()
                if self._pending.last_time_us is not None:
                    wait = min(wait, self.config.flush_seconds)
                try:
                    msg = await ws.receive(timeout=max(wait, 0.001))
                except TimeoutError:
                    if loop.time() >= idle_deadline:
                        raise StallError(f"{host}: no frame for {stall_after:g}s") from None
                    await self._flush_or_fail()  # a quiet stream: commit what is queued
                    continue
                idle_deadline = loop.time() + stall_after
                if msg.type is aiohttp.WSMsgType.TEXT:
                    await self.handle_frame(msg.data)
                elif msg.type is aiohttp.WSMsgType.BINARY:
                    # We never ask for zstd; a binary frame is not something we can read.
                    self._malformed("binary frame (compression not requested)")
                elif msg.type is aiohttp.WSMsgType.ERROR:
                    raise TransientError(f"{host}: websocket error {ws.exception()!r}")
                else:  # CLOSE, CLOSING, CLOSED
                    return self._first_event_seen

    async def handle_frame(self, data: str | bytes) -> None:
        """Parse, filter and queue one frame; apply the queue when a batch is due."""
        try:
            event = parse_frame(data)
        except MalformedPayload as exc:
            self._malformed(str(exc))
            return
        if isinstance(event, StreamError):
            raise TransientError(f"server error frame {event.error}: {event.message}")
        if not event.time_us:
            return
        if not self._first_event_seen:
            self._first_event_seen = True
            self._check_gap(event.time_us)
        p = self._pending
        if isinstance(event, PostCommit):
            post = replace(event.post, source=self.name)  # the parser cannot know the source
            pid = post.post_id
            if pid in self._deleted_posts or post.author_id in self._purged_dids:
                pass
            elif event.operation == "create":
                if self._accept(event.filter_text):
                    p.posts[pid] = post
            elif pid in p.posts:
                p.posts[pid] = post
            else:
                p.close_group()
                p.ops.append(("update", (post, self._accept(event.filter_text))))
        elif isinstance(event, PostDelete):
            self._deleted_posts.add(event.post_id)
            p.posts.pop(event.post_id, None)
            p.close_group()
            if p.ops and p.ops[-1][0] == "delete":
                p.ops[-1][1].append(event.post_id)
            else:
                p.ops.append(("delete", [event.post_id]))
        elif isinstance(event, AccountStatus):
            if not event.active and event.status in PURGE_STATUSES:
                self._purged_dids.add(event.did)
                for pid in [k for k, v in p.posts.items() if v.author_id == event.did]:
                    del p.posts[pid]
                p.close_group()
                p.ops.append(("author", event.did))
            elif event.active:
                self._purged_dids.discard(event.did)
        p.last_time_us = event.time_us
        p.events += 1
        if p.events >= self.config.batch_size or (
            time.monotonic() - self._last_flush >= self.config.flush_seconds
        ):
            await self._flush_or_fail()

    async def _flush_or_fail(self) -> None:
        try:
            await self.flush()
        except Exception as exc:
            raise SinkFailure(f"could not store a batch: {exc!r}") from exc

    async def flush(self) -> None:
        """Apply the queue to the sink in stream order; commit the cursor with the last batch."""
        p = self._pending
        if p.last_time_us is None:
            return
        p.close_group()
        final_cursor = p.last_time_us
        while p.ops:
            kind, arg = p.ops[0]
            if kind == "posts":
                posts, cursor_us = arg
                await self._sink.deliver(self.name, posts, str(cursor_us))
                self._committed = cursor_us
                self.health.delivered(len(posts))
            elif kind == "delete":
                await self._sink.delete_posts(arg)
                self.health.deleted(len(arg))
            elif kind == "author":
                await self._sink.delete_author(PLATFORM, arg)
                self.health.deleted(1)
            elif kind == "update":
                post, keep = arg
                await self._sink.update_post(post)
                if keep:  # an edit that now matches, of a post we never stored: store it
                    await self._sink.deliver(self.name, [post], None)
            p.ops.pop(0)
        if self._committed != final_cursor:
            await self._sink.deliver(self.name, [], str(final_cursor))
            self._committed = final_cursor
        p.last_time_us = None
        p.events = 0
        self._last_flush = time.monotonic()
        now = self._clock.now()
        self.health.observe_event(us_to_datetime(final_cursor), now)
        self.health.success(now)

    async def drain(self) -> None:
        """Apply what is queued (a graceful stop); replay covers it if this fails."""
        await self._flush_or_drop()

    async def _flush_or_drop(self) -> None:
        try:
            await self.flush()
        except Exception as exc:
            # Nothing after the committed cursor is lost: the next connection replays it.
            self.health.error("sink", repr(exc))
            log.exception("jetstream %s: could not store a batch; will replay it", self.name)
            self._pending = _Pending()

    def _check_gap(self, first_time_us: int) -> None:
        # Below its retention floor Jetstream silently starts at its oldest event: say so.
        requested = self._requested_cursor
        if requested is None:
            return
        gap = (first_time_us - requested) / 1_000_000
        if gap > self.config.gap_seconds:
            self.health.gaps += 1
            self.health.note(
                f"gap: asked to resume at {us_to_datetime(requested).isoformat()} but the "
                f"stream began {gap:.0f}s later; posts in between may be missing"
            )

    def _malformed(self, reason: str) -> None:
        self.health.malformed()
        # The reason only, never the frame: it may hold a post's text.
        log.warning("jetstream %s: skipped a malformed frame: %s", self.name, reason)

    # -- one-off check --

    async def check(self, seconds: float = 5.0, max_frames: int = 50) -> CheckResult:
        """Connect to each host until one works, read for a few seconds, store nothing."""
        problems: list[str] = []
        for host in self.config.hosts:
            url = self.config.url(host)
            params = [("wantedCollections", c) for c in self.config.collections]
            try:
                ws = await self._session.ws_connect(
                    url,
                    params=params,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=seconds, ws_close=5.0),
                    headers={"User-Agent": self.config.user_agent},
                )
            except aiohttp.WSServerHandshakeError as exc:
                problems.append(f"{host}: {_handshake_error(exc, url, self._clock.now())}")
                continue
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                problems.append(f"{host}: {describe_error(exc)}")
                continue
            frames = posts = matched = bad = 0
            deadline = time.monotonic() + seconds
            async with ws:
                while frames < max_frames and time.monotonic() < deadline:
                    try:
                        msg = await ws.receive(timeout=max(0.01, deadline - time.monotonic()))
                    except TimeoutError:
                        break
                    if msg.type is not aiohttp.WSMsgType.TEXT:
                        break
                    frames += 1
                    try:
                        event = parse_frame(msg.data)
                    except MalformedPayload:
                        bad += 1
                        continue
                    if isinstance(event, PostCommit):
                        posts += 1
                        matched += self._accept(event.filter_text)
            if frames == 0:
                problems.append(f"{host}: connected but no frames in {seconds:g}s")
                continue
            return CheckResult(
                True,
                f"{host}: {frames} frames, {posts} posts, {matched} kept by the filter"
                + (f", {bad} malformed" if bad else ""),
            )
        return CheckResult(False, "; ".join(problems) or "no hosts")


def _handshake_error(exc: aiohttp.WSServerHandshakeError, url: str, now: datetime) -> Exception:
    status = exc.status
    if status == 429:
        retry_after = exc.headers.get("Retry-After") if exc.headers else None
        wait = parse_retry_after(retry_after, now)
        return RateLimited(30.0 if wait is None else wait, f"{url}: HTTP 429")
    if status in (401, 403):
        return AuthFailure(status, f"{url}: HTTP {status} at websocket upgrade")
    if 400 <= status < 500:
        return SourceConfigError(f"{url}: HTTP {status} at websocket upgrade (bad parameters?)")
    return TransientError(f"{url}: HTTP {status} at websocket upgrade")


def _cursor_int(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        log.warning("ignoring a stored Jetstream cursor that is not an integer: %r", value)
        return None


# --- the platform ----------------------------------------------------------------------------


def _problems(config: JetstreamConfig) -> list[str]:
    out = []
    if not config.hosts:
        out.append("hosts: at least one Jetstream host is needed")
    if not (config.keywords or config.hashtags or config.places):
        out.append(
            "keywords, hashtags or places: Jetstream carries the whole network, so a "
            "filter is required before anything is stored"
        )
    return out


def _build(config: JetstreamConfig, wiring: Wiring) -> JetstreamCollector:
    return JetstreamCollector(
        config, wiring.session, wiring.sink, wiring.accept, health=wiring.health, clock=wiring.clock
    )


SOURCE_PLATFORM: Platform[JetstreamConfig] = Platform(
    kind="jetstream",
    config=JetstreamConfig,
    problems=_problems,
    reads=lambda config: f"{len(config.hosts)} Jetstream host(s)",
    build=_build,
)
