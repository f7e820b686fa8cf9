"""The public-account allowlist and small-count suppression."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ConfigError, Settings
from monitor.privacy import allowlist
from monitor.privacy.suppress import shown, suppress_rows, words

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_allowlist_names_the_fictional_council_and_nobody_else() -> None:
    accounts = allowlist.PublicAccounts.from_settings(Settings(home=str(ROOT)), ROOT)
    assert accounts.name_of("bluesky", "did:plc:fictional-bradford-council") == (
        "Bradford Council (fictional account)"
    )
    assert accounts.name_of("bluesky", "did:plc:fictionalkb52a675") is None
    assert accounts.name_of("mastodon", "did:plc:fictional-bradford-council") is None
    assert accounts.name_of("bluesky", None) is None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"accounts": [{"platform": "bluesky", "id": "x", "name": "Cllr Smith", "kind": "person"}]},
         "never a person"),
        ({"accounts": [{"platform": "bluesky", "id": "x", "kind": "council"}]},
         "'name' is required"),
        ({"accounts": [{"platform": "bluesky", "id": "x", "name": "A", "kind": "news",
                        "handle": "a"}]}, "unknown key 'handle'"),
        ({"accounts": [{"platform": "b", "id": "x", "name": "A", "kind": "news"},
                       {"platform": "b", "id": "x", "name": "B", "kind": "news"}]}, "twice"),
        ({"people": []}, "accounts"),
    ],
)  # fmt: skip
def test_a_bad_allowlist_is_refused_saying_where_and_why(data: object, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason) as exc:
        allowlist.parse(data, "public-accounts.yaml")
    assert "public-accounts.yaml" in str(exc.value)


def test_a_missing_configured_allowlist_file_is_an_error(tmp_path: Path) -> None:
    settings = Settings(privacy_public_accounts=str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match="not found"):
        allowlist.PublicAccounts.from_settings(settings, ROOT)


def test_small_author_counts_are_suppressed_zero_and_large_ones_shown() -> None:
    assert [shown(n, 10) for n in (0, 1, 9, 10, 250)] == [0, "<10", "<10", 10, 250]
    assert words(3, 10) == "fewer than 10" and words(0, 10) == "none" and words(12) == "12"
    rows = [{"ward": "Manningham", "posts": 3, "authors": 3}, {"ward": "Toller", "authors": 40}]
    suppress_rows(rows, k=5)
    assert rows == [
        {"ward": "Manningham", "posts": 3, "authors": "<5"},
        {"ward": "Toller", "authors": 40},
    ]
