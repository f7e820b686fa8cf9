"""The bundled demo week: what every later feature demonstrates and scores itself on.

These tests read the committed files (what `monitor demo` replays) and hold them to the
generator, the import format, and the story the ground truth tells about them.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from monitor.demo import scenario

pytestmark = pytest.mark.slow  # the demo week generated


HOUR = timedelta(hours=1)
REQUIRED = {"platform": str, "id": str, "text": str, "created_at": str, "author": str}
OPTIONAL = {
    "url": str,
    "lang": str,
    "reply_to": str,
    "quote_of": str,
    "repost_of": str,
    "likes": int,
    "reposts": int,
    "replies": int,
    "html": bool,
    "source": str,
    "synthetic": bool,
}
STORYLINES = {"chatter", "rumour", "counter", "tension", "calming"}
STANCES = {"rumour_support", "rumour_deny", "rumour_query", "rumour_comment"}
COMMUNITIES = ("muslim", "pakistani", "polish", "roma", "asylum seeker")


def full_id(record: dict[str, Any]) -> str:
    return f"{record['platform']}:{record['id']}"


def when(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["created_at"])


@pytest.fixture(scope="module")
def lines() -> list[str]:
    path = scenario.DATA_DIR / scenario.POSTS_FILE
    return path.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def records(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def by_id(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {full_id(r): r for r in records}


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    return scenario.load_truth()


def tagged(records: list[dict[str, Any]], truth: dict[str, Any], tag: str) -> list[dict[str, Any]]:
    return [r for r in records if tag in truth["posts"][full_id(r)]["tags"]]


def between(posts: list[dict[str, Any]], start: datetime, end: datetime) -> int:
    return sum(1 for r in posts if start <= when(r) < end)


# --- the files ---------------------------------------------------------------------------


def test_committed_files_equal_a_fresh_generation() -> None:
    assert scenario.drifted() == [], "demo files drifted: run python -m monitor.demo.scenario"


def test_generation_depends_on_the_seed_alone() -> None:
    first = scenario.rendered(scenario.SEED)
    assert scenario.rendered(scenario.SEED) == first
    assert scenario.rendered(scenario.SEED + 1) != first


def test_cli_writes_the_files_and_check_reports_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert scenario.main(["--out", str(tmp_path)]) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted([scenario.POSTS_FILE, scenario.TRUTH_FILE])
    assert scenario.main(["--check", "--out", str(tmp_path)]) == 0

    truth_path = tmp_path / scenario.TRUTH_FILE
    truth_path.write_text(truth_path.read_text(encoding="utf-8") + " ", encoding="utf-8")
    assert scenario.main(["--check", "--out", str(tmp_path)]) == 1
    assert scenario.TRUTH_FILE in capsys.readouterr().err


# --- the import format -------------------------------------------------------------------


def test_every_line_is_a_synthetic_import_record(lines: list[str]) -> None:
    start, end = scenario.START, scenario.END
    sources = {"bluesky": "bluesky-jetstream", "mastodon": "mastodon:", "rss": "rss:"}
    for number, line in enumerate(lines, 1):
        record = json.loads(line)
        where = f"line {number}"
        for key, kind in REQUIRED.items():
            assert isinstance(record.get(key), kind), f"{where}: {key}"
        assert record["text"].strip(), where
        assert set(record) <= set(REQUIRED) | set(OPTIONAL), where
        for key, kind in OPTIONAL.items():
            if key in record:
                assert type(record[key]) is kind, f"{where}: {key}"
        assert record["synthetic"] is True, where
        assert record["source"].startswith(sources[record["platform"]]), where
        created = datetime.fromisoformat(record["created_at"])
        assert created.utcoffset() == timedelta(0), where
        assert start <= created < end, where
        assert min(record["likes"], record["reposts"], record["replies"]) >= 0, where
        assert record.get("html", False) == (record["platform"] == "rss"), where
        assert record.get("lang") in (None, "en", "ur", "pl"), where


def test_ids_are_unique_and_shaped_like_each_platforms_own(records: list[dict[str, Any]]) -> None:
    ids = [full_id(r) for r in records]
    assert len(ids) == len(set(ids))
    bluesky = re.compile(r"at://(did:plc:[a-z0-9-]+)/app\.bsky\.feed\.(post|repost)/[2-7a-z]{13}")
    mastodon = re.compile(r"https://social\.example/users/(\w+)/statuses/\d{18}(/activity)?")
    for r in records:
        if r["platform"] == "bluesky":
            match = bluesky.fullmatch(r["id"])
            assert match and match.group(1) == r["author"], r["id"]
            assert (match.group(2) == "repost") == ("repost_of" in r)
        elif r["platform"] == "mastodon":
            match = mastodon.fullmatch(r["id"])
            assert match and r["author"].endswith(f"/users/{match.group(1)}"), r["id"]
            assert bool(match.group(2)) == ("repost_of" in r)
        else:
            assert r["id"].startswith("https://") and r["id"] == r["url"]


def test_links_point_to_earlier_posts_on_the_same_platform(
    records: list[dict[str, Any]], by_id: dict[str, dict[str, Any]]
) -> None:
    links = 0
    for r in records:
        for key in ("reply_to", "quote_of", "repost_of"):
            if key not in r:
                continue
            links += 1
            target = by_id[r[key]]
            assert target["platform"] == r["platform"]
            assert when(target) < when(r)
            assert "repost_of" not in target, "nobody replies to or reposts a repost record"
        if "repost_of" in r:
            assert r["text"] == by_id[r["repost_of"]]["text"]
    assert links > 500


def test_public_counts_are_at_least_what_the_week_shows(records: list[dict[str, Any]]) -> None:
    replies = Counter(r["reply_to"] for r in records if "reply_to" in r)
    reposts = Counter(r["repost_of"] for r in records if "repost_of" in r)
    for r in records:
        assert r["replies"] >= replies[full_id(r)]
        assert r["reposts"] >= reposts[full_id(r)]


def test_texts_fit_each_platforms_limit(records: list[dict[str, Any]]) -> None:
    limits = {"bluesky": 300, "mastodon": 500, "rss": 2000}
    for r in records:
        assert len(r["text"]) <= limits[r["platform"]], r["text"]


def test_everything_is_plainly_fictional(records: list[dict[str, Any]]) -> None:
    for r in records:
        assert "fictional" in r["author"] or r["author"].endswith(".example"), r["author"]
        for key in ("url", "id"):
            value = r.get(key, "")
            if value.startswith("https://"):
                host = urlparse(value).hostname or ""
                assert host.endswith(".example"), value
    # Only the RSS items carry HTML markup besides the one payload post.
    marked_up = [r for r in records if re.search(r"<[a-z]+[ >/]", r["text"])]
    assert {r["platform"] for r in marked_up if not r.get("html")} == {"bluesky"}
    assert sum(1 for r in marked_up if not r.get("html")) == 1


# --- the ground truth --------------------------------------------------------------------


def test_truth_tags_every_post_and_its_counts_add_up(
    records: list[dict[str, Any]], truth: dict[str, Any]
) -> None:
    assert truth["synthetic"] is True
    assert set(truth["posts"]) == {full_id(r) for r in records}
    tags = Counter(t for info in truth["posts"].values() for t in info["tags"])
    assert truth["counts"]["posts"] == len(records)
    assert truth["counts"]["by_tag"] == dict(tags)
    assert truth["counts"]["by_platform"] == dict(Counter(r["platform"] for r in records))
    assert set(tags) <= set(truth["tag_descriptions"])
    for pid, info in truth["posts"].items():
        assert len(STORYLINES & set(info["tags"])) == 1, pid
        if "rumour" in info["tags"]:
            assert len(STANCES & set(info["tags"])) == 1, pid
        else:
            assert not STANCES & set(info["tags"]), pid


def test_the_week_is_a_few_thousand_posts_with_a_daily_rhythm(
    records: list[dict[str, Any]], truth: dict[str, Any]
) -> None:
    assert 3000 <= len(records) <= 4000
    days = Counter(when(r).date() for r in records)
    assert len(days) == 5 and min(days.values()) > 400
    chatter = tagged(records, truth, "chatter")
    small_hours = sum(1 for r in chatter if 2 <= when(r).hour < 5)
    evening = sum(1 for r in chatter if 18 <= when(r).hour < 21)
    assert small_hours * 8 < evening


def test_about_one_post_in_twenty_is_not_in_english(records: list[dict[str, Any]]) -> None:
    langs = Counter(r.get("lang") for r in records)
    assert langs["ur"] > 0 and langs["pl"] > 0
    assert 0.03 <= (langs["ur"] + langs["pl"]) / len(records) <= 0.08


def test_chatter_is_not_copy_pasted(records: list[dict[str, Any]], truth: dict[str, Any]) -> None:
    originals = [
        r["text"]
        for r in tagged(records, truth, "chatter")
        if not any(k in r for k in ("reply_to", "repost_of"))
    ]
    assert len(set(originals)) / len(originals) > 0.95


def test_rumour_starts_in_toller_on_tuesday_morning_and_spreads_to_neighbours(
    records: list[dict[str, Any]], by_id: dict[str, dict[str, Any]], truth: dict[str, Any]
) -> None:
    rumour = truth["rumour"]
    posts = sorted(tagged(records, truth, "rumour"), key=when)
    onset = datetime.fromisoformat(rumour["onset"])
    assert [full_id(r) for r in posts] == rumour["post_ids"]
    assert when(posts[0]) == onset and rumour["seed_post_id"] == full_id(posts[0])
    assert onset.date().isoformat() == "2026-11-03" and 9 <= onset.hour <= 10
    assert rumour["origin_ward"] == "Toller"
    assert truth["posts"][rumour["seed_post_id"]]["ward"] == "Toller"
    assert "Toller" in by_id[rumour["seed_post_id"]]["text"]

    wards = [truth["posts"][full_id(r)]["ward"] for r in posts]
    assert {w for w in wards[:5] if w} == {"Toller"}, "the first posts come from Toller"
    assert set(rumour["wards_reached"]) == {w for w in wards if w}
    assert set(rumour["wards_reached"]) == {
        "Toller",
        "Manningham",
        "Heaton",
        "City",
        "Bradford Moor",
    }
    first_seen = {w: datetime.fromisoformat(t) for w, t in rumour["first_seen_by_ward"].items()}
    assert min(first_seen, key=lambda w: first_seen[w]) == "Toller"

    lasted = datetime.fromisoformat(rumour["last_seen"]) - onset
    assert 30 * HOUR <= lasted <= 40 * HOUR


def test_rumour_is_passed_on_in_varied_words_and_met_with_every_stance(
    records: list[dict[str, Any]], truth: dict[str, Any]
) -> None:
    posts = tagged(records, truth, "rumour")
    texts = " ".join(r["text"].lower() for r in posts)
    for cue in (
        "apparently",
        "i've heard",
        "my cousin who works at the council says",
        "share before it's deleted",
        "they're not telling you",
    ):
        assert cue in texts, cue
    stances = Counter(t for r in posts for t in truth["posts"][full_id(r)]["tags"] if t in STANCES)
    assert set(stances) == STANCES and min(stances.values()) >= 20
    claims = [
        r["text"]
        for r in tagged(records, truth, "rumour_support")
        if not any(k in r for k in ("reply_to", "repost_of", "quote_of"))
    ]
    assert len(claims) >= 50 and len(set(claims)) == len(claims), "paraphrases must differ"
    kinds = Counter(
        next((k for k in ("reply_to", "quote_of", "repost_of") if k in r), "") for r in posts
    )
    assert all(kinds[k] >= 10 for k in ("", "reply_to", "quote_of", "repost_of"))


def test_rumour_accelerates_then_slows_after_the_counter_message(
    records: list[dict[str, Any]], by_id: dict[str, dict[str, Any]], truth: dict[str, Any]
) -> None:
    onset = datetime.fromisoformat(truth["rumour"]["onset"])
    counter_at = datetime.fromisoformat(truth["counter"]["time"])
    counter = by_id[truth["counter"]["post_id"]]
    assert when(counter) == counter_at
    assert counter["author"] == truth["counter"]["author"] == "did:plc:fictional-bradford-council"
    assert "#MakeSureItAddsUp" in counter["text"]
    assert counter_at.date().isoformat() == "2026-11-04" and counter_at.hour in (14, 15)
    assert onset < counter_at < datetime.fromisoformat(truth["rumour"]["last_seen"])

    posts = tagged(records, truth, "rumour")
    assert between(posts, onset, onset + 6 * HOUR) < between(
        posts, onset + 6 * HOUR, onset + 12 * HOUR
    )
    spread = tagged(records, truth, "rumour_support")
    before = between(spread, counter_at - 6 * HOUR, counter_at)
    after = between(spread, counter_at + HOUR, counter_at + 7 * HOUR)
    assert after * 3 < before

    shares = [by_id[pid] for pid in truth["counter"]["share_ids"]]
    assert shares and all(when(s) > counter_at for s in shares)
    assert sum(1 for s in shares if s.get("repost_of") == truth["counter"]["post_id"]) >= 10


def test_tension_episode_in_little_horton_from_thursday_evening_to_friday(
    records: list[dict[str, Any]], by_id: dict[str, dict[str, Any]], truth: dict[str, Any]
) -> None:
    episode = truth["tension"]
    onset = datetime.fromisoformat(episode["onset"])
    end = datetime.fromisoformat(episode["end"])
    assert episode["ward"] == "Little Horton"
    assert onset.date().isoformat() == "2026-11-05" and onset.hour >= 18
    assert end.date().isoformat() == "2026-11-06" and 10 * HOUR <= end - onset <= 16 * HOUR

    posts = sorted(tagged(records, truth, "tension"), key=when)
    assert [full_id(r) for r in posts] == episode["post_ids"]
    assert when(posts[0]) == onset and when(posts[-1]) == end
    assert "Little Horton" in posts[0]["text"]
    wards = Counter(truth["posts"][full_id(r)]["ward"] for r in posts)
    del wards[None]
    assert wards.most_common(1)[0][0] == "Little Horton"

    for tag in ("hostile", "threat"):
        assert len(tagged(records, truth, tag)) >= 10, tag
    for r in tagged(records, truth, "hostile"):
        assert not any(c in r["text"].lower() for c in COMMUNITIES), "hostility stays generic"

    calls = [by_id[pid] for pid in episode["call_to_gather_ids"]]
    assert {full_id(r) for r in calls} == {
        full_id(r) for r in tagged(records, truth, "call_to_gather")
    }
    assert sum(1 for r in calls if "repost_of" not in r) >= 2
    for r in calls:
        assert "Centenary Square" in r["text"] and "7pm" in r["text"]
        assert onset < when(r) < datetime.fromisoformat(episode["gathering"]["time"])

    calming = [by_id[pid] for pid in episode["calming_ids"]]
    assert len(calming) >= 30 and all(when(r) > onset for r in calming)
    late = [r for r in calming if when(r) > end]
    assert len(late) >= 10, "appeals for calm carry on after the anger subsides"


def test_identity_mentions_in_chatter_are_neutral_and_span_communities(
    records: list[dict[str, Any]], truth: dict[str, Any]
) -> None:
    neutral = tagged(records, truth, "identity_neutral")
    assert len(neutral) >= 60
    for r in neutral:
        tags = set(truth["posts"][full_id(r)]["tags"])
        assert "chatter" in tags and not tags & {"rumour", "tension", "hostile", "counter"}
    texts = " ".join(r["text"].lower() for r in neutral)
    assert all(c in texts for c in COMMUNITIES)
    # Mentions of asylum seekers while the rumour runs: the false alarms to avoid.
    onset = datetime.fromisoformat(truth["rumour"]["onset"])
    during = [
        r for r in neutral if "asylum" in r["text"].lower() and onset <= when(r) < onset + 36 * HOUR
    ]
    assert during


def test_news_items_are_html_and_one_post_carries_a_script_payload(
    records: list[dict[str, Any]], by_id: dict[str, dict[str, Any]], truth: dict[str, Any]
) -> None:
    news = [r for r in records if r["platform"] == "rss"]
    assert len(news) >= 5 and all(r["html"] is True and "<p>" in r["text"] for r in news)
    payload = tagged(records, truth, "payload")
    assert [full_id(r) for r in payload] == [truth["payload_post_id"]]
    text = by_id[truth["payload_post_id"]]["text"]
    assert "<script>alert('x')</script>" in text and "onerror=alert(1)" in text
    assert "html" not in by_id[truth["payload_post_id"]], "a plain post: its text must be escaped"
