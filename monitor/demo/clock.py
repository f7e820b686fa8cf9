"""The demo's own clock: a simulated "now" that moves with the replayed posts.

The bundled week is from early November; run on today's date, its digests would cover empty
days, rumour alerts would wait for today's office hours and levels would have decayed to
normal. So while `monitor demo` replays, "now" is the time of the latest post processed (it
only moves forward), and every core that takes an injected clock (the pipeline and its
stages, the alert dispatcher, the digests, the safeguards' schedules (the retention purge, its
key rotation, the governance refresh), the web pages' "now") is given this one. When the
replay ends, the demo closes the week: "now" moves to the last digest it sends then (the
Monday morning after), so alerts held for office hours are delivered as they would have been.
Sign-in sessions stay on real time: a replay at 60x would otherwise expire them in seconds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.collectors.base import PostSink
from monitor.types import Processed, RawPost

LONDON = ZoneInfo("Europe/London")


class ReplayClock:
    """Callable clock: the latest replayed post's time, never earlier than `start`."""

    def __init__(self, start: datetime, end: datetime | None = None) -> None:
        self.start = start.astimezone(UTC)
        self.end = (end or start).astimezone(UTC)
        self.delivered = self.start  # the latest post handed to the pipeline
        self.processed = self.start  # the latest post the pipeline has processed
        self._floor = self.start  # where closing the replay moved "now" to

    @classmethod
    def for_file(cls, path: Path) -> ReplayClock:
        """Start at the file's first post and know its last (read once, before the replay)."""
        first: datetime | None = None
        last: datetime | None = None
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    at = datetime.fromisoformat(json.loads(line)["created_at"])
                except (ValueError, KeyError, TypeError):
                    continue  # the importer reports bad lines; the clock just skips them
                if at.tzinfo is None:
                    at = at.replace(tzinfo=UTC)
                first = at if first is None or at < first else first
                last = at if last is None or at > last else last
        if first is None:
            raise ValueError(f"{path}: no post with a readable created_at to set the clock")
        return cls(first, last)

    def __call__(self) -> datetime:
        # Processed, not delivered: an import hands over the whole file long before the
        # pipeline has scored it, and each batch is routed at (about) its own time.
        return max(self.processed, self._floor)

    def advance(self, at: datetime) -> None:
        """A post was delivered (the replay sink)."""
        at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
        self.delivered = max(self.delivered, at)

    def close(self, at: datetime) -> None:
        """The replay is over: "now" moves on to `at` (never back)."""
        self._floor = max(self._floor, at.astimezone(UTC))

    def on_processed(self, items: Sequence[Processed]) -> None:
        """A pipeline listener: digests are sent only for periods already processed."""
        for item in items:
            at = item.post.created_at
            at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
            self.processed = max(self.processed, at)

    @property
    def label(self) -> str:
        """What the banner says: which week is being replayed."""
        a, b = self.start.astimezone(LONDON), self.end.astimezone(LONDON)
        return f"{a:%a %d %b} – {b:%a %d %b %Y}"


@dataclass
class ReplaySink:
    """A PostSink that moves the clock to each batch's latest post before delivering it."""

    inner: PostSink
    clock: ReplayClock

    async def deliver(self, source: str, posts: Sequence[RawPost], cursor: str | None) -> None:
        for post in posts:
            self.clock.advance(post.created_at)
        await self.inner.deliver(source, posts, cursor)

    async def load_cursor(self, source: str) -> str | None:
        return await self.inner.load_cursor(source)

    async def delete_posts(self, post_ids: Sequence[str]) -> int:
        return await self.inner.delete_posts(post_ids)

    async def delete_author(self, platform: str, author_id: str) -> int:
        return await self.inner.delete_author(platform, author_id)

    async def update_post(self, post: RawPost) -> None:
        await self.inner.update_post(post)
