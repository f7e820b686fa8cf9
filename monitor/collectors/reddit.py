"""Reddit subreddits' new posts and comments, for councils with an approved Reddit app.

Since late 2025 Reddit's data API needs an approved OAuth app and unauthenticated `.json`
requests are refused, so this source says so at start-up when no credentials are configured.
It uses an app-only token (client credentials), the User-Agent form Reddit requires, honours the
X-Ratelimit headers and 429, and re-checks recent items through /api/info (100 at a time) to
purge deleted or removed ones. `parse_listing` is pure.
"""

from __future__ import annotations

import base64
import logging
import math
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from monitor.collectors.base import PostSink
from monitor.collectors.common import (
    CLOCK_SKEW_SECONDS,
    AuthFailure,
    Backoff,
    CheckResult,
    Clock,
    HttpStatus,
    MalformedPayload,
    SourceConfigError,
    body_hint,
    classify_status,
    parse_reset_time,
)
from monitor.collectors.health import SourceHealth
from monitor.collectors.http_body import error_text, read_json
from monitor.collectors.platform import Platform, Wiring
from monitor.collectors.polling import PollingCollector
from monitor.collectors.text import TextFilter
from monitor.types import RawPost

log = logging.getLogger(__name__)

PLATFORM = "reddit"
TOKEN_URL = "https://www.reddit.com/api/v1/access_token"
API_BASE = "https://oauth.reddit.com"
# <platform>:<app ID>:<version string> (by /u/<reddit username>), as Reddit's API rules require.
USER_AGENT_FORM = re.compile(
    r"^[A-Za-z0-9_.\-]+:[A-Za-z0-9_.\-]+:v?[A-Za-z0-9_.\-]+ \(by /u/[A-Za-z0-9_\-]{3,20}\)$"
)
_GONE = frozenset({"[deleted]", "[removed]"})
_SUBREDDIT = re.compile(r"^[A-Za-z0-9_]{2,21}$")


@dataclass(frozen=True)
class RedditConfig:
    name: str
    subreddits: tuple[str, ...]
    client_id_env: str
    client_secret_env: str
    user_agent: str
    comments: bool = True
    keywords: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    poll_interval_seconds: float = 120.0
    max_pages: int = 5
    recheck_interval_seconds: float = 3600.0
    recheck_window_seconds: float = 48 * 3600.0
    timeout_seconds: float = 30.0
    token_url: str = TOKEN_URL
    api_base: str = API_BASE
    enabled: bool = True


# --- parsing (pure) ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RedditItem:
    fullname: str
    created_utc: float
    post: RawPost | None  # None when the item was deleted or removed
    edited: float | None
    nsfw: bool


def parse_thing(thing: Any, source: str = PLATFORM) -> RedditItem:
    """One listing child (t3 link or t1 comment) to an item. Raises MalformedPayload."""
    if not isinstance(thing, dict) or not isinstance(thing.get("data"), dict):
        raise MalformedPayload("listing child without data")
    kind, d = thing.get("kind"), thing["data"]
    name, created = d.get("name"), d.get("created_utc")
    if kind not in ("t3", "t1") or not isinstance(name, str) or not name.startswith(kind + "_"):
        raise MalformedPayload(f"not a post or comment: kind={kind!r}")
    created_at = _time(created)
    if created_at is None:
        raise MalformedPayload("created_utc is not a time")
    edited = d.get("edited")
    # `edited` is false, or the time of the last edit.
    edited_at = float(edited) if _time(edited) is not None else None
    author = d.get("author")
    removed = bool(d.get("removed_by_category")) or author == "[deleted]"
    if kind == "t3":
        title, body = d.get("title"), d.get("selftext") or ""
        if not isinstance(title, str) or not isinstance(body, str):
            raise MalformedPayload("post title or selftext is not text")
        removed = removed or body in _GONE
        text = f"{title}\n\n{body}" if body else title
        reply_to = None
    else:
        body = d.get("body")
        if not isinstance(body, str):
            raise MalformedPayload("comment body is not text")
        removed = removed or body in _GONE
        text = body
        parent = d.get("parent_id")
        reply_to = f"{PLATFORM}:{parent}" if isinstance(parent, str) else None
    nsfw = d.get("over_18") is True
    if removed:
        return RedditItem(name, float(created), None, edited_at, nsfw)
    permalink = d.get("permalink")
    author_id = d.get("author_fullname") or author
    post = RawPost(
        platform=PLATFORM,
        native_id=name,
        text=text,
        created_at=created_at,
        author_id=str(author_id) if author_id else None,
        source=source,
        url=f"https://www.reddit.com{permalink}" if isinstance(permalink, str) else None,
        reply_to=reply_to,
        like_count=_count(d.get("score")),
        reply_count=_count(d.get("num_comments")),
    )
    return RedditItem(name, float(created), post, edited_at, nsfw)


