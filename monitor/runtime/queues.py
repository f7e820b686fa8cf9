"""The work queue between collectors and pipeline workers, behind one small interface.

Embedded mode uses `InProcessQueue` (bounded asyncio, the worker commits each source's cursor
with its posts). Scaled out, `RedisStreamQueue` appends to a Redis stream read by a consumer
group: entries a dead worker took are claimed by another after a visibility timeout
(XAUTOCLAIM), and the producer commits the cursor once the stream holds the posts. Processing
is idempotent by post id, so a redelivered entry adds nothing twice. The pipeline only sees
`WorkQueue`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from monitor.types import RawPost

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Envelope:
    """Posts from one source, with the cursor that follows them (None: no cursor to move)."""

    source: str
    posts: tuple[RawPost, ...]
    cursor: str | None = None
    # Posts already durably stored (a push accepted in-process): the worker processes these
    # ids from the store rather than ingesting anything.
    stored_ids: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return len(self.posts) + len(self.stored_ids)


@dataclass(slots=True)
class Delivery:
    """What a worker took: envelopes, and what the queue needs to acknowledge them."""

    envelopes: list[Envelope]
    token: Any = None

    @property
    def size(self) -> int:
        return sum(e.size for e in self.envelopes)


class WorkQueue(Protocol):
    # True: the worker commits each envelope's cursor with its posts (one ordered consumer).
    # False: the producer committed it once the queue had durably accepted the posts.
    worker_commits_cursor: bool

    async def put(self, envelope: Envelope) -> None:
        """Accept posts; waits while the queue is over its bound (backpressure)."""
        ...

    async def take(self, max_posts: int, max_wait: float) -> Delivery:
        """Wait for work; returns at least one envelope."""
        ...

    async def ack(self, delivery: Delivery) -> None: ...

    def depth(self) -> int:
        """Posts waiting or in flight, as last seen (for /metrics and back-pressure)."""
        ...

    async def measure(self) -> int:
        """Posts waiting or in flight, read from the queue itself now (for /metrics and
        readiness): scaled out, what the whole stream holds, whichever process asks."""
        ...

    async def dead_entries(self) -> int:
        """Entries set aside because no worker could read them, still kept for inspection
        (for /metrics and the stop report): scaled out, the length of `<stream>:dead`."""
        ...

    async def join(self) -> None:
        """Until everything put so far has been acknowledged."""
        ...

    async def close(self) -> None: ...


class InProcessQueue:
    """Bounded by posts, not envelopes, so one big import batch cannot flood memory."""

    worker_commits_cursor = True

    def __init__(self, max_posts: int = 1000) -> None:
        self.max_posts = max(1, max_posts)
        self._items: list[Envelope] = []
        self._in_flight = 0  # posts put and not yet acknowledged
        self._changed = asyncio.Condition()

    async def put(self, envelope: Envelope) -> None:
        async with self._changed:
            # An envelope larger than the bound still goes in when the queue is empty.
            await self._changed.wait_for(
                lambda: self._in_flight == 0 or self._in_flight + envelope.size <= self.max_posts
            )
            self._items.append(envelope)
            self._in_flight += envelope.size
            self._changed.notify_all()

    async def take(self, max_posts: int, max_wait: float) -> Delivery:
        loop = asyncio.get_running_loop()
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._items))
            deadline = loop.time() + max_wait
            while self._queued_posts() < max_posts:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(self._changed.wait(), remaining)
                except TimeoutError:
                    break
            taken: list[Envelope] = []
            count = 0
            while self._items and (not taken or count + self._items[0].size <= max_posts):
                envelope = self._items.pop(0)
                taken.append(envelope)
                count += envelope.size
            return Delivery(taken)

    async def ack(self, delivery: Delivery) -> None:
        async with self._changed:
            self._in_flight -= delivery.size
            self._changed.notify_all()

    def waiting(self) -> list[Envelope]:
        """Envelopes not yet taken (for the stop report)."""
        return list(self._items)

    def _queued_posts(self) -> int:
        return sum(e.size for e in self._items)

    def depth(self) -> int:
        return self._in_flight

    async def measure(self) -> int:
        return self._in_flight

    async def dead_entries(self) -> int:
        return 0  # envelopes in memory are always readable: nothing is ever set aside

    async def join(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self._in_flight == 0)

    async def close(self) -> None:
        return None


# --- Redis Streams ---------------------------------------------------------------------------


def raw_to_json(post: RawPost) -> dict[str, Any]:
    data = {f: getattr(post, f) for f in RawPost.__slots__}
    data["created_at"] = post.created_at.isoformat()
    return data


def raw_from_json(data: dict[str, Any]) -> RawPost:
    data = dict(data)
    data["created_at"] = datetime.fromisoformat(data["created_at"])
    return RawPost(**data)


CursorSaver = Callable[[str, str, str], Awaitable[None]]  # source, kind, cursor


@dataclass
class RedisSettings:
    url: str
    stream: str = "monitor:posts"
    group: str = "workers"
    consumer: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    max_length: int = 100_000  # posts waiting before producers are made to wait
    visibility_timeout: float = 60.0  # seconds before another worker may claim an entry
    chunk: int = 16  # posts per stream entry


# Acknowledge entries and take their posts off the stream's post count, at once: an entry
# deleted here (XDEL answers 1) subtracts its `n`; one another worker already deleted (claimed
# after a timeout, processed twice) subtracts nothing, so the count never drifts.
_ACK_SCRIPT = """
local gone = 0
for i = 2, #ARGV do
  local entry = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[i])
  if #entry > 0 and redis.call('XDEL', KEYS[1], ARGV[i]) == 1 then
    local fields = entry[1][2]
    for j = 1, #fields, 2 do
      if fields[j] == 'n' then gone = gone + (tonumber(fields[j + 1]) or 0) end
    end
  end
