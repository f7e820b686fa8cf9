"""Re-check old posts against their platform before their excerpts are shown or sent.

A post deleted or hidden on the platform must not be shown to staff or sent in a digest from
our copy. Deletion events cover most of it, but not all (Mastodon polling sees no deletes;
Jetstream is not authenticated), so platforms advise re-fetching before display. Before an
alert's evidence is shown (page, API, CSV) or a digest with excerpts is sent, each of its posts
older than `recheck_after_hours` is looked up — Bluesky with `app.bsky.feed.getPosts` on the
public AppView (25 at-uris a request), Mastodon with `GET /api/v1/statuses/:id` on the post's own
server — and one the platform says is gone (not returned, 404/410) or hidden (taken down, no
longer public) is purged everywhere like a reported deletion (tombstone, then purge).

Honest limits: an error or a timeout leaves the excerpt shown and is counted (`failures`);
rate limits are respected (Bluesky `ratelimit-reset`, Mastodon `X-RateLimit-Reset`; no request
until then); every check is bounded by `recheck_timeout_seconds` so a page never hangs. A post
checked recently is not checked again for `recheck_after_hours` (per process). Platforms
without a public look-up (RSS, Reddit without credentials, imports) are not re-checked.

The transports are small classes behind `Checker`, so tests swap in aiohttp test servers that
speak the recorded response shapes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.classify.disk_cache import EncodingEraser
from monitor.config import Settings
from monitor.privacy.postids import SealError
from monitor.store import posts as post_store
from monitor.store import tombstones
from monitor.store.keys import PostKeys
from monitor.store.tables import alert_posts, posts

log = logging.getLogger(__name__)

BLUESKY_BATCH = 25  # getPosts takes at most 25 uris
# Labels on a post or its author that mean the platform no longer shows it.
HIDING_LABELS = frozenset({"!takedown", "!hide", "!suspend"})


class Verdict(Enum):
    PRESENT = "present"
    GONE = "gone"  # deleted, taken down or no longer public: purge
    UNKNOWN = "unknown"  # error, timeout or rate-limited: keep showing, count it


class Checker(Protocol):
    """Looks up posts by their platform ids (e.g. "bluesky:at://…", opened from the sealed
    `origin` for the look-up only) on one platform."""

    async def check(self, post_ids: Sequence[str], now: datetime) -> dict[str, Verdict]: ...


def _native(post_id: str) -> str:
    return post_id.split(":", 1)[1] if ":" in post_id else post_id


def _reset_at(value: str | None, now: datetime) -> datetime | None:
    """A rate-limit reset header: epoch seconds (Bluesky) or an ISO time (Mastodon)."""
    if not value:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        pass
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return now + timedelta(minutes=5)  # unreadable: wait a whole rate-limit period
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class BlueskyChecker:
    """`app.bsky.feed.getPosts` on the public AppView: a uri missing from the answer is gone."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, timeout: float = 3.0) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.not_before: datetime | None = None

    async def check(self, post_ids: Sequence[str], now: datetime) -> dict[str, Verdict]:
        out = dict.fromkeys(post_ids, Verdict.UNKNOWN)
        for start in range(0, len(post_ids), BLUESKY_BATCH):
            if self.not_before is not None and now < self.not_before:
                break  # rate-limited: no request until the reset
            part = list(post_ids[start : start + BLUESKY_BATCH])
            uris = {_native(p): p for p in part}
            url = f"{self.base_url}/xrpc/app.bsky.feed.getPosts"
            params = [("uris", u) for u in uris]
            try:
                async with self.session.get(
                    url, params=params, timeout=aiohttp.ClientTimeout(total=self.timeout)
                ) as resp:
                    self._note_limits(resp.status, resp.headers, now)
                    if resp.status != 200:
                        log.warning(
                            "getPosts answered %s; %d posts not re-checked", resp.status, len(part)
                        )
                        continue
                    body: Any = await resp.json()
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.warning(
                    "getPosts failed (%s); %d posts not re-checked", type(exc).__name__, len(part)
                )
                continue
            found = {str(v.get("uri")): v for v in (body.get("posts") or []) if isinstance(v, dict)}
            for uri, pid in uris.items():
                view = found.get(uri)
                out[pid] = Verdict.GONE if view is None or _hidden(view) else Verdict.PRESENT
        return out

    def _note_limits(self, status: int, headers: Mapping[str, str], now: datetime) -> None:
        remaining = headers.get("ratelimit-remaining")
        if status == 429 or remaining == "0":
            self.not_before = _reset_at(headers.get("ratelimit-reset"), now) or (
                now + timedelta(minutes=1)
            )