# The checks below keep `parse_thing`'s promise to raise only MalformedPayload: a NaN, an
# infinity or a number past the calendar (1e300) in one item raised ValueError or
# OverflowError instead, which failed its whole listing page, and so the subreddit, at every
# poll while the item stayed on the page.


def _time(value: Any) -> datetime | None:
    """The UTC time of epoch seconds `value`; None when it is not a number of a real time."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None  # (a bool is an int in Python)
    try:
        return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):  # NaN, infinities, beyond year 1..9999
        return None


def _count(value: Any) -> int:
    """A public count; one that is not a finite number is none (counts are only hints)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0
    return max(0, int(value))


def parse_listing(
    payload: Any, source: str = PLATFORM
) -> tuple[list[RedditItem], str | None, list[str]]:
    """A Listing: its items (newest first, as served), the `after` cursor, and problems."""
    if not isinstance(payload, dict) or payload.get("kind") != "Listing":
        raise MalformedPayload("not a Reddit Listing")
    data = payload.get("data")
    children = data.get("children") if isinstance(data, dict) else None
    if not isinstance(children, list):
        raise MalformedPayload("Listing without children")
    items, problems = [], []
    for child in children:
        try:
            items.append(parse_thing(child, source))
        except MalformedPayload as exc:
            problems.append(str(exc))
    after = data.get("after") if isinstance(data, dict) else None
    return items, after if isinstance(after, str) else None, problems


# --- the collector -------------------------------------------------------------------------------


@dataclass
class _Seen:
    edited: float | None
    seen_at: datetime


