"""Reddit: recorded listings parse; no credentials is a clear start-up error; app-only OAuth
with the required User-Agent; new items stored once; deletions purged; blocks and 429s seen."""

from __future__ import annotations

import base64
import copy
import json
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from monitor.collectors.common import Backoff, MalformedPayload
from monitor.collectors.health import CollectorMetrics, SourceHealth
from monitor.collectors.reddit import (
    USER_AGENT_FORM,
    RedditCollector,
    RedditConfig,
    parse_listing,
)
from monitor.collectors.text import KeywordFilter
from tests.collectors.conftest import FakeClock, MemorySink, load_json, load_text

UA = "python:uk.gov.example.tension-monitor:v0.1.0 (by /u/ExampleCouncilData)"
NEW = load_json("reddit", "listing_new.json")
COMMENTS = load_json("reddit", "listing_comments.json")


def test_listing_parses_posts_and_marks_deleted_ones() -> None:
    items, after, problems = parse_listing(NEW)
    assert after == "t3_1mzzz02" and problems == []
    road, police, deleted = items
    assert police.post is not None
    assert police.post.post_id == "reddit:t3_1mzzz01"
    assert police.post.text == (
        "Anyone know why there are police at the mosque?\n\nSaw several vans this morning..."
    )
    assert police.post.author_id == "t2_abc123"  # the account id, never the username
    assert police.post.created_at == datetime.fromtimestamp(1787220930, UTC)
    assert police.post.url == (
        "https://www.reddit.com/r/exampletown/comments/1mzzz01/"
        "anyone_know_why_there_are_police_at_the_mosque/"
    )
    assert road.post is not None and road.post.text == "Road closures & diversions this weekend"
    assert deleted.post is None and deleted.fullname == "t3_1mzzz02"


def test_comments_parse_with_reply_links_edits_and_removals() -> None:
    items, after, _ = parse_listing(COMMENTS)
    reply, removed = items
    assert after is None
    assert reply.post is not None and reply.post.reply_to == "reddit:t1_kq1aaa1"
    assert reply.edited == 1787221300.0
    assert removed.post is None


def test_malformed_listings_and_children() -> None:
    with pytest.raises(MalformedPayload):
        parse_listing({"kind": "t3"})
    with pytest.raises(MalformedPayload):
        parse_listing({"kind": "Listing", "data": {}})
    broken = copy.deepcopy(NEW)
    broken["data"]["children"][0]["data"]["created_utc"] = "soon"
    broken["data"]["children"].append({"kind": "t5", "data": {"name": "t5_x"}})
    items, _, problems = parse_listing(broken)
    assert len(items) == 2 and len(problems) == 2


def test_user_agent_form() -> None:
    assert USER_AGENT_FORM.match(UA)
    assert not USER_AGENT_FORM.match("Mozilla/5.0")
    assert not USER_AGENT_FORM.match("python:app:v1 (by ExampleCouncilData)")


# --- a fake Reddit ---------------------------------------------------------------------------