def _hidden(view: Mapping[str, Any]) -> bool:
    labels = [*(view.get("labels") or []), *((view.get("author") or {}).get("labels") or [])]
    return any(isinstance(x, dict) and x.get("val") in HIDING_LABELS for x in labels)


class MastodonChecker:
    """`GET /api/v1/statuses/:id` on the server in the post's uri: 404/410 is gone, and so is
    a status no longer public."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        timeout: float = 3.0,
        servers: Mapping[str, str] | None = None,
    ) -> None:
        self.session = session
        self.timeout = timeout
        # Where to reach a server named in a post's uri, when not at that address (a proxy).
        self.servers = dict(servers or {})
        self.not_before: dict[str, datetime] = {}  # per server

    async def check(self, post_ids: Sequence[str], now: datetime) -> dict[str, Verdict]:
        out = dict.fromkeys(post_ids, Verdict.UNKNOWN)
        for pid in post_ids:
            parts = urlsplit(_native(pid))
            status_id = parts.path.rstrip("/").rsplit("/", 1)[-1]
            if parts.scheme not in ("http", "https") or not parts.netloc or not status_id:
                continue
            host = f"{parts.scheme}://{parts.netloc}"
            wait = self.not_before.get(host)
            if wait is not None and now < wait:
                continue
            try:
                base = self.servers.get(host, host).rstrip("/")
                async with self.session.get(
                    f"{base}/api/v1/statuses/{status_id}",
                    timeout=aiohttp.ClientTimeout(total=self.timeout),
                ) as resp:
                    remaining = resp.headers.get("X-RateLimit-Remaining")
                    if resp.status == 429 or remaining == "0":
                        self.not_before[host] = _reset_at(
                            resp.headers.get("X-RateLimit-Reset"), now
                        ) or (now + timedelta(minutes=5))
                    if resp.status in (404, 410):
                        out[pid] = Verdict.GONE
                    elif resp.status == 200:
                        body: Any = await resp.json()
                        public = isinstance(body, dict) and body.get("visibility") in (
                            "public",
                            "unlisted",
                        )
                        out[pid] = Verdict.PRESENT if public else Verdict.GONE
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.warning("status look-up on %s failed (%s)", host, type(exc).__name__)
        return out


@dataclass
class RecheckStats:
    checked: int = 0
    purged: int = 0
    failures: int = 0  # look-ups that gave no answer (error, timeout, rate limit)


class Rechecker:
    """Re-checks the posts behind excerpts about to be shown or sent; purges the gone ones."""

    def __init__(
        self,
        engine: AsyncEngine,
        checkers: Mapping[str, Checker],
        *,
        after: timedelta,
        timeout: float,
        keys: PostKeys | None = None,
        encodings: EncodingEraser | None = None,
    ) -> None:
        self.engine = engine
        # The classifier's on-disk encoding cache, when on (set by the composition root): a gone
        # post's rows go with its text.
        self.encodings = encodings
        # The platform id is stored only sealed (monitor/privacy/postids.py); this opens it.
        self.keys = keys if keys is not None else PostKeys(engine)
        self.checkers = dict(checkers)
        self.after = after
        self.timeout = timeout
        self.stats = RecheckStats()
        self._checked: dict[str, datetime] = {}

    @classmethod
    def from_settings(
        cls, settings: Settings, engine: AsyncEngine, session: aiohttp.ClientSession
    ) -> Rechecker:
        timeout = float(settings.recheck_timeout_seconds)
        checkers: dict[str, Checker] = {
            "bluesky": BlueskyChecker(session, settings.recheck_bluesky_url, timeout),
            "mastodon": MastodonChecker(session, timeout),
        }
        return cls(
            engine,
            checkers,
            after=timedelta(hours=settings.recheck_after_hours),
            timeout=timeout,
            keys=PostKeys.from_settings(settings, engine),
        )

    @property
    def enabled(self) -> bool:
        return self.after > timedelta(0) and bool(self.checkers)

    async def verify_alerts(self, alert_ids: Sequence[int], now: datetime) -> int:
        """Re-check the old posts whose excerpts these alerts carry; returns how many were
        purged (then re-read what is to be shown)."""
        if not self.enabled or not alert_ids:
            return 0
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(posts.c.id, posts.c.platform, posts.c.origin)
                    .select_from(alert_posts.join(posts, posts.c.id == alert_posts.c.post_id))
                    .where(
                        alert_posts.c.alert_id.in_(list(alert_ids)),
                        alert_posts.c.excerpt.is_not(None),
                        posts.c.created_at <= now - self.after,
                    )
                )
            ).all()
        return await self._verify([(r[0], r[1], r[2]) for r in rows], now)

    async def verify_posts(self, post_ids: Sequence[str], now: datetime) -> int:
        """Re-check these stored posts (those old enough and still holding text), e.g. the
        member posts a rumour page quotes; returns how many were purged."""
        if not self.enabled or not post_ids:
            return 0
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(posts.c.id, posts.c.platform, posts.c.origin).where(
                        posts.c.id.in_(list(post_ids)),
                        posts.c.text.is_not(None),
                        posts.c.created_at <= now - self.after,
                    )
                )
            ).all()
        return await self._verify([(r[0], r[1], r[2]) for r in rows], now)

    async def _verify(self, rows: Sequence[tuple[str, str, str | None]], now: datetime) -> int:
        due: dict[str, list[str]] = {}
        native: dict[str, str] = {}  # stored id -> platform id, opened for this check only
        opener = await self.keys.get() if rows else None
        for pid, platform, origin in rows:
            last = self._checked.get(pid)
            if platform in self.checkers and (last is None or now - last >= self.after):
                if origin is None or opener is None:
                    continue  # nothing to look it up by
                try:
                    native[pid] = opener.open(origin)
                except SealError:
                    log.warning("re-check: a stored platform id cannot be opened with this key")
                    continue
                due.setdefault(platform, []).append(pid)
        if not due:
            return 0
        verdicts: dict[str, Verdict] = {}

        async def one(platform: str, ids: list[str]) -> None:
            back = {native[i]: i for i in ids}
            found = await self.checkers[platform].check(list(back), now)
            verdicts.update({back[k]: v for k, v in found.items() if k in back})

        tasks = [asyncio.ensure_future(one(p, sorted(set(ids)))) for p, ids in due.items()]
        _done, pending = await asyncio.wait(tasks, timeout=self.timeout)
        for task in pending:  # bounded: what did not answer in time stays shown
            task.cancel()
        asked = [pid for ids in due.values() for pid in ids]
        gone = sorted({pid for pid in asked if verdicts.get(pid) is Verdict.GONE})
        for pid in asked:
            verdict = verdicts.get(pid, Verdict.UNKNOWN)
            if verdict is Verdict.UNKNOWN:
                self.stats.failures += 1
            else:
                self.stats.checked += 1
                self._checked[pid] = now
        if gone:
            async with self.engine.begin() as conn:  # the tombstone first, as for a deletion
                await tombstones.record_posts(conn, gone, now)
            texts: list[str] = []
            async with self.engine.begin() as conn:
                if self.encodings is not None:
                    texts = await post_store.texts_of(conn, gone)
                await post_store.purge_text(conn, gone, now)
            await self._forget(texts)
            self.stats.purged += len(gone)
            log.info("re-check: %d posts gone from their platform, purged", len(gone))
        return len(gone)

    async def _forget(self, texts: Sequence[str]) -> None:
        # After the store's commit, as for a platform deletion (monitor/runtime/pipeline.py).
        if self.encodings is not None:
            await self.encodings.forget_after_purge(texts, "re-check")