class RedditCollector(PollingCollector[RedditConfig]):
    kind = "reddit"

    def __init__(
        self,
        config: RedditConfig,
        session: aiohttp.ClientSession,
        sink: PostSink,
        accept: TextFilter,
        credentials: tuple[str, str] | None,
        health: SourceHealth | None = None,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(config, session, sink, accept, health, clock, backoff)
        self._credentials = credentials
        self._token: str | None = None
        self._token_expires: datetime | None = None
        self._recent: OrderedDict[str, _Seen] = OrderedDict()
        self._last_recheck: datetime | None = None

    def units(self) -> Sequence[str]:
        kinds = ("new", "comments") if self.config.comments else ("new",)
        return [f"{sub}/{k}" for sub in self.config.subreddits for k in kinds]

    async def start(self) -> None:
        self.require_credentials()
        if not USER_AGENT_FORM.match(self.config.user_agent):
            raise SourceConfigError(
                f"user_agent {self.config.user_agent!r} is not in Reddit's required form "
                "'<platform>:<app ID>:<version> (by /u/<username>)'"
            )
        await super().start()
        await self.token()  # fail now, clearly, rather than on the first poll

    def require_credentials(self) -> None:
        if self._credentials is None or not all(self._credentials):
            raise SourceConfigError(
                f"no Reddit credentials: set ${self.config.client_id_env} and "
                f"${self.config.client_secret_env} to your approved Reddit app's client id and "
                "secret (Reddit closed self-service API access in late 2025 and refuses "
                "unauthenticated requests)"
            )

    # -- HTTP --

    async def token(self) -> str:
        now = self._clock.now()
        if self._token and self._token_expires and now < self._token_expires:
            return self._token
        self.require_credentials()
        assert self._credentials is not None
        client_id, secret = self._credentials
        basic = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode("ascii")
        async with self._session.post(
            self.config.token_url,
            data={"grant_type": "client_credentials"},
            headers={"User-Agent": self.config.user_agent, "Authorization": basic},
            timeout=aiohttp.ClientTimeout(total=self.config.timeout_seconds),
        ) as resp:
            if resp.status in (401, 403):
                raise AuthFailure(
                    resp.status, f"Reddit refused the app's client id/secret (HTTP {resp.status})"
                )
            if resp.status >= 400:
                text = await error_text(resp)
                classify_status(
                    HttpStatus(resp.status, resp.headers, body_hint(text)), now, "token"
                )
            body = await read_json(resp, "token")
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str):
            error = body.get("error") if isinstance(body, dict) else None
            raise AuthFailure(401, f"Reddit gave no access token ({error or 'no reason'})")
        expires = body.get("expires_in")
        lifetime = float(expires) if isinstance(expires, int | float) else 3600.0
        self._token = token
        self._token_expires = now + timedelta(seconds=max(60.0, lifetime - 60.0))
        return token

    async def get_json(self, path: str, params: Sequence[tuple[str, str]] = ()) -> Any:
        for attempt in (1, 2):
            token = await self.token()
            async with self._session.get(
                self.config.api_base + path,
                params=[*params, ("raw_json", "1")],
                headers={"User-Agent": self.config.user_agent, "Authorization": f"bearer {token}"},
                timeout=aiohttp.ClientTimeout(total=self.config.timeout_seconds),
            ) as resp:
                if resp.status == 401 and attempt == 1:
                    self._token = None  # expired or revoked early: get a new one, once
                    continue
                if resp.status >= 400:
                    text = await error_text(resp)
                    hint = body_hint(text)
                    if resp.status == 403 and "blocked" in text.lower():
                        hint = "Reddit's network-security block page (credentials not accepted)"
                    classify_status(
                        HttpStatus(resp.status, resp.headers, hint), self._clock.now(), path
                    )
                payload = await read_json(resp, path)
                remaining = resp.headers.get("X-Ratelimit-Remaining")
                reset = resp.headers.get("X-Ratelimit-Reset")
            await self._pace(remaining, reset)
            return payload
        raise AuthFailure(401, f"{path}: HTTP 401 with a fresh token")

    async def _pace(self, remaining: str | None, reset: str | None) -> None:
        try:
            left = float(remaining) if remaining is not None else None
        except ValueError:
            left = None
        if left is None or left >= 1:
            return
        wait = parse_reset_time(reset, self._clock.now())  # seconds to the window's end
        if wait:
            self.health.rate_limited()
            log.info("reddit %s: rate-limit budget spent; waiting %.0fs", self.name, wait)
            await self._clock.sleep(wait)

    # -- polling --

    async def poll_unit(self, unit: str) -> None:
        sub, listing = unit.rsplit("/", 1)
        since = self.unit_state(unit)
        since = float(since) if isinstance(since, int | float) else None
        horizon = self._clock.now().timestamp() + CLOCK_SKEW_SECONDS
        if since is not None and since > horizon:
            # Written before the cursor ignored future items: read as if for the first time.
            log.warning("reddit %s: %s: dropped a cursor in the future", self.name, unit)
            since = None
        fresh: list[RedditItem] = []
        after: str | None = None
        for _ in range(self.config.max_pages):
            params = [("limit", "100")] + ([("after", after)] if after else [])
            payload = await self.get_json(f"/r/{sub}/{listing}", params)
            items, after, problems = parse_listing(payload, self.name)
            for reason in problems:
                self.health.malformed()
                log.warning("reddit %s: %s: skipped a malformed item: %s", self.name, unit, reason)
            # Ties at the cursor's second are offered again; the store drops the repeats.
            fresh.extend(i for i in items if since is None or i.created_utc >= since)
            older_reached = any(since is not None and i.created_utc < since for i in items)
            if since is None or older_reached or not after or not items:
                break
        gone = [f"{PLATFORM}:{i.fullname}" for i in fresh if i.post is None]
        if gone:
            self.health.deleted(await self._sink.delete_posts(gone))
        kept = [i for i in fresh if i.post is not None and not i.nsfw and self._accept(i.post.text)]
        # An item dated past the horizon is broken (ingest refuses it beyond a day) and is not
        # the cursor: every real post until its date would be older, and never read again.
        newest = max((i.created_utc for i in fresh if i.created_utc <= horizon), default=since)
        if newest is None:
            return
        await self.commit([i.post for i in kept if i.post is not None], unit, newest)
        now = self._clock.now()
        for item in kept:
            self._recent[item.fullname] = _Seen(item.edited, now)
        if fresh:
            self.health.observe_event(datetime.fromtimestamp(newest, UTC), now)

    # -- deletions and edits --

    async def recheck_due(self) -> None:
        now = self._clock.now()
        if self._last_recheck is not None and (now - self._last_recheck) < timedelta(
            seconds=self.config.recheck_interval_seconds
        ):
            return
        self._last_recheck = now
        window = timedelta(seconds=self.config.recheck_window_seconds)
        for name in [n for n, s in self._recent.items() if now - s.seen_at > window]:
            del self._recent[name]
        names = list(self._recent)
        for start in range(0, len(names), 100):
            chunk = names[start : start + 100]
            payload = await self.get_json("/api/info", [("id", ",".join(chunk))])
            items, _, _ = parse_listing(payload, self.name)
            for item in items:
                seen = self._recent.get(item.fullname)
                if seen is None:
                    continue
                if item.post is None:
                    self.health.deleted(
                        await self._sink.delete_posts([f"{PLATFORM}:{item.fullname}"])
                    )
                    del self._recent[item.fullname]
                elif item.edited != seen.edited:
                    await self._sink.update_post(item.post)
                    seen.edited = item.edited

    # -- one-off check --

    async def check(self) -> CheckResult:
        try:
            self.require_credentials()
            await self.token()
        except Exception as exc:
            return CheckResult(False, str(exc), needs_token=isinstance(exc, SourceConfigError))
        lines, ok = [], True
        for sub in self.config.subreddits:
            try:
                items, _, _ = parse_listing(
                    await self.get_json(f"/r/{sub}/new", [("limit", "5")]), self.name
                )
            except Exception as exc:
                ok = False
                lines.append(f"r/{sub}: {exc}")
                continue
            lines.append(f"r/{sub}: readable, {len(items)} recent posts")
        return CheckResult(ok, "; ".join(lines))


