"""Mastodon: recorded statuses parse; start-up says which timelines need a token; reading
forward with min_id stores each post once across pages, servers and restarts; rate limits are
honoured; deleted and edited posts are found by re-checking."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from monitor.collectors.common import Backoff, MalformedPayload
from monitor.collectors.health import CollectorMetrics, SourceHealth
from monitor.collectors.mastodon import (
    MastodonCollector,
    MastodonConfig,
    min_id_from_links,
    newest_id,
    parse_status,
    parse_timeline,
    plan_timeline,
    timeline_access,
)
from monitor.collectors.text import KeywordFilter
from tests.collectors.conftest import FakeClock, MemorySink, load_json

TIMELINE = load_json("mastodon", "timeline_tag.json")


# --- parsing -----------------------------------------------------------------------------------


def test_status_html_becomes_text_and_the_uri_is_the_id() -> None:
    st = parse_status(TIMELINE[0])
    assert st.post.post_id == (
        "mastodon:https://mastodon.example/users/resident/statuses/117127310876540929"
    )
    assert st.post.text == "Road closed by the station again, police everywhere #exampletown"
    assert st.post.author_id == "https://mastodon.example/users/resident"
    assert st.post.url == "https://mastodon.example/@resident/117127310876540929"
    assert (st.post.like_count, st.post.repost_count, st.post.reply_count) == (1, 2, 0)
    assert st.post.created_at == datetime(2026, 8, 20, 10, 15, 30, 123000, tzinfo=UTC)
    assert st.local_id == "117127310876540929" and st.tags == ("exampletown",)


def test_a_boost_is_the_boosted_post_with_its_own_uri() -> None:
    st = parse_status(TIMELINE[1])
    assert st.post.native_id == "https://other.example/users/townwatch/statuses/55501"
    assert st.post.text == (
        "Vigil at the war memorial tonight, all welcome & bring a candle #Exampletown"
    )
    assert st.local_id == "117127300000000777"  # this server's id of the original
    assert st.post.author_id == "https://other.example/users/townwatch"


def test_content_warning_is_kept_and_quotes_are_linked() -> None:
    st = parse_status(TIMELINE[2])
    assert st.post.text == (
        "local politics\n\nIs it true the council is closing the\ncommunity centre?"
    )
    assert st.post.quote_of == "mastodon:https://other.example/users/townwatch/statuses/55400"
    assert st.edited_at == "2026-08-20T10:02:00.000Z"


def test_malformed_statuses_are_reported_and_the_rest_kept() -> None:
    broken = [{"id": "1"}, "text", {**TIMELINE[0], "created_at": "yesterday"}, TIMELINE[0]]
    good, bad = parse_timeline(broken, "m")
    assert len(good) == 1 and len(bad) == 3
    with pytest.raises(MalformedPayload):
        parse_timeline({"error": "nope"}, "m")


def test_ids_compare_as_numbers_and_links_give_the_next_min_id() -> None:
    assert newest_id(["99", "100", "7"]) == "100"
    assert newest_id(["AbC", "AbD"]) == "AbD"
    links = {
        "next": {"url": "https://m.example/api/v1/timelines/tag/x?max_id=5"},
        "prev": {"url": "https://m.example/api/v1/timelines/tag/x?min_id=117127311204220928"},
    }
    assert min_id_from_links(links) == "117127311204220928"
    assert min_id_from_links({}) is None


def test_access_plans_from_timelines_access() -> None:
    open_ = timeline_access(load_json("mastodon", "instance_open.json"))
    restricted = timeline_access(load_json("mastodon", "instance_restricted.json"))
    assert timeline_access(load_json("mastodon", "instance_4_3.json")) is None
    plan = plan_timeline("m.example", "tag:exampletown", open_, has_token=False)
    assert plan.usable and plan.params == () and plan.note is None
    # Local hashtag posts are public, remote ones need a token: read local, say so.
    plan = plan_timeline("m.example", "tag:exampletown", restricted, has_token=False)
    assert plan.usable and plan.params == (("local", "true"),)
    assert plan.note and "remote posts need an access token" in plan.note
    assert plan_timeline("m.example", "tag:exampletown", restricted, True).params == ()
    plan = plan_timeline("m.example", "public:local", restricted, has_token=False)
    assert not plan.usable and plan.needs_token
    assert plan.note == (
        "m.example: the public timeline (local) needs an access token (this server opens its "
        "live feeds to signed-in users only): set token_env"
    )
    plan = plan_timeline("m.example", "public:remote", restricted, has_token=True)
    assert not plan.usable and "disabled" in (plan.note or "")


# --- a fake Mastodon server -------------------------------------------------------------------


def make_status(local_id: int, text: str, uri: str | None = None, **extra: Any) -> dict[str, Any]:
    status = copy.deepcopy(TIMELINE[0])
    status["id"] = str(local_id)
    status["uri"] = uri or f"https://mastodon.example/users/resident/statuses/{local_id}"
    status["url"] = status["uri"]
    status["content"] = f"<p>{text}</p>"
    status["tags"] = []
    status.update(extra)
    return status


class FakeMastodon:
    def __init__(self, instance: str = "instance_open.json") -> None:
        self.instance: Any = load_json("mastodon", instance) if instance else None
        self.timelines: dict[str, list[dict[str, Any]]] = {}
        self.deleted: set[str] = set()
        self.edits: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.forced: list[web.Response] = []
        self.needs_auth: dict[str, int] = {}  # path -> status when no Authorization header
        self.remaining = 300
        self.reset = "2026-08-20T10:25:00.000Z"
        self.base = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v2/instance", self.get_instance)
        app.router.add_get("/api/v1/timelines/tag/{tag}", self.get_timeline)
        app.router.add_get("/api/v1/timelines/public", self.get_timeline)
        app.router.add_get("/api/v1/statuses/{id}", self.get_status)
        return app

    def _record(self, request: web.Request) -> web.Response | None:
        self.requests.append((request.path, dict(request.query), dict(request.headers)))
        if self.forced:
            return self.forced.pop(0)
        status = self.needs_auth.get(request.path)
        if status and "Authorization" not in request.headers:
            name = "error_401.json" if status == 401 else "error_422.json"
            return web.json_response(load_json("mastodon", name), status=status)
        return None

    def _headers(self) -> dict[str, str]:
        self.remaining -= 1
        return {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": self.reset,
        }

    async def get_instance(self, request: web.Request) -> web.Response:
        forced = self._record(request)
        if forced is not None:
            return forced
        if self.instance is None:
            return web.json_response({"error": "Not found"}, status=404)
        return web.json_response(self.instance, headers=self._headers())

    async def get_timeline(self, request: web.Request) -> web.Response:
        forced = self._record(request)
        if forced is not None:
            return forced
        key = request.match_info.get("tag", "public")
        if key not in self.timelines and key != "public":
            return web.json_response({"error": "Record not found"}, status=404)
        items = sorted(self.timelines.get(key, []), key=lambda s: int(s["id"]))
        limit = int(request.query.get("limit", "20"))
        if "min_id" in request.query:
            page = [s for s in items if int(s["id"]) > int(request.query["min_id"])][:limit]
        else:
            page = items[-limit:]
        page = list(reversed(page))
        headers = self._headers()
        if page:
            url = f"{self.base}{request.path}"
            headers["Link"] = (
                f'<{url}?max_id={page[-1]["id"]}>; rel="next", '
                f'<{url}?min_id={page[0]["id"]}>; rel="prev"'
            )
        return web.json_response(page, headers=headers)

    async def get_status(self, request: web.Request) -> web.Response:
        forced = self._record(request)
        if forced is not None:
            return forced
        sid = request.match_info["id"]
        if sid in self.deleted:
            return web.json_response({"error": "Record not found"}, status=404)
        if sid in self.edits:
            return web.json_response(self.edits[sid], headers=self._headers())
        for items in self.timelines.values():
            for s in items:
                if s["id"] == sid:
                    return web.json_response(s, headers=self._headers())
        return web.json_response({"error": "Record not found"}, status=404)

    def timeline_requests(self) -> list[dict[str, str]]:
        return [q for path, q, _ in self.requests if "/timelines/" in path]


@pytest.fixture
async def mastodon(aiohttp_server: Any) -> Callable[..., Any]:
    async def start(instance: str = "instance_open.json") -> FakeMastodon:
        fake = FakeMastodon(instance)
        server = await aiohttp_server(fake.app())
        fake.base = str(server.make_url("")).rstrip("/")
        return fake

    return start


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def make(
    servers: list[FakeMastodon],
    sink: MemorySink,
    clock: FakeClock,
    session: aiohttp.ClientSession,
    token: str | None = None,
    **options: Any,
) -> MastodonCollector:
    config = MastodonConfig(
        name="masto",
        servers=tuple(s.base for s in servers),
        hashtags=options.pop("hashtags", ("exampletown",)),
        **options,
    )
    accept = KeywordFilter(config.keywords, config.hashtags, config.places)
    health = SourceHealth("masto", "mastodon", CollectorMetrics(CollectorRegistry()))
    return MastodonCollector(
        config,
        session,
        sink,
        accept,
        token=token,
        health=health,
        clock=clock,
        backoff=Backoff(5.0, 300.0, random.Random(3)),
    )


async def test_reads_forward_with_min_id_across_pages_storing_each_post_once(
    mastodon: Callable[..., Any], sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    server = await mastodon()
    server.timelines["exampletown"] = [make_status(1000 + i, f"post {i}") for i in range(5)]
    collector = make([server], sink, clock, session, page_limit=40)
    await collector.start()
    await collector.poll_round()
    assert len(sink.posts) == 5
    assert "min_id" not in server.timeline_requests()[0]
    unit = f"{server.base}|tag:exampletown"
    assert json.loads(sink.cursors["masto"]) == {unit: "1004"}
    # 45 new posts arrive: two pages forward (40, then 5), nothing skipped or repeated.
    server.timelines["exampletown"] += [make_status(2000 + i, f"new {i}") for i in range(45)]
    await collector.poll_round()
    assert len(sink.posts) == 50
    forward = server.timeline_requests()[1:]
    assert [q.get("min_id") for q in forward] == ["1004", "2039"]
    assert max(sink.offered.values()) == 1
    assert json.loads(sink.cursors["masto"]) == {unit: "2044"}


async def test_a_restarted_collector_resumes_from_its_cursor(
    mastodon: Callable[..., Any], sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    server = await mastodon()
    server.timelines["exampletown"] = [make_status(1000 + i, f"post {i}") for i in range(3)]
    first = make([server], sink, clock, session)
    await first.start()
    await first.poll_round()
    server.timelines["exampletown"].append(make_status(1010, "after the restart"))
    second = make([server], sink, clock, session)
    await second.start()
    await second.poll_round()
    assert server.timeline_requests()[-1]["min_id"] == "1002"
    assert len(sink.posts) == 4 and max(sink.offered.values()) == 1


async def test_the_same_post_on_two_servers_is_one_post(
    mastodon: Callable[..., Any], sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    a, b = await mastodon(), await mastodon()
    uri = "https://third.example/users/someone/statuses/42"
    a.timelines["exampletown"] = [make_status(500, "federated post", uri=uri)]
    b.timelines["exampletown"] = [make_status(90000, "federated post", uri=uri)]
    collector = make([a, b], sink, clock, session)
    await collector.start()
    await collector.poll_round()
    assert list(sink.posts) == [f"mastodon:{uri}"]
    assert sink.offered[f"mastodon:{uri}"] == 1


async def test_public_timeline_is_filtered_but_hashtag_timelines_are_not(
    mastodon: Callable[..., Any], sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    server = await mastodon()
    server.timelines["exampletown"] = [make_status(1, "nothing local in the words")]
    server.timelines["public"] = [
        make_status(2, "Queue outside Exampletown surgery"),
        make_status(3, "Sunset photos from far away"),
    ]
    collector = make([server], sink, clock, session, public="local", places=("Exampletown",))
    await collector.start()
    await collector.poll_round()
    assert sorted(sink.texts()) == [
        "Queue outside Exampletown surgery",
        "nothing local in the words",
    ]
    public_query = [q for p, q, _ in server.requests if p.endswith("/public")][0]
    assert public_query["local"] == "true"


async def test_a_tag_unknown_to_a_server_is_read_as_empty(
    mastodon: Callable[..., Any], sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    server = await mastodon()
    collector = make([server], sink, clock, session, hashtags=("exampletown", "nobodyuses"))
    server.timelines["exampletown"] = [make_status(1, "tagged")]
    await collector.start()
    assert await collector.poll_round() == 60.0  # not an error, no backoff
    assert collector.health.error_count == 0 and sink.texts() == ["tagged"]
    assert any(p.endswith("/tag/nobodyuses") for p, _, _ in server.requests)


async def test_authors_who_opted_out_of_indexing_are_skipped(
    mastodon: Callable[..., Any], sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    server = await mastodon()
    opted_out = make_status(2, "please do not index me")
    opted_out["account"] = {**opted_out["account"], "noindex": True}
    server.timelines["exampletown"] = [make_status(1, "ordinary post"), opted_out]
    collector = make([server], sink, clock, session)
    await collector.start()
    await collector.poll_round()
    assert sink.texts() == ["ordinary post"]


async def test_start_up_says_which_timelines_need_a_token_on_an_older_server(
    mastodon: Callable[..., Any], sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    server = await mastodon("instance_4_3.json")
    server.needs_auth["/api/v1/timelines/public"] = 422
    server.timelines["exampletown"] = [make_status(1, "tagged post")]
    collector = make([server], sink, clock, session, public="all")
    await collector.start()
    assert collector.units() == [f"{server.base}|tag:exampletown"]
    assert any(
        "public:all needs an access token on this server: set token_env" in n
        for n in collector.health.notes
    )
    await collector.poll_round()
    assert sink.texts() == ["tagged post"]


async def test_a_server_open_to_nobody_stops_the_source_with_the_reason(
    mastodon: Callable[..., Any], sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    server = await mastodon("instance_restricted.json")
    collector = make([server], sink, clock, session, hashtags=(), public="local")
    await collector.run()  # returns: nothing to read
    assert collector.health.state == "failed"
    assert "needs an access token" in (collector.health.last_error or "")


async def test_a_token_is_sent_and_unlocks_authenticated_feeds(
    mastodon: Callable[..., Any], sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    server = await mastodon("instance_restricted.json")
    server.timelines["public"] = [make_status(1, "Exampletown local post")]
    collector = make(
        [server], sink, clock, session, token="fictional-token", hashtags=(), public="local"
    )
    await collector.start()
    await collector.poll_round()
    assert sink.texts() == ["Exampletown local post"]
    assert all(h["Authorization"] == "Bearer fictional-token" for _, _, h in server.requests)


async def test_429_and_an_exhausted_budget_are_waited_out(
    mastodon: Callable[..., Any], sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    server = await mastodon()
    server.timelines["exampletown"] = [make_status(1, "first")]
    collector = make([server], sink, clock, session)
    await collector.start()
    server.forced.append(
        web.json_response({"error": "Too many requests"}, status=429, headers={"Retry-After": "17"})
    )
    await collector.poll_round()
    assert clock.sleeps == [17.0] and not sink.posts
    # Budget spent: the next response says 0 remaining; wait until the reset time.
    server.remaining = 1
    clock.current = datetime(2026, 8, 20, 10, 24, 0, tzinfo=UTC)
    await collector.poll_round()
    assert sink.texts() == ["first"]
    assert clock.sleeps[1] == pytest.approx(60.0)
    assert collector.health.rate_limit_waits == 2


async def test_malformed_pages_and_statuses_are_counted_and_polling_goes_on(
    mastodon: Callable[..., Any], sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    server = await mastodon()
    server.timelines["exampletown"] = [make_status(1, "good one"), {"id": "2", "uri": "x"}]
    collector = make([server], sink, clock, session)
    await collector.start()
    server.forced.append(web.Response(text="<html>maintenance</html>", status=200))
    await collector.poll_round()  # not JSON
    await collector.poll_round()  # one status broken
    assert sink.texts() == ["good one"]
    assert collector.health.malformed_count == 2
    assert json.loads(sink.cursors["masto"])  # the broken status did not block the cursor


async def test_a_page_too_large_or_too_deep_is_malformed_and_polling_goes_on(
    mastodon: Callable[..., Any], sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    from monitor.collectors.http_body import MAX_RESPONSE_BYTES

    server = await mastodon()
    server.timelines["exampletown"] = [make_status(1, "good one")]
    collector = make([server], sink, clock, session)
    await collector.start()
    huge = "[" + ",".join(['{"id": "9"}'] * (MAX_RESPONSE_BYTES // 10)) + "]"
    server.forced.append(web.Response(text=huge, content_type="application/json"))
    server.forced.append(
        web.Response(text="[" * 100_000 + "]" * 100_000, content_type="application/json")
    )
    server.forced.append(web.Response(body=b'[{"id": "\xff"}]', content_type="application/json"))
    for _ in range(3):
        await collector.poll_round()
    assert not sink.posts and collector.health.malformed_count == 3
    await collector.poll_round()
    assert sink.texts() == ["good one"]


async def test_recheck_purges_deleted_posts_and_replaces_edited_text(
    mastodon: Callable[..., Any], sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    server = await mastodon()
    doomed = make_status(1, "Fictional rumour the author later deleted")
    edited = make_status(2, "Fictional first version")
    kept = make_status(3, "Fictional post that stays")
    server.timelines["exampletown"] = [doomed, edited, kept]
    collector = make([server], sink, clock, session, recheck_interval_seconds=600)
    await collector.start()
    await collector.poll_round()  # first round also re-checks: all unchanged
    assert len(sink.posts) == 3
    server.deleted.add("1")
    server.edits["2"] = {
        **edited,
        "content": "<p>Fictional corrected version</p>",
        "edited_at": "2026-08-20T11:00:00.000Z",
    }
    await collector.poll_round()  # not due yet
    assert len(sink.posts) == 3
    clock.current += timedelta(seconds=601)
    await collector.poll_round()
    assert not sink.holds_text("later deleted")
    assert sorted(sink.texts()) == ["Fictional corrected version", "Fictional post that stays"]
    assert collector.health.deletions == 1


async def test_check_reports_access_per_timeline_and_stores_nothing(
    mastodon: Callable[..., Any], sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    server = await mastodon("instance_restricted.json")
    server.timelines["exampletown"] = [make_status(1, "tagged")]
    collector = make([server], sink, clock, session, public="local")
    result = await collector.check()
    assert not result.ok and result.needs_token
    assert "tag:exampletown: readable, 1 recent statuses" in result.detail
    assert "needs an access token" in result.detail
    assert not sink.posts and not sink.cursors


async def test_check_names_an_unreachable_server_in_words_not_a_repr(
    sink: MemorySink, clock: FakeClock, session: Any
) -> None:
    from tests.conftest import free_port

    gone = FakeMastodon()
    gone.base = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = await make([gone], sink, clock, session).check()
    assert not result.ok
    assert result.detail.startswith("Cannot connect to host 127.0.0.1:"), result.detail
    assert "ConnectionKey" not in result.detail
