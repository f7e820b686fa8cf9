"""Local news and council feeds (RSS and Atom) by conditional GET.

`parse_feed` is pure: the response bytes in, posts out (feedparser reads the bytes; it is never
given a URL or a string it could treat as one). The collector sends If-None-Match /
If-Modified-Since, treats 304 as "no change", and stores the validators in the cursor with the
items they came with. Items are deduplicated by guid, else link.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from monitor.collectors.base import PostSink
from monitor.collectors.common import (
    DEFAULT_USER_AGENT,
    Backoff,
    CheckResult,
    Clock,
    HttpStatus,
    MalformedPayload,
    RecentSet,
    body_hint,
    classify_status,
)
from monitor.collectors.health import SourceHealth
from monitor.collectors.http_body import error_text, read_capped
from monitor.collectors.platform import Platform, Wiring
from monitor.collectors.polling import PollingCollector
from monitor.collectors.text import TextFilter, html_to_text
from monitor.types import RawPost

log = logging.getLogger(__name__)

PLATFORM = "rss"
MAX_FEED_BYTES = 10 * 1024 * 1024
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


@dataclass(frozen=True)
class RssConfig:
    name: str
    feeds: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    poll_interval_seconds: float = 900.0
    timeout_seconds: float = 30.0
    user_agent: str = DEFAULT_USER_AGENT
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str
    posts: list[RawPost]
    warning: str | None  # feedparser's complaint about an ill-formed feed it still read


def parse_feed(body: bytes, feed_url: str, now: datetime, source: str = "rss") -> ParsedFeed:
    """RSS or Atom bytes to posts. Raises `MalformedPayload` when the bytes are not a feed."""
    # Imported here: every start lists the platforms, and only a process with an RSS source
    # reads feeds (feedparser and its XML parsers are 40-50 ms of a start's CPU).
    import feedparser

    parsed: Any = feedparser.parse(
        body, response_headers={"content-location": feed_url, "content-type": "application/xml"}
    )
    warning = None
    if parsed.get("bozo"):
        warning = f"{type(parsed.get('bozo_exception')).__name__}: {parsed.get('bozo_exception')}"
    entries = parsed.get("entries") or []
    if not parsed.get("version") and not entries:
        raise MalformedPayload(f"not an RSS or Atom feed ({warning or 'no feed elements'})")
    outlet = urlsplit(feed_url).hostname or feed_url
    feed_info = parsed.get("feed", {})
    feed_lang = _short_lang(feed_info.get("language"))
    posts = []
    for entry in entries:
        post = _entry_post(entry, feed_url, outlet, now, source, feed_lang)
        if post is not None:
            posts.append(post)
    title = html_to_text(str(feed_info.get("title", "")))
    return ParsedFeed(title, posts, warning)


def _entry_post(
    entry: Any, feed_url: str, outlet: str, now: datetime, source: str, feed_lang: str | None
) -> RawPost | None:
    title = html_to_text(str(entry.get("title", "")))
    body_html = ""
    contents = entry.get("content")
    if isinstance(contents, list) and contents:
        body_html = str(contents[0].get("value", ""))
    if not body_html:
        body_html = str(entry.get("summary", ""))
    body = html_to_text(body_html)
    if body and (body == title or body.startswith(title + "\n")):
        title = ""
    text = "\n\n".join(part for part in (title, body) if part)
    if not text:
        return None
    link = entry.get("link")
    link = str(link) if link else None
    native_id = _native_id(entry.get("id"), link, feed_url, text)
    when = entry.get("published_parsed") or entry.get("updated_parsed")
    return RawPost(
        platform=PLATFORM,
        native_id=native_id,
        text=text,
        created_at=_item_time(when, now),
        author_id=outlet,  # the outlet is the author of a news item; no person is recorded
        source=source,
        url=link,
        language=_language(entry) or feed_lang,
    )


def _item_time(when: Any, now: datetime) -> datetime:
    """The item's date in UTC (feedparser gives it as a UTC struct_time); `now`, the time we
    saw it, when it has none or one no datetime holds.

    feedparser converts a date to UTC without checking the year, so "9999-12-31T23:59:59-23:59"
    arrives as year 10000: datetime() raised ValueError for it, which failed the whole feed at
    every poll while the item stayed in it. Read as undated, as Jetstream reads a createdAt it
    cannot parse, the item is kept and the rest of the feed with it.
    """
    if not when:
        return now
    try:
        return datetime(*tuple(when)[:6]).replace(tzinfo=UTC)
    except (ValueError, TypeError, OverflowError):
        return now


def _native_id(guid: Any, link: str | None, feed_url: str, text: str) -> str:
    # A guid that is a URL or URN is global; a bare one ("news-2026-001") is only unique
    # within its feed, so it is qualified with the feed's address.
    if guid:
        guid = str(guid).strip()
        if ":" in guid:
            return str(guid)
        return f"{feed_url}#{guid}"
    if link:
        return link
    return f"{feed_url}#sha1:{hashlib.sha1(text.encode()).hexdigest()}"


def _language(entry: Any) -> str | None:
    detail = entry.get("title_detail") or entry.get("summary_detail")
    return _short_lang(detail.get("language") if detail else None)


def _short_lang(lang: Any) -> str | None:
    return str(lang).split("-")[0].lower() if lang else None


class RssCollector(PollingCollector[RssConfig]):
    kind = "rss"

    def __init__(
        self,
        config: RssConfig,
        session: aiohttp.ClientSession,
        sink: PostSink,
        accept: TextFilter,
        health: SourceHealth | None = None,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(config, session, sink, accept, health, clock, backoff)
        self._seen: dict[str, RecentSet] = {url: RecentSet(2000) for url in config.feeds}

    def units(self) -> Sequence[str]:
        return self.config.feeds

    async def fetch(
        self, url: str, validators: dict[str, str]
    ) -> tuple[int, Mapping[str, str], bytes]:
        headers = {"User-Agent": self.config.user_agent, "Accept": _ACCEPT}
        if validators.get("etag"):
            headers["If-None-Match"] = validators["etag"]
        if validators.get("modified"):
            headers["If-Modified-Since"] = validators["modified"]
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_seconds)
        async with self._session.get(url, headers=headers, timeout=timeout) as resp:
            status = resp.status
            resp_headers = resp.headers.copy()  # case-insensitive
            if status == 304:
                return status, resp_headers, b""
            if status >= 400:
                text = await error_text(resp)
                classify_status(
                    HttpStatus(status, resp_headers, body_hint(text)), self._clock.now(), url
                )
            return status, resp_headers, await read_capped(resp, "feed", MAX_FEED_BYTES)

    async def poll_unit(self, unit: str) -> None:
        validators = self.unit_state(unit) or {}
        status, headers, body = await self.fetch(unit, validators)
        if status == 304:
            return
        now = self._clock.now()
        feed = parse_feed(body, unit, now, self.name)
        if feed.warning:
            log.info("rss %s: %s is ill-formed but readable: %s", self.name, unit, feed.warning)
        seen = self._seen.setdefault(unit, RecentSet(2000))
        fresh = [p for p in feed.posts if p.post_id not in seen]
        kept = [p for p in fresh if self._accept(p.text)]
        new_validators = {
            k: v
            for k, v in (("etag", headers.get("ETag")), ("modified", headers.get("Last-Modified")))
            if v
        }
        await self.commit(kept, unit, new_validators)
        for post in fresh:
            seen.add(post.post_id)
        if fresh:  # lag: how long after publication the newest new item reached us
            newest = max(p.created_at for p in fresh)
            self.health.observe_event(min(newest, now), now)

    async def check(self) -> CheckResult:
        problems, counts = [], []
        for url in self.config.feeds:
            try:
                status, _, body = await self.fetch(url, {})
                feed = parse_feed(body, url, self._clock.now(), self.name)
            except Exception as exc:
                problems.append(f"{url}: {exc}")
                continue
            kept = sum(self._accept(p.text) for p in feed.posts)
            counts.append(f"{feed.title or url}: {len(feed.posts)} items, {kept} kept")
        if problems:
            return CheckResult(False, "; ".join(problems + counts))
        return CheckResult(True, "; ".join(counts))


# --- the platform ----------------------------------------------------------------------------


def _is_http_url(url: str) -> bool:
    try:
        return urlsplit(url).scheme in ("http", "https")
    except ValueError:  # "http://[::1": urlsplit refuses a broken IPv6 host
        return False


def _problems(config: RssConfig) -> list[str]:
    out = [] if config.feeds else ["feeds: at least one feed URL is needed"]
    out.extend(
        f"feeds: {url!r} is not an http(s) URL" for url in config.feeds if not _is_http_url(url)
    )
    return out


def _build(config: RssConfig, wiring: Wiring) -> RssCollector:
    return RssCollector(
        config, wiring.session, wiring.sink, wiring.accept, health=wiring.health, clock=wiring.clock
    )


SOURCE_PLATFORM: Platform[RssConfig] = Platform(
    kind="rss",
    config=RssConfig,
    problems=_problems,
    reads=lambda config: f"{len(config.feeds)} feed(s)",
    build=_build,
)