end
if gone > 0 then redis.call('DECRBY', KEYS[2], gone) end
return gone
"""


class RedisStreamQueue:
    """A Redis stream with one consumer group; entries are JSON envelopes of a few posts.

    Each entry also carries its number of posts (`n`), and the key `<stream>:posts` counts the
    posts on the stream: entries are added together with their count (MULTI) and deleted
    together with it (a script), so any process reads the depth in posts in one step."""

    worker_commits_cursor = False

    def __init__(self, settings: RedisSettings, save_cursor: CursorSaver | None = None) -> None:
        import redis.asyncio as redis

        self.settings = settings
        # No socket_timeout: with one, redis-py sends each command through asyncio.wait_for,
        # which on Python 3.11 drops a cancellation arriving as the send completes; a worker
        # polling the stream was then not stopped by SIGTERM (monitor/tasks.py). Reads wait
        # on the server (XREADGROUP blocks for max_wait at most), a server that goes away
        # closes the socket, and keepalive finds a peer gone silent.
        self.redis = redis.from_url(
            settings.url,
            decode_responses=True,
            socket_timeout=None,
            socket_connect_timeout=10,
            socket_keepalive=True,
        )
        self.save_cursor = save_cursor
        self.count_key = f"{settings.stream}:posts"
        self.dead_key = f"{settings.stream}:dead"
        self._ack = self.redis.register_script(_ACK_SCRIPT)
        self._depth = 0
        self._group_ready = False

    async def _ensure_group(self) -> bool:
        """Make the consumer group (and the stream) unless there; True when made now."""
        if self._group_ready:
            return False
        import redis.exceptions

        made = True
        try:
            await self.redis.xgroup_create(
                self.settings.stream, self.settings.group, id="0", mkstream=True
            )
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
            made = False
        self._group_ready = True
        return made

    async def put(self, envelope: Envelope) -> None:
        await self._ensure_group()
        s = self.settings
        while (depth := await self._backlog()) >= s.max_length:
            self._depth = depth
            await asyncio.sleep(0.2)
        async with self.redis.pipeline(transaction=True) as tx:
            for i in range(0, len(envelope.posts), s.chunk):
                chunk = envelope.posts[i : i + s.chunk]
                body = {"source": envelope.source, "posts": [raw_to_json(p) for p in chunk]}
                tx.xadd(s.stream, {"env": json.dumps(body), "n": len(chunk)})
            tx.incrby(self.count_key, len(envelope.posts))
            await tx.execute()
        if envelope.cursor is not None and self.save_cursor is not None:
            kind = envelope.posts[0].platform if envelope.posts else envelope.source
            await self.save_cursor(envelope.source, kind, envelope.cursor)

    async def _backlog(self) -> int:
        # Acknowledged entries are deleted, so the stream's length is what is still to do.
        return int(await self.redis.xlen(self.settings.stream)) * self.settings.chunk

    async def take(self, max_posts: int, max_wait: float) -> Delivery:
        import redis.exceptions

        await self._ensure_group()
        count = max(1, max_posts // self.settings.chunk)
        while True:
            try:
                entries = await self._take_entries(count, max_wait)
            except redis.exceptions.ResponseError as exc:
                if str(exc).startswith("UNBLOCKED"):
                    continue  # a blocked read whose stream or group was deleted: read again
                if "NOGROUP" not in str(exc):
                    raise
                # The group went with the stream (FLUSHALL, a Redis restarted without its
                # data): made again, or every take failed the same way until the worker gave
                # up and the process exited. What the stream held before is gone with it.
                self._group_ready = False
                if await self._ensure_group():
                    log.warning(
                        "the queue's consumer group %s on %s was gone (Redis flushed or "
                        "restarted without its data): made again; posts waiting on the stream "
                        "before are lost",
                        self.settings.group,
                        self.settings.stream,
                    )
                continue
            good: list[tuple[str, Envelope]] = []
            bad: list[tuple[str, dict[str, str], str]] = []
            for entry_id, fields in entries:
                try:
                    good.append((entry_id, self._decode(fields)))
                except Exception as exc:  # not what `put` writes: never retried
                    bad.append((entry_id, fields, f"{type(exc).__name__}: {exc}"))
            if bad:
                await self._set_aside(bad)
            if good:
                self._depth = await self._backlog()
                return Delivery([e for _, e in good], token=[i for i, _ in good])

    async def _set_aside(self, bad: Sequence[tuple[str, dict[str, str], str]]) -> None:
        """Move entries that cannot be read to `<stream>:dead` (kept, with why) and take them
        off the stream. Left there, one such entry (a release writing another format during a
        rolling upgrade, a hand-made XADD) failed every take: claimed again after the
        visibility timeout, it restarted the worker until the process gave up."""
        dead = self.dead_key
        async with self.redis.pipeline(transaction=True) as tx:
            for entry_id, fields, error in bad:
                kept: dict[Any, Any] = {**fields, "id": entry_id, "error": error[:500]}
                tx.xadd(dead, kept)
            await tx.execute()
        await self._ack(
            keys=[self.settings.stream, self.count_key],
            args=[self.settings.group, *(entry_id for entry_id, _, _ in bad)],
        )
        for entry_id, _, error in bad:
            log.error(
                "queue entry %s on %s cannot be read (%s): moved to %s for inspection",
                entry_id,
                self.settings.stream,
                error,
                dead,
            )

    async def _take_entries(self, count: int, max_wait: float) -> list[Any]:
        s = self.settings
        # First, entries a dead or stuck worker took and never acknowledged.
        claimed = await self.redis.xautoclaim(
            s.stream,
            s.group,
            s.consumer,
            min_idle_time=int(s.visibility_timeout * 1000),
            start_id="0-0",
            count=count,
        )
        entries = [e for e in claimed[1] if e and e[1]]
        if not entries:
            block = max(1, int(max_wait * 1000))
            response: Any = await self.redis.xreadgroup(
                s.group, s.consumer, {s.stream: ">"}, count=count, block=block
            )
            entries = [e for _, stream_entries in response or [] for e in stream_entries]
        return entries

    @staticmethod
    def _decode(fields: dict[str, str]) -> Envelope:
        body = json.loads(fields["env"])
        return Envelope(body["source"], tuple(raw_from_json(p) for p in body["posts"]))

    async def ack(self, delivery: Delivery) -> None:
        ids: Sequence[str] = delivery.token or []
        if ids:
            await self._ack(
                keys=[self.settings.stream, self.count_key], args=[self.settings.group, *ids]
            )

    def depth(self) -> int:
        return self._depth

    async def measure(self) -> int:
        async with self.redis.pipeline(transaction=True) as tx:
            tx.xlen(self.settings.stream)
            tx.get(self.count_key)
            entries, counted = await tx.execute()
        if not entries:
            self._depth = 0
            return 0
        # Entries written before entries carried their count are counted as one post each.
        self._depth = max(int(counted or 0), int(entries))
        return self._depth

    async def dead_entries(self) -> int:
        # Nothing trims or reads `:dead` but a person: its length is what still waits for one.
        return int(await self.redis.xlen(self.dead_key))

    async def join(self) -> None:
        import redis.exceptions

        while True:
            try:
                if await self.redis.xlen(self.settings.stream) == 0:
                    return
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                # Redis away (restarting, loading): the entries wait on it and the worker is
                # backing off, so keep waiting, within the caller's bound (a stop's drain). The
                # error raised out of the stop: a traceback and exit 1, no stop report.
                await asyncio.sleep(0.5)
                continue
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        await self.redis.aclose()
