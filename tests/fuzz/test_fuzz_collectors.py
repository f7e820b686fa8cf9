"""Fuzz every collector's parser with its recorded payloads, mutated: a parser either returns
posts or raises MalformedPayload (skipped and counted by the collector), and every post it
returns can be stored (ingest accepts it or refuses it with an IngestError)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from monitor.collectors.common import MalformedPayload
from monitor.collectors.jetstream import PostCommit, parse_frame
from monitor.collectors.mastodon import parse_status, parse_timeline
from monitor.collectors.reddit import parse_listing
from monitor.collectors.rss import parse_feed
from tests.fuzz.strategies import HOSTILE_STRINGS, fuzz, mutate
from tests.fuzz.test_fuzz_import import stores_cleanly

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "collectors"
NOW = datetime.now(UTC)


def _json(*parts: str) -> Any:
    return json.loads(FIXTURES.joinpath(*parts).read_text(encoding="utf-8"))


JETSTREAM = [_json("jetstream", p.name) for p in sorted((FIXTURES / "jetstream").glob("*.json"))]
MASTODON_TIMELINE = _json("mastodon", "timeline_tag.json")
REDDIT = [_json("reddit", "listing_new.json"), _json("reddit", "listing_comments.json")]
RSS = [p.read_bytes() for p in sorted((FIXTURES / "rss").iterdir())]


@fuzz
@given(data=st.data(), frame=st.sampled_from(JETSTREAM))
def test_jetstream_frames(data: st.DataObject, frame: Any) -> None:
    mutated = json.dumps(mutate(data, frame))
    try:
        event = parse_frame(mutated)
    except MalformedPayload:
        return
    if isinstance(event, PostCommit):
        stores_cleanly(event.post)


@fuzz
@given(data=st.data())
def test_mastodon_statuses_and_timelines(data: st.DataObject) -> None:
    timeline = mutate(data, MASTODON_TIMELINE)
    try:
        parsed, problems = parse_timeline(timeline, "fuzz")
    except MalformedPayload:
        return
    for status in parsed:
        stores_cleanly(status.post)
    if isinstance(timeline, list) and timeline:
        try:
            stores_cleanly(parse_status(timeline[0], "fuzz").post)
        except MalformedPayload:
            pass


@fuzz
@given(data=st.data(), listing=st.sampled_from(REDDIT))
def test_reddit_listings(data: st.DataObject, listing: Any) -> None:
    try:
        items, _after, _problems = parse_listing(mutate(data, listing), "fuzz")
    except MalformedPayload:
        return
    for item in items:
        if item.post is not None:  # None: deleted or removed on Reddit, nothing to store
            stores_cleanly(item.post)


@st.composite
def mutated_bytes(draw: st.DrawFn, original: bytes) -> bytes:
    body = original
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(body)))
        kind = draw(st.integers(0, 3))
        if kind == 0:
            body = body[:at]  # cut off
        elif kind == 1:
            insert = draw(st.sampled_from(HOSTILE_STRINGS)).encode("utf-8", "surrogatepass")
            body = body[:at] + insert + body[at:]
        elif kind == 2:
            body = body[:at] + draw(st.binary(max_size=20)) + body[at + 20 :]
        else:
            end = draw(st.integers(at, len(body)))
            body = body[:at] + body[end:]
    return body


@fuzz
@given(data=st.data(), original=st.sampled_from(RSS))
def test_rss_and_atom_feeds(data: st.DataObject, original: bytes) -> None:
    body = data.draw(mutated_bytes(original))
    try:
        feed = parse_feed(body, "https://news.example/feed", NOW, "fuzz")
    except MalformedPayload:
        return
    for post in feed.posts:
        stores_cleanly(post)
