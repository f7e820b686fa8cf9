"""The demo week end to end (`monitor demo --once --json`, keyword classifier for speed): the
two stories it holds are the review queue's items — at most six open items, the rumour across
the wards and the Little Horton fire episode among them, and nothing that is neither."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # the demo week replayed


DEMO = ROOT / "monitor" / "data" / "demo" / "bradford-scenario.jsonl"


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not DEMO.is_file():
        pytest.skip(f"no demo scenario at {DEMO}")
    where: Path = tmp_path_factory.mktemp("demo")
    env = {
        "MONITOR_DATABASE_URL": f"sqlite+aiosqlite:///{where / 'demo.db'}",
        "MONITOR_HOME": str(ROOT),
        "MONITOR_CLASSIFIER": "keyword",
        "MONITOR_ALERTS_DELIVER": "false",
    }
    result = CliRunner().invoke(cli, ["demo", "--once", "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)  # stdout is one JSON document
    return data


def is_rumour(item: dict[str, Any]) -> bool:
    return "rumour" in item["kinds"] and "Toller" in item["places"]


def is_episode(item: dict[str, Any]) -> bool:
    return "Little Horton" in item["places"] and "Little Horton" in item["headline"]


def test_the_summary_lists_incidents_for_scripts(summary: dict[str, Any]) -> None:
    assert summary["open_incidents"] == len(summary["incidents"])
    for item in summary["incidents"]:
        assert set(item) >= {"headline", "kinds", "places", "first_seen", "alert_count"}
        assert "unplaced" not in item["places"]


def test_the_demo_week_is_its_two_stories(summary: dict[str, Any]) -> None:
    items = summary["incidents"]
    assert len(items) <= 6
    assert any(is_rumour(i) for i in items), items
    assert any(is_episode(i) for i in items), items
    noise = [i["headline"] for i in items if not (is_rumour(i) or is_episode(i))]
    assert noise == []
    # The rumour spread across wards; the episode's call to gather says when and where
    rumour = next(i for i in items if is_rumour(i))
    assert len([p for p in rumour["places"] if p in WARDS]) >= 4
    episode = next(i for i in items if is_episode(i))
    assert episode["gathering"] == "Centenary Square, Friday 19:00"
    assert episode["headline"] == "Tension after the fire in Little Horton"
    # Many alerts, few items
    assert summary["open_alerts"] > 5 * len(items)


WARDS = {"Toller", "Manningham", "Heaton", "City", "Bradford Moor", "Great Horton", "Little Horton"}
