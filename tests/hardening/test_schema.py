"""The post schema at the store boundary (monitor/ingest/schema.py): what any collector's parser
hands on is bounded before it is stored (findings 2 and 4 for collectors)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from monitor.collectors.mastodon import parse_status
from monitor.ingest.core import IngestError, Ingestor, normalise_language
from monitor.ingest.places import PlaceMatcher
from monitor.ingest.schema import SchemaError, check_post
from monitor.privacy.postids import PostIds
from monitor.types import RawPost

IDS = PostIds(b"i" * 32)  # fictional post id key
NOW = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)
INGEST = Ingestor(PlaceMatcher([]), detect=lambda text, declared: declared)


def status(created_at: str, favourites: object = 1) -> dict[str, object]:
    """A Mastodon status as its API serves one (fictional)."""
    return {
        "id": "1001",
        "uri": "https://social.example/users/fictional1/statuses/1001",
        "url": "https://social.example/@fictional1/1001",
        "created_at": created_at,
        "content": "<p>(fictional) Road closed near Lister Park</p>",
        "account": {"uri": "https://social.example/users/fictional1", "acct": "fictional1"},
        "favourites_count": favourites,
        "reblogs_count": 0,
        "replies_count": 0,
        "language": "en",
    }


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.000Z"])
def test_a_collected_post_with_an_impossible_date_is_refused_before_the_store(when: str) -> None:
    raw = parse_status(status(when), "mastodon-fictional").post
    with pytest.raises(IngestError, match="created_at"):
        INGEST.ingest(raw, b"k" * 32, NOW, ids=IDS)


def test_a_collected_post_with_a_huge_count_is_kept_with_the_count_clamped() -> None:
    raw = parse_status(status("2026-11-03T10:00:00.000Z", favourites=2**63), "m").post
    post = INGEST.ingest(raw, b"k" * 32, NOW, ids=IDS)
    assert post.like_count == 2**31 - 1


def test_the_schema_names_every_bad_field_at_once() -> None:
    raw = RawPost(
        platform="p" * 41,
        native_id="ok",
        text="(fictional)",
        created_at=datetime(1999, 1, 1, tzinfo=UTC),
        source="\ud800",
    )
    with pytest.raises(SchemaError) as caught:
        check_post(raw, NOW)
    message = str(caught.value)
    assert "platform is too long" in message and "created_at" in message
    assert "source" in message and "surrogate" in message


def test_a_good_record_passes_unchanged() -> None:
    raw = RawPost("mastodon", "x:1", "(fictional) hello", NOW, like_count=5)
    assert check_post(raw, NOW) == raw


def test_a_collected_post_with_a_nul_in_its_source_is_refused_and_one_elsewhere_is_kept() -> None:
    # The source is stored as given, and PostgreSQL refuses U+0000 where SQLite keeps it.
    good = parse_status(status("2026-11-03T10:00:00.000Z"), "mastodon-fictional").post
    with pytest.raises(IngestError, match="source: contains a NUL character"):
        INGEST.ingest(replace(good, source="mastodon\x00x"), b"k" * 32, NOW, ids=IDS)
    # The id and author are stored only keyed, the language tag normalised: nothing to refuse.
    odd = replace(good, native_id=good.native_id + "\x00", author_id="a\x00", language="en\x00")
    tags = Ingestor(PlaceMatcher([]), detect=lambda text, declared: normalise_language(declared))
    assert tags.ingest(odd, b"k" * 32, NOW, ids=IDS).language is None
