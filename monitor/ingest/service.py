"""Ingest with the key ring: what the pipeline calls to turn raw posts into storable ones."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.config import Settings
from monitor.ingest.core import IngestError, Ingestor, author_ref
from monitor.privacy.postids import PostIds
from monitor.store.keys import KeyRing, PostKeys
from monitor.types import Post, RawPost

log = logging.getLogger(__name__)


class KeyedIngestor:
    """Ingests batches with the current period's pseudonym key; refuses bad posts one by one."""

    def __init__(self, ingestor: Ingestor, keys: KeyRing, post_keys: PostKeys) -> None:
        self.ingestor = ingestor
        self.keys = keys
        self.post_keys = post_keys
        # Set by the composition root: drops place matches whose approval lapsed (governance).
        self.place_gate: Callable[[Post, datetime], Post | None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, home: Path, engine: AsyncEngine) -> KeyedIngestor:
        return cls(
            Ingestor.from_settings(settings, home),
            KeyRing.from_settings(settings, engine),
            PostKeys.from_settings(settings, engine),
        )

    def mask(self, text: str) -> str:
        """The text with mentions, contact details and house numbers masked (as ingest does)."""
        return self.ingestor.minimise(text)

    async def ids(self) -> PostIds:
        """How post ids and links are keyed at rest (a deletion names the platform id)."""
        return await self.post_keys.get()

    async def ingest_batch(self, raws: Sequence[RawPost], now: datetime) -> list[Post]:
        """The posts ingest takes; those it refuses are logged and left out."""
        out, refused = await self.ingest_each(raws, now)
        for raw, reason in refused:
            log.warning("refused post from %s: %s", raw.source, reason)
        return out

    async def ingest_each(
        self, raws: Sequence[RawPost], now: datetime
    ) -> tuple[list[Post], list[tuple[RawPost, str]]]:
        """The posts ingest takes, and each refused one with its reason (the pipeline puts
        those in the quarantine). A post whose place approval lapsed is neither."""
        key = await self.keys.current(now)
        ids = await self.post_keys.get()
        out: list[Post] = []
        refused: list[tuple[RawPost, str]] = []
        for raw in raws:
            try:
                post: Post | None = self.ingestor.ingest(raw, key, now, ids=ids)
                if self.place_gate is not None and post is not None:
                    post = self.place_gate(post, now)
                if post is not None:
                    out.append(post)
            except IngestError as exc:
                refused.append((raw, _without_ids(str(exc), raw)))
        return out, refused

    async def author_refs(
        self, platform: str, author_id: str, now: datetime | None = None
    ) -> list[str]:
        """The author's pseudonym under every key held. With `now`, the current period's key is
        made first if missing, so that a deletion recorded before any post of the period was
        stored still covers the posts ingested later in it."""
        if now is not None:
            await self.keys.current(now)
        return [author_ref(k, platform, author_id) for k in await self.keys.held_keys()]


def _without_ids(reason: str, raw: RawPost) -> str:
    """A refusal's reason as the quarantine keeps and shows it: the platform id (which names
    the author) is replaced, the rest of the reason kept."""
    for ident in sorted({raw.post_id, raw.post_id[:80], raw.native_id}, key=len, reverse=True):
        if ident:
            reason = reason.replace(ident, "the post")
    return reason
