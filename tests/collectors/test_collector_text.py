"""HTML to text and the keyword/place filter applied before storage."""

from __future__ import annotations

import random

import pytest

from monitor.collectors.common import Backoff, parse_reset_time, parse_retry_after
from monitor.collectors.text import KeywordFilter, html_to_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>One</p><p>Two &amp; three</p>", "One\nTwo & three"),
        ('<p>Tagged <a href="x" class="hashtag">#<span>town</span></a></p>', "Tagged #town"),
        (
            '<a href="https://example.org/long/path"><span class="invisible">https://</span>'
            '<span class="ellipsis">example.org/long</span>'
            '<span class="invisible">/path</span></a>',
            "https://example.org/long/path",
        ),
        ("line<br>break<br/>again", "line\nbreak\nagain"),
        ("<script>alert('x')</script><style>p{}</style>kept", "kept"),
        ("plain   text\twith  spaces", "plain text with spaces"),
        ("&lt;b&gt;not a tag&lt;/b&gt;", "<b>not a tag</b>"),
        ("<p>unclosed <b>bold", "unclosed bold"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_keywords_and_places_match_whole_words_in_any_case() -> None:
    accept = KeywordFilter(keywords=["riot"], places=["Bradford Moor", "Exampletown"])
    assert accept("trouble in EXAMPLETOWN tonight")
    assert accept("anyone near bradford   moor?")
    assert accept("riot police seen")
    assert not accept("Exampletowns are nice")  # not the whole word
    assert not accept("patriotic songs")
    assert not accept("Bradford Moorside")


def test_wildcards_and_hashtags() -> None:
    accept = KeywordFilter(keywords=["protest*"], hashtags=["#MakeSureItAddsUp", "exampletown"])
    assert accept("Protesters gathering")
    assert accept("shared with #makesureitaddsup")
    assert accept("#Exampletown")
    assert not accept("exampletown without the hash sign")
    assert not accept("#ExampletownFC is a different tag")


def test_an_empty_filter_keeps_everything() -> None:
    assert KeywordFilter().empty and KeywordFilter()("anything")
    assert not KeywordFilter(places=["X"]).empty


def test_backoff_grows_with_jitter_to_a_cap_and_resets() -> None:
    backoff = Backoff(1.0, 8.0, random.Random(0))
    delays = [backoff.next() for _ in range(6)]
    for n, delay in enumerate(delays):
        ceiling = min(8.0, 2.0**n)
        assert ceiling / 2 <= delay <= ceiling
    backoff.reset()
    assert backoff.next() <= 1.0


def test_retry_after_and_reset_headers() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 8, 20, 10, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Thu, 20 Aug 2026 10:01:00 GMT", now) == 60.0
    assert parse_retry_after("soon", now) is None
    assert parse_reset_time("2026-08-20T10:05:00.000Z", now) == 300.0  # Mastodon: a time
    assert parse_reset_time("240", now) == 240.0  # Reddit: seconds left
    assert parse_reset_time(str(now.timestamp() + 30), now) == 30.0  # epoch seconds
