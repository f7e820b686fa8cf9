"""The [[sources]] tables: good ones become typed configs, bad ones are refused with the file,
the source and the key; account watchlists are refused outright."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.collectors.config import SourcesError, describe, load_sources, parse_sources
from monitor.collectors.jetstream import DEFAULT_HOSTS, JetstreamConfig
from monitor.collectors.mastodon import MastodonConfig
from monitor.collectors.reddit import RedditConfig
from monitor.collectors.rss import RssConfig
from monitor.config import load_settings

GOOD = """
log_level = "DEBUG"

[[sources]]
kind = "jetstream"
name = "bluesky"
places = ["Exampletown", "Northfield"]
hashtags = ["#Exampletown"]
batch_size = 200

[[sources]]
kind = "mastodon"
name = "mastodon-uk"
servers = ["mastodon.example", "https://other.example"]
hashtags = ["exampletown"]
public = "local"
keywords = ["protest*"]
token_env = "MASTODON_TOKEN"
poll_interval_seconds = 30

[[sources]]
kind = "rss"
name = "local-news"
feeds = ["https://www.example-council.gov.uk/news/rss", "https://gazette.example/feed.atom"]
enabled = false

[[sources]]
kind = "reddit"
name = "reddit-exampletown"
subreddits = ["r/exampletown"]
client_id_env = "REDDIT_ID"
client_secret_env = "REDDIT_SECRET"
user_agent = "python:uk.gov.example.monitor:v0.1 (by /u/ExampleCouncilData)"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_gives_typed_configs_and_the_settings_still_load(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    jet, masto, rss, reddit = load_sources(path)
    assert isinstance(jet, JetstreamConfig)
    assert jet.hosts == DEFAULT_HOSTS and jet.places == ("Exampletown", "Northfield")
    assert jet.batch_size == 200
    assert isinstance(masto, MastodonConfig)
    assert masto.poll_interval_seconds == 30.0 and masto.public == "local"
    assert isinstance(rss, RssConfig) and rss.enabled is False
    assert isinstance(reddit, RedditConfig) and reddit.subreddits == ("exampletown",)
    # The ordinary settings reader skips the [[sources]] array rather than failing on it.
    assert load_settings(path, environ={}).log_level == "DEBUG"
    assert describe(masto) == (
        "#exampletown, public:local on 2 server(s); filter: 1 keywords, 1 hashtags"
    )


def test_no_file_or_no_sources_means_no_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_sources(None, environ={}) == []
    path = write(tmp_path, 'log_level = "INFO"\n')
    assert load_sources(None, environ={}) == []  # ./monitor.toml found, no [[sources]]
    assert load_sources(None, environ={"MONITOR_CONFIG": str(path)}) == []


def errors_of(text: str, tmp_path: Path) -> str:
    with pytest.raises(SourcesError) as info:
        load_sources(write(tmp_path, text))
    return str(info.value)


def test_account_lists_are_refused(tmp_path: Path) -> None:
    message = errors_of(
        '[[sources]]\nkind = "jetstream"\nname = "b"\nplaces = ["X"]\n'
        'wantedDids = ["did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"]\n',
        tmp_path,
    )
    assert "monitor.toml: [[sources]] #1 ('b'): wantedDids: collecting by a list of accounts" in (
        message
    )


def test_every_problem_is_reported_with_file_source_and_key(tmp_path: Path) -> None:
    message = errors_of(
        """
[[sources]]
kind = "mastodon"
name = "m"
servers = ["mastodon.example"]
hashtag = ["exampletown"]
poll_interval_seconds = "often"

[[sources]]
kind = "jetstream"
name = "everything"
rewind_seconds = nan
batch_size = 99999999999999999

[[sources]]
kind = "reddit"
name = "r"
subreddits = ["no spaces allowed"]
client_id_env = "REDDIT ID"
client_secret_env = "REDDIT_SECRET"
user_agent = "Mozilla/5.0"

[[sources]]
kind = "rss"
name = "m"
feeds = ["file:///etc/passwd", "http://[::1"]

[[sources]]
kind = "twitter"
name = "x"

[[sources]]
kind = "rss"
name = "needs-feeds"
""",
        tmp_path,
    )
    lines = message.splitlines()
    expected = [
        "#1 ('m'): hashtag: not a setting of a mastodon source (did you mean 'hashtags'?)",
        "[[sources]] #1 ('m'): poll_interval_seconds: must be a number",
        "#2 ('everything'): keywords, hashtags or places: Jetstream carries the whole",
        "[[sources]] #2 ('everything'): rewind_seconds: must be a finite number",
        "[[sources]] #2 ('everything'): batch_size: must be at most 1,000,000,000",
        "[[sources]] #3 ('r'): subreddits: 'no spaces allowed' is not a subreddit name",
        "[[sources]] #3 ('r'): client_id_env: must name an environment variable",
        "[[sources]] #3 ('r'): user_agent: Reddit requires",
        "[[sources]] #4 ('m'): feeds: 'file:///etc/passwd' is not an http(s) URL",
        "[[sources]] #4 ('m'): feeds: 'http://[::1' is not an http(s) URL",
        "[[sources]] #5 ('x'): kind: must be one of jetstream, mastodon, rss, reddit",
        "[[sources]] #6 ('needs-feeds'): feeds: required for a rss source",
    ]
    for fragment in expected:
        assert any(fragment in line for line in lines), fragment
    assert all(line.startswith(f"{tmp_path / 'monitor.toml'}: ") for line in lines)


def test_duplicate_names_and_a_public_timeline_without_a_filter(tmp_path: Path) -> None:
    message = errors_of(
        '[[sources]]\nkind = "rss"\nname = "a"\nfeeds = ["https://a.example/rss"]\n'
        '[[sources]]\nkind = "rss"\nname = "a"\nfeeds = ["https://b.example/rss"]\n'
        '[[sources]]\nkind = "mastodon"\nname = "m"\nservers = ["m.example"]\npublic = "all"\n',
        tmp_path,
    )
    assert "#2 ('a'): name: already used by [[sources]] #1" in message
    assert "#3 ('m'): keywords or places: a public timeline carries everything" in message


def test_sources_must_be_an_array_of_tables() -> None:
    with pytest.raises(SourcesError, match=r"written \[\[sources\]\]"):
        parse_sources({"kind": "rss"}, "x.toml")


def test_a_single_string_is_accepted_where_a_list_is_expected() -> None:
    (config,) = parse_sources(
        [{"kind": "rss", "name": "n", "feeds": "https://a.example/rss"}], "x.toml"
    )
    assert isinstance(config, RssConfig) and config.feeds == ("https://a.example/rss",)


def test_every_source_key_is_documented_under_its_kind() -> None:
    import re
    from dataclasses import fields

    from monitor.collectors.config import KINDS

    readme = (Path(__file__).resolve().parents[2] / "monitor/collectors/README.md").read_text()
    common = readme.split("## `kind")[0]
    sections = {
        m.group(1): m.group(0)
        for m in re.finditer(r'## `kind = "(\w+)"`.*?(?=\n## |\Z)', readme, re.S)
    }
    assert set(sections) == set(KINDS)
    for kind, cls in KINDS.items():
        for f in fields(cls):
            assert f"| `{f.name}` |" in sections[kind] + common, f"{kind}.{f.name} undocumented"
