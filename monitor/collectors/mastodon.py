"""Mastodon public and hashtag timelines over REST, on the servers a council configures.

`parse_status` and `timeline_access` are pure. The collector checks at start-up which
timelines each server opens to anonymous readers (Mastodon 4.5's `timelines_access`, else by
trying) and says plainly which need a token; reads forward with `min_id`; honours the
X-RateLimit headers and 429; deduplicates on the status `uri` across servers (a post federated
to three servers is one post); and re-checks recent posts from time to time, purging those that
were deleted and replacing edited text, because polling gets no deletion events.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import aiohttp

from monitor.collectors.base import PostSink
from monitor.collectors.common import (
    DEFAULT_USER_AGENT,
    AuthFailure,
    Backoff,
    CheckResult,
    Clock,
    HttpStatus,
    MalformedPayload,
    RecentSet,
    SourceConfigError,
    body_hint,
    classify_status,
    describe_error,
    parse_reset_time,
)
from monitor.collectors.health import SourceHealth
from monitor.collectors.http_body import error_text, read_json
from monitor.collectors.platform import Platform, Wiring
from monitor.collectors.polling import PollingCollector
from monitor.collectors.text import TextFilter, html_to_text
from monitor.types import RawPost

log = logging.getLogger(__name__)

PLATFORM = "mastodon"
PUBLIC_SCOPES = ("off", "local", "remote", "all")


@dataclass(frozen=True)
class MastodonConfig:
    name: str
    servers: tuple[str, ...]
    hashtags: tuple[str, ...] = ()
    public: str = "off"  # which public timeline to read, filtered: off | local | remote | all
    keywords: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    token_env: str = ""
    poll_interval_seconds: float = 60.0
    page_limit: int = 40
    max_pages: int = 10
    recheck_interval_seconds: float = 1800.0
    recheck_window_seconds: float = 48 * 3600.0
    recheck_batch: int = 60
    skip_noindex: bool = True
    timeout_seconds: float = 30.0
    user_agent: str = DEFAULT_USER_AGENT
    enabled: bool = True


def server_url(server: str) -> str:
    """`mastodon.example` means https://mastodon.example; a full URL is used as given."""
    return server.rstrip("/") if "://" in server else f"https://{server.strip('/')}"


# --- parsing (pure) ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedStatus:
    post: RawPost
    local_id: str  # this server's id of the (original) status, for re-checking
    edited_at: str | None
    tags: tuple[str, ...]
    noindex: bool

    @property
    def filter_text(self) -> str:
        return " ".join([self.post.text, *("#" + t for t in self.tags)])