class FakeReddit:
    def __init__(self) -> None:
        self.listings: dict[str, list[dict[str, Any]]] = {}
        self.info: dict[str, dict[str, Any]] = {}
        self.token_requests: list[dict[str, Any]] = []
        self.api_requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.forced: list[web.Response] = []
        self.token_status = 200
        self.remaining = "99.0"
        self.tokens_issued = 0
        self.base = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/v1/access_token", self.access_token)
        app.router.add_get("/r/{sub}/{listing}", self.listing)
        app.router.add_get("/api/info", self.api_info)
        return app

    async def access_token(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.token_requests.append({"headers": dict(request.headers), "form": dict(form)})
        if self.token_status != 200:
            return web.json_response({"message": "Unauthorized", "error": 401}, status=401)
        self.tokens_issued += 1
        body = load_json("reddit", "token.json")
        body["access_token"] = f"fictional-token-{self.tokens_issued}"
        return web.json_response(body)

    def _check(self, request: web.Request) -> web.Response | None:
        self.api_requests.append((request.path, dict(request.query), dict(request.headers)))
        if self.forced:
            return self.forced.pop(0)
        if not request.headers.get("Authorization", "").startswith("bearer fictional-token-"):
            return web.Response(status=403, text=load_text("reddit", "blocked.html"))
        return None

    def _headers(self) -> dict[str, str]:
        return {
            "X-Ratelimit-Used": "1",
            "X-Ratelimit-Remaining": self.remaining,
            "X-Ratelimit-Reset": "240",
        }

    async def listing(self, request: web.Request) -> web.Response:
        forced = self._check(request)
        if forced is not None:
            return forced
        key = f"{request.match_info['sub']}/{request.match_info['listing']}"
        items = self.listings.get(key, [])
        limit = int(request.query.get("limit", "25"))
        start = 0
        if "after" in request.query:
            names = [c["data"]["name"] for c in items]
            start = names.index(request.query["after"]) + 1
        page = items[start : start + limit]
        after = page[-1]["data"]["name"] if start + limit < len(items) and page else None
        body = {
            "kind": "Listing",
            "data": {"after": after, "before": None, "dist": len(page), "children": page},
        }
        return web.json_response(body, headers=self._headers())

    async def api_info(self, request: web.Request) -> web.Response:
        forced = self._check(request)
        if forced is not None:
            return forced
        ids = request.query.get("id", "").split(",")
        children = [self.info[i] for i in ids if i in self.info]
        body = {"kind": "Listing", "data": {"after": None, "children": children}}
        return web.json_response(body, headers=self._headers())


def thing(n: int, text: str, created: float, kind: str = "t3") -> dict[str, Any]:
    """A fictional post or comment in the recorded shape."""
    base = copy.deepcopy(
        NEW["data"]["children"][1] if kind == "t3" else COMMENTS["data"]["children"][0]
    )
    d = base["data"]
    d["id"] = f"fic{n:05d}"
    d["name"] = f"{kind}_fic{n:05d}"
    d["created_utc"] = created
    d["edited"] = False
    if kind == "t3":
        d["title"], d["selftext"] = text, ""
    else:
        d["body"] = text
    return base


@pytest.fixture
async def reddit(aiohttp_server: Any) -> FakeReddit:
    fake = FakeReddit()
    server = await aiohttp_server(fake.app())
    fake.base = str(server.make_url("")).rstrip("/")
    return fake


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def make(
    fake: FakeReddit,
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
    credentials: tuple[str, str] | None = ("fictional-id", "fictional-secret"),
    **options: Any,
) -> RedditCollector:
    config = RedditConfig(
        name="reddit",
        subreddits=("exampletown",),
        client_id_env="REDDIT_ID",
        client_secret_env="REDDIT_SECRET",
        user_agent=options.pop("user_agent", UA),
        token_url=fake.base + "/api/v1/access_token",
        api_base=fake.base,
        **options,
    )
    return RedditCollector(
        config,
        session,
        sink,
        KeywordFilter(config.keywords, config.hashtags, config.places),
        credentials,
        health=SourceHealth("reddit", "reddit", CollectorMetrics(CollectorRegistry())),
        clock=clock,
        backoff=Backoff(5.0, 300.0, random.Random(5)),
    )


async def test_no_credentials_is_a_clear_start_up_error(
    reddit: FakeReddit, sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    collector = make(reddit, sink, clock, session, credentials=None)
    await collector.run()  # returns at once
    message = collector.health.last_error or ""
    assert collector.health.state == "failed"
    assert "$REDDIT_ID" in message and "$REDDIT_SECRET" in message and "approved" in message
    assert not reddit.token_requests and not reddit.api_requests


async def test_a_user_agent_not_in_reddits_form_is_refused(
    reddit: FakeReddit, sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    collector = make(reddit, sink, clock, session, user_agent="monitor/1.0")
    await collector.run()
    assert "required form" in (collector.health.last_error or "")


async def test_app_only_oauth_and_new_posts_and_comments_stored_once(
    reddit: FakeReddit, sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    reddit.listings["exampletown/new"] = NEW["data"]["children"]
    reddit.listings["exampletown/comments"] = COMMENTS["data"]["children"]
    collector = make(reddit, sink, clock, session)
    await collector.start()
    await collector.poll_round()
    await collector.poll_round()
    assert sorted(sink.posts) == ["reddit:t1_kq1aaa2", "reddit:t3_1mzzz01", "reddit:t3_1mzzz03"]
    token_call = reddit.token_requests[0]
    assert token_call["form"] == {"grant_type": "client_credentials"}
    expected = base64.b64encode(b"fictional-id:fictional-secret").decode()
    assert token_call["headers"]["Authorization"] == f"Basic {expected}"
    assert len(reddit.token_requests) == 1  # the token is reused until it expires
    for _, query, headers in reddit.api_requests:
        assert headers["User-Agent"] == UA and query["raw_json"] == "1"
    # The second round re-offered only the items at the cursor's second (ties), none stored twice.
    assert all(count <= 2 for count in sink.offered.values())
    assert json.loads(sink.cursors["reddit"]) == {
        "exampletown/comments": 1787221200.0,
        "exampletown/new": 1787221500.0,
    }


async def test_pages_back_to_the_cursor_when_many_items_arrived(
    reddit: FakeReddit, sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    base_t = 1787220000.0
    reddit.listings["exampletown/new"] = [thing(1, "oldest", base_t)]
    collector = make(reddit, sink, clock, session, comments=False)
    await collector.start()
    await collector.poll_round()
    burst = [thing(100 + i, f"burst {i}", base_t + 10 + i) for i in range(250)]
    reddit.listings["exampletown/new"] = list(reversed(burst)) + [thing(1, "oldest", base_t)]
    await collector.poll_round()
    assert len(sink.posts) == 251
    afters = [q.get("after") for p, q, _ in reddit.api_requests if p.endswith("/new")]
    assert afters[1:] == [None, "t3_fic00250", "t3_fic00150"]


async def test_filter_keeps_only_local_items(
    reddit: FakeReddit, sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    reddit.listings["exampletown/new"] = [
        thing(1, "Fictional: crowd gathering in Exampletown square", 1787220000.0),
        thing(2, "Fictional: best pizza recipe", 1787220001.0),
    ]
    collector = make(reddit, sink, clock, session, comments=False, places=("Exampletown",))
    await collector.start()
    await collector.poll_round()
    assert sink.texts() == ["Fictional: crowd gathering in Exampletown square"]


async def test_an_item_deleted_after_storage_is_purged_by_the_recheck(
    reddit: FakeReddit, sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    post = thing(1, "Fictional claim about a named street, later deleted", 1787220000.0)
    edited = thing(2, "Fictional first draft", 1787220001.0)
    reddit.listings["exampletown/new"] = [edited, post]
    collector = make(reddit, sink, clock, session, comments=False, recheck_interval_seconds=60)
    await collector.start()
    await collector.poll_round()
    assert len(sink.posts) == 2
    gone = copy.deepcopy(post)
    gone["data"].update(selftext="[deleted]", author="[deleted]", removed_by_category="deleted")
    changed = copy.deepcopy(edited)
    changed["data"].update(title="Fictional corrected draft", edited=1787220100.0)
    reddit.info = {"t3_fic00001": gone, "t3_fic00002": changed}
    clock.current += timedelta(seconds=61)
    await collector.poll_round()
    assert not sink.holds_text("later deleted")
    assert sink.texts() == ["Fictional corrected draft"]
    info_query = [q for p, q, _ in reddit.api_requests if p == "/api/info"][-1]
    assert sorted(info_query["id"].split(",")) == ["t3_fic00001", "t3_fic00002"]


async def test_a_deleted_item_in_the_listing_purges_a_stored_copy(
    reddit: FakeReddit, sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    post = thing(1, "Fictional text that will be removed", 1787220000.0)
    reddit.listings["exampletown/new"] = [post]
    collector = make(reddit, sink, clock, session, comments=False)
    await collector.start()
    await collector.poll_round()
    removed = copy.deepcopy(post)
    removed["data"].update(selftext="[removed]", removed_by_category="moderator")
    reddit.listings["exampletown/new"] = [removed]
    await collector.poll_round()
    assert not sink.holds_text("will be removed")


async def test_the_block_page_counts_towards_looks_blocked(
    reddit: FakeReddit, sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    blocked = load_text("reddit", "blocked.html")
    collector = make(reddit, sink, clock, session, comments=False)
    await collector.start()
    for _ in range(3):
        reddit.forced.append(web.Response(status=403, text=blocked, content_type="text/html"))
        await collector.poll_round()
    assert collector.health.looks_blocked
    assert "block page" in (collector.health.last_error or "")


async def test_rejected_credentials_are_reported_at_start_up(
    reddit: FakeReddit, sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    reddit.token_status = 401
    collector = make(reddit, sink, clock, session)
    result = await collector.check()
    assert not result.ok and "refused the app's client id/secret" in result.detail


async def test_an_expired_token_is_renewed_once(
    reddit: FakeReddit, sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    reddit.listings["exampletown/new"] = [thing(1, "fictional", 1787220000.0)]
    collector = make(reddit, sink, clock, session, comments=False)
    await collector.start()
    reddit.forced.append(web.json_response({"message": "Unauthorized", "error": 401}, status=401))
    await collector.poll_round()
    assert len(sink.posts) == 1 and len(reddit.token_requests) == 2


async def test_429_and_a_spent_budget_are_waited_out(
    reddit: FakeReddit, sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    reddit.listings["exampletown/new"] = [thing(1, "fictional", 1787220000.0)]
    collector = make(reddit, sink, clock, session, comments=False)
    await collector.start()
    reddit.forced.append(web.json_response({}, status=429, headers={"Retry-After": "31"}))
    await collector.poll_round()
    reddit.remaining = "0.0"
    await collector.poll_round()
    assert clock.sleeps[0] == 31.0 and clock.sleeps[1] == 240.0
    assert collector.health.rate_limit_waits == 2 and len(sink.posts) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("created_utc", float("nan")),
        ("created_utc", float("inf")),
        ("created_utc", 1e300),
        ("created_utc", True),
        ("score", float("nan")),
        ("score", "lots"),
        ("num_comments", float("-inf")),
        ("edited", float("nan")),
    ],
)
async def test_an_item_with_a_number_that_is_no_number_costs_only_itself(
    reddit: FakeReddit, sink: MemorySink, clock: FakeClock, session: Any, field: str, value: Any
) -> None:
    # Served as Python's json writes them (NaN, Infinity), which json.loads reads back. Each
    # raised ValueError or OverflowError out of the parser, failing the whole page at every
    # poll: the good post beside it was never stored.
    odd = thing(2, "Fictional: odd numbers on this one", 1787220060.0)
    odd["data"][field] = value
    reddit.listings["exampletown/new"] = [odd, thing(1, "Fictional: a good post", 1787220000.0)]
    collector = make(reddit, sink, clock, session, comments=False)
    await collector.start()
    await collector.poll_round()
    assert collector.health.last_error is None
    if field == "created_utc":  # no time, no post: skipped and counted as malformed
        assert sink.texts() == ["Fictional: a good post"]
        assert collector.health.malformed_count == 1
    else:  # a count or edit time that is no number is none; the post is kept
        assert sorted(sink.texts()) == [
            "Fictional: a good post",
            "Fictional: odd numbers on this one",
        ]
        kept = sink.posts["reddit:t3_fic00002"]
        assert (kept.like_count, kept.reply_count) == (
            0 if field == "score" else 34,
            0 if field == "num_comments" else 12,
        )


async def test_an_item_dated_in_the_future_does_not_move_the_cursor_past_real_posts(
    reddit: FakeReddit, sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    # The cursor was the newest created_utc on the page: one item dated 2100 made every real
    # post until then older than the cursor, so the subreddit was never read again.
    now = clock.now().timestamp()
    future = thing(9, "Fictional: dated in 2100", 4102444800.0)
    reddit.listings["exampletown/new"] = [future, thing(1, "Fictional: first", now - 600)]
    collector = make(reddit, sink, clock, session, comments=False)
    await collector.start()
    await collector.poll_round()
    assert json.loads(sink.cursors["reddit"]) == {"exampletown/new": now - 600}
    later = thing(2, "Fictional: later", now + 30)
    reddit.listings["exampletown/new"] = [future, later, thing(1, "Fictional: first", now - 600)]
    clock.current += timedelta(minutes=2)
    await collector.poll_round()
    assert "Fictional: later" in sink.texts()
    assert json.loads(sink.cursors["reddit"]) == {"exampletown/new": now + 30}


async def test_a_cursor_left_in_the_future_is_dropped_and_the_subreddit_read_again(
    reddit: FakeReddit, sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    # A cursor an earlier version committed from such an item: read as on a first start.
    sink.cursors["reddit"] = json.dumps({"exampletown/new": 4102444800.0})
    now = clock.now().timestamp()
    reddit.listings["exampletown/new"] = [thing(1, "Fictional: still being posted", now - 60)]
    collector = make(reddit, sink, clock, session, comments=False)
    await collector.start()
    await collector.poll_round()
    assert sink.texts() == ["Fictional: still being posted"]
    assert json.loads(sink.cursors["reddit"]) == {"exampletown/new": now - 60}