def valid_subreddit(name: str) -> bool:
    return bool(_SUBREDDIT.match(name))


# --- the platform ----------------------------------------------------------------------------


def _problems(config: RedditConfig) -> list[str]:
    out = [] if config.subreddits else ["subreddits: at least one subreddit is needed"]
    out.extend(
        f"subreddits: {sub!r} is not a subreddit name"
        for sub in config.subreddits
        if not valid_subreddit(sub)
    )
    if not USER_AGENT_FORM.match(config.user_agent):
        out.append("user_agent: Reddit requires '<platform>:<app ID>:<version> (by /u/<username>)'")
    return out


def _prepare(values: dict[str, Any]) -> dict[str, Any]:
    if "subreddits" in values:
        values["subreddits"] = tuple(s.removeprefix("r/") for s in values["subreddits"])
    return values


def _build(config: RedditConfig, wiring: Wiring) -> RedditCollector:
    client_id = wiring.secret(config.client_id_env)
    client_secret = wiring.secret(config.client_secret_env)
    credentials = (client_id, client_secret) if client_id and client_secret else None
    return RedditCollector(
        config,
        wiring.session,
        wiring.sink,
        wiring.accept,
        credentials,
        health=wiring.health,
        clock=wiring.clock,
    )


SOURCE_PLATFORM: Platform[RedditConfig] = Platform(
    kind="reddit",
    config=RedditConfig,
    problems=_problems,
    reads=lambda config: ", ".join(f"r/{s}" for s in config.subreddits),
    build=_build,
    prepare=_prepare,
)