def parse_status(status: Any, source: str = PLATFORM) -> ParsedStatus:
    """A Status entity to a post; a boost gives the boosted status. Raises MalformedPayload."""
    if not isinstance(status, dict):
        raise MalformedPayload("status is not an object")
    reblog = status.get("reblog")
    if isinstance(reblog, dict):
        status = reblog
    try:
        local_id = status["id"]
        uri = status["uri"]
        created = status["created_at"]
        content = status["content"]
        account = status["account"]
    except KeyError as exc:
        raise MalformedPayload(f"status without {exc.args[0]}") from None
    if not isinstance(local_id, str) or not isinstance(uri, str) or not uri:
        raise MalformedPayload("status id or uri is not a string")
    if not isinstance(content, str) or not isinstance(account, dict):
        raise MalformedPayload("status content or account has the wrong type")
    try:
        created_at = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    except ValueError:
        raise MalformedPayload("created_at is not a date") from None
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    text = html_to_text(content)
    spoiler = status.get("spoiler_text")
    if isinstance(spoiler, str) and spoiler.strip():
        text = f"{spoiler.strip()}\n\n{text}"  # the content warning is part of what was said
    raw_tags = status.get("tags")
    tags = tuple(
        t["name"]
        for t in (raw_tags if isinstance(raw_tags, list) else [])
        if isinstance(t, dict) and isinstance(t.get("name"), str)
    )
    quote_of = None
    quote_ = status.get("quote")
    if isinstance(quote_, dict):
        quoted = quote_.get("quoted_status")
        if isinstance(quoted, dict) and isinstance(quoted.get("uri"), str):
            quote_of = f"{PLATFORM}:{quoted['uri']}"
    author = account.get("uri") or account.get("url") or account.get("acct")
    language = status.get("language")
    post = RawPost(
        platform=PLATFORM,
        native_id=uri,
        text=text,
        created_at=created_at,
        author_id=str(author) if author else None,
        source=source,
        url=status.get("url") if isinstance(status.get("url"), str) else uri,
        language=language if isinstance(language, str) else None,
        quote_of=quote_of,
        like_count=_count(status.get("favourites_count")),
        repost_count=_count(status.get("reblogs_count")),
        reply_count=_count(status.get("replies_count")),
    )
    edited = status.get("edited_at")
    return ParsedStatus(
        post,
        local_id,
        edited if isinstance(edited, str) else None,
        tags,
        account.get("noindex") is True,
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def parse_timeline(payload: Any, source: str) -> tuple[list[ParsedStatus], list[str]]:
    """A timeline page: the statuses that parse, and the reasons the others did not."""
    if not isinstance(payload, list):
        raise MalformedPayload("timeline is not a JSON array")
    good, bad = [], []
    for item in payload:
        try:
            good.append(parse_status(item, source))
        except MalformedPayload as exc:
            bad.append(str(exc))
    return good, bad


def newest_id(ids: Sequence[str]) -> str | None:
    """The newest of a server's status ids: numerically when they are numbers (Mastodon's
    snowflakes), else as strings (other servers' sortable ids)."""
    if not ids:
        return None
    if all(i.isdigit() for i in ids):
        return max(ids, key=int)
    return max(ids)


def min_id_from_links(links: Mapping[str, Any]) -> str | None:
    """The `min_id` of the Link header's rel="prev" (the way forward to newer posts)."""
    prev = links.get("prev")
    if not prev:
        return None
    url = prev.get("url")
    query = parse_qs(urlsplit(str(url)).query)
    values = query.get("min_id") or query.get("since_id")
    return values[0] if values else None


def timeline_access(instance: Any) -> dict[str, str] | None:
    """Mastodon ≥4.5's `configuration.timelines_access`, flattened: {"hashtag:local":
    "public"|"authenticated"|"disabled", ...}; None when the server does not say."""
    if not isinstance(instance, dict):
        return None
    conf = instance.get("configuration")
    access = conf.get("timelines_access") if isinstance(conf, dict) else None
    if not isinstance(access, dict):
        return None
    out = {}
    for feed, prefix in (("live_feeds", "live"), ("hashtag_feeds", "hashtag")):
        scopes = access.get(feed)
        if isinstance(scopes, dict):
            for scope in ("local", "remote"):
                value = scopes.get(scope)
                if isinstance(value, str):
                    out[f"{prefix}:{scope}"] = value
    return out or None


# --- access planning ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelinePlan:
    """How to read one timeline on one server, or why it cannot be read."""

    unit: str
    path: str
    params: tuple[tuple[str, str], ...]
    usable: bool
    note: str | None = None
    needs_token: bool = False


def plan_timeline(
    server: str, timeline: str, access: Mapping[str, str] | None, has_token: bool
) -> TimelinePlan:
    """Decide from the server's stated access whether and how a timeline can be read."""
    unit = f"{server}|{timeline}"
    kind, _, arg = timeline.partition(":")
    if kind == "tag":
        path = f"/api/v1/timelines/tag/{quote(arg, safe='')}"
        feed = "hashtag"
        scopes: tuple[str, ...] = ("local", "remote")
    else:
        path = "/api/v1/timelines/public"
        feed = "live"
        scopes = ("local", "remote") if arg == "all" else (arg,)
    params: tuple[tuple[str, str], ...] = ()
    if len(scopes) == 1:
        params = ((scopes[0], "true"),)
    if access is None:  # an older server: try it and see (start-up probes the request)
        return TimelinePlan(unit, path, params, True)
    usable, token_only = [], []
    for scope in scopes:
        state = access.get(f"{feed}:{scope}", "public")
        if state == "public" or (state == "authenticated" and has_token):
            usable.append(scope)
        elif state == "authenticated":
            token_only.append(scope)
    label = f"the #{arg} timeline" if kind == "tag" else f"the public timeline ({arg})"
    if not usable:
        if token_only:
            refusal = (
                f"{server}: {label} needs an access token (this server opens its {feed} "
                "feeds to signed-in users only): set token_env"
            )
            return TimelinePlan(unit, path, (), False, refusal, needs_token=True)
        return TimelinePlan(unit, path, (), False, f"{server}: {label} is disabled there")
    note: str | None = None
    if len(usable) < len(scopes):
        params = ((usable[0], "true"),)
        missing = next(s for s in scopes if s not in usable)
        reason = "need an access token" if token_only else "are disabled"
        note = f"{server}: {label}: reading {usable[0]} posts only; {missing} posts {reason}"
    return TimelinePlan(unit, path, params, True, note, needs_token=bool(token_only))


# --- the collector -------------------------------------------------------------------------------


@dataclass
class _Seen:
    server: str
    local_id: str
    edited_at: str | None
    seen_at: datetime


class MastodonCollector(PollingCollector[MastodonConfig]):
    kind = "mastodon"

    def __init__(
        self,
        config: MastodonConfig,
        session: aiohttp.ClientSession,
        sink: PostSink,
        accept: TextFilter,
        token: str | None = None,
        health: SourceHealth | None = None,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(config, session, sink, accept, health, clock, backoff)
        self._token = token
        self._plans: dict[str, TimelinePlan] = {}
        self._seen_uris = RecentSet(50_000)
        self._recent: OrderedDict[str, _Seen] = OrderedDict()
        self._last_recheck: datetime | None = None

    def timelines(self) -> list[str]:
        out = [f"tag:{t.lstrip('#')}" for t in self.config.hashtags]
        if self.config.public != "off":
            out.append(f"public:{self.config.public}")
        return out

    def units(self) -> Sequence[str]:
        return [u for u, plan in self._plans.items() if plan.usable]

    # -- HTTP --

    def _headers(self) -> dict[str, str]:
        headers = {"User-Agent": self.config.user_agent, "Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    async def get_json(
        self, server: str, path: str, params: Sequence[tuple[str, str]] = ()
    ) -> tuple[Any, Mapping[str, Any]]:
        """GET a JSON document; raise the right error kind; wait out an exhausted budget."""
        url = server_url(server) + path
        timeout = aiohttp.ClientTimeout(total=self.config.timeout_seconds)
        async with self._session.get(
            url, params=list(params), headers=self._headers(), timeout=timeout
        ) as resp:
            if resp.status >= 400:
                text = await error_text(resp)
                classify_status(
                    HttpStatus(resp.status, resp.headers, body_hint(text)),
                    self._clock.now(),
                    f"{server}{path}",
                )
            payload = await read_json(resp, f"{server}{path}")
            links = {str(k): v for k, v in resp.links.items()}
            remaining = resp.headers.get("X-RateLimit-Remaining")
            reset = resp.headers.get("X-RateLimit-Reset")
        await self._pace(remaining, reset)
        return payload, links

    async def _pace(self, remaining: str | None, reset: str | None) -> None:
        # The headers describe the limit we are closest to; at zero the next request would be
        # refused, so wait for the reset instead of earning a 429.
        try:
            left = float(remaining) if remaining is not None else None
        except ValueError:
            left = None
        if left is None or left >= 1:
            return
        wait = parse_reset_time(reset, self._clock.now())
        if wait:
            self.health.rate_limited()
            log.info("mastodon %s: rate-limit budget spent; waiting %.0fs", self.name, wait)
            await self._clock.sleep(wait)

    # -- start-up: which timelines can we read? --

    async def start(self) -> None:
        await super().start()
        self._plans = await self.plan_access()
        for plan in self._plans.values():
            if plan.note:
                self.health.note(plan.note)
        if not self.units():
            reasons = "; ".join(p.note or p.unit for p in self._plans.values())
            raise SourceConfigError(f"no timeline can be read: {reasons}")

    async def plan_access(self) -> dict[str, TimelinePlan]:
        plans: dict[str, TimelinePlan] = {}
        has_token = bool(self._token)
        for server in self.config.servers:
            try:
                instance, _ = await self.get_json(server, "/api/v2/instance")
                access = timeline_access(instance)
            except AuthFailure:
                # DISALLOW_UNAUTHENTICATED_API_ACCESS: nothing is open without a token.
                access = {k: "authenticated" for k in _ALL_FEEDS}
            except (SourceConfigError, MalformedPayload):
                access = None  # not Mastodon ≥4, or no instance API: find out by trying
            for timeline in self.timelines():
                plan = plan_timeline(server, timeline, access, has_token)
                if access is None and plan.usable:
                    plan = await self._probe(plan, server)
                plans[plan.unit] = plan
        return plans

    async def _probe(self, plan: TimelinePlan, server: str) -> TimelinePlan:
        try:
            await self.get_json(server, plan.path, [*plan.params, ("limit", "1")])
        except AuthFailure as exc:
            if self._token:
                note = f"{server}: {plan.unit.split('|')[1]} refused our access token ({exc})"
            else:
                note = _needs_token(server, plan.unit)
            return TimelinePlan(plan.unit, plan.path, (), False, note, needs_token=True)
        except SourceConfigError as exc:
            if exc.status == 422:  # older servers' "This method requires an authenticated user"
                note = _needs_token(server, plan.unit)
                return TimelinePlan(plan.unit, plan.path, (), False, note, needs_token=True)
            if exc.status == 404:  # a tag never used here yet; it may appear later
                return plan
            return TimelinePlan(plan.unit, plan.path, (), False, f"{server}: {exc}")
        return plan

    # -- polling --

    async def poll_unit(self, unit: str) -> None:
        plan = self._plans[unit]
        server, timeline = unit.split("|", 1)
        filtered = timeline.startswith("public:")  # a hashtag timeline is already on topic
        cursor = self.unit_state(unit)
        for _ in range(self.config.max_pages):
            params = [*plan.params, ("limit", str(self.config.page_limit))]
            if cursor:
                params.append(("min_id", str(cursor)))
            try:
                payload, links = await self.get_json(server, plan.path, params)
            except SourceConfigError as exc:
                if exc.status == 404 and timeline.startswith("tag:"):
                    return  # a tag nobody on this server has used yet: nothing to read
                raise
            statuses, problems = parse_timeline(payload, self.name)
            for reason in problems:
                self.health.malformed()
                log.warning(
                    "mastodon %s: %s: skipped a malformed status: %s", self.name, unit, reason
                )
            if not payload:
                return
            ids = [s["id"] for s in payload if isinstance(s, dict) and isinstance(s.get("id"), str)]
            new_cursor = min_id_from_links(links) or newest_id(ids) or cursor
            kept = []
            for st in statuses:
                uri_id = st.post.post_id
                if uri_id in self._seen_uris:
                    continue
                if self.config.skip_noindex and st.noindex:
                    continue  # the author opted out of indexing
                if filtered and not self._accept(st.filter_text):
                    continue
                kept.append(st)
            await self.commit([s.post for s in kept], unit, new_cursor)
            now = self._clock.now()
            for st in kept:
                self._seen_uris.add(st.post.post_id)
                self._recent[st.post.post_id] = _Seen(server, st.local_id, st.edited_at, now)
            if statuses:
                newest = max(s.post.created_at for s in statuses)
                self.health.observe_event(min(newest, now), now)
            if cursor is None or len(payload) < self.config.page_limit:
                return  # first read takes the newest page only; a short page is the live edge
            cursor = new_cursor

    # -- deletions and edits: polling gets no events, so look again --

    async def recheck_due(self) -> None:
        now = self._clock.now()
        if self._last_recheck is not None and (now - self._last_recheck) < timedelta(
            seconds=self.config.recheck_interval_seconds
        ):
            return
        self._last_recheck = now
        await self.recheck(now)

    async def recheck(self, now: datetime) -> None:
        """Look up to `recheck_batch` recent posts up again; purge deleted, replace edited."""
        window = timedelta(seconds=self.config.recheck_window_seconds)
        for pid in [p for p, s in self._recent.items() if now - s.seen_at > window]:
            del self._recent[pid]
        batch = list(self._recent.items())[: self.config.recheck_batch]
        for pid, seen in batch:
            self._recent.move_to_end(pid)  # round-robin across rounds
            try:
                payload, _ = await self.get_json(seen.server, f"/api/v1/statuses/{seen.local_id}")
            except SourceConfigError as exc:
                if exc.status in (404, 410):
                    n = await self._sink.delete_posts([pid])
                    self.health.deleted(n)
                    del self._recent[pid]
                    continue
                raise
            try:
                current = parse_status(payload, self.name)
            except MalformedPayload:
                self.health.malformed()
                continue
            if current.edited_at != seen.edited_at:
                await self._sink.update_post(current.post)
                seen.edited_at = current.edited_at

    # -- one-off check --

    async def check(self) -> CheckResult:
        try:
            plans = await self.plan_access()
        except Exception as exc:
            return CheckResult(False, describe_error(exc))
        lines, ok, needs_token = [], True, False
        for plan in plans.values():
            needs_token = needs_token or plan.needs_token
            if not plan.usable:
                ok = False
                lines.append(plan.note or f"{plan.unit}: not readable")
                continue
            server = plan.unit.split("|", 1)[0]
            try:
                payload, _ = await self.get_json(server, plan.path, [*plan.params, ("limit", "5")])
                statuses, bad = parse_timeline(payload, self.name)
            except Exception as exc:
                ok = False
                lines.append(f"{plan.unit}: {exc}")
                continue
            extra = f" ({plan.note})" if plan.note else ""
            lines.append(f"{plan.unit}: readable, {len(statuses)} recent statuses{extra}")
            if bad:
                lines.append(f"{plan.unit}: {len(bad)} malformed")
        return CheckResult(ok, "; ".join(lines), needs_token=needs_token)


def _needs_token(server: str, unit: str) -> str:
    return f"{server}: {unit.split('|', 1)[1]} needs an access token on this server: set token_env"


_ALL_FEEDS = ("live:local", "live:remote", "hashtag:local", "hashtag:remote")


# --- the platform ----------------------------------------------------------------------------


def _problems(config: MastodonConfig) -> list[str]:
    out = []
    if not config.servers:
        out.append("servers: at least one server is needed")
    if config.public not in PUBLIC_SCOPES:
        out.append(f"public: must be one of {', '.join(PUBLIC_SCOPES)}")
    if not config.hashtags and config.public == "off":
        out.append("hashtags or public: nothing to read")
    if config.public != "off" and not (config.keywords or config.places):
        out.append("keywords or places: a public timeline carries everything; filter it")
    if config.page_limit > 40:
        out.append("page_limit: Mastodon serves at most 40 statuses a page")
    return out


def _reads(config: MastodonConfig) -> str:
    parts = [f"#{t}" for t in config.hashtags]
    if config.public != "off":
        parts.append(f"public:{config.public}")
    return f"{', '.join(parts)} on {len(config.servers)} server(s)"


def _build(config: MastodonConfig, wiring: Wiring) -> MastodonCollector:
    token = wiring.secret(config.token_env)
    if config.token_env and token is None:
        wiring.health.note(
            f"token_env names ${config.token_env}, which is not set: reading anonymously"
        )
    return MastodonCollector(
        config,
        wiring.session,
        wiring.sink,
        wiring.accept,
        token=token,
        health=wiring.health,
        clock=wiring.clock,
    )


SOURCE_PLATFORM: Platform[MastodonConfig] = Platform(
    kind="mastodon", config=MastodonConfig, problems=_problems, reads=_reads, build=_build
)
