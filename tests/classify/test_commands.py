"""`monitor classify`: one JSON line out per line in, with scores and flags."""

from __future__ import annotations

import json

from click.testing import CliRunner

from monitor.cli import cli


def test_classify_reads_stdin_and_writes_json_lines(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MONITOR_CLASSIFIER", "keyword")
    stdin = (
        "Fictional: they are vermin, kick them out of Batley\n"
        "\n"
        "Fictional: lovely walk by the canal in Shipley\n"
    )
    result = CliRunner().invoke(cli, ["classify", "--embedding"], input=stdin)
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.output.splitlines()]
    assert len(lines) == 3  # the empty line too: output lines match input lines
    assert "hostile" in lines[0]["flags"]
    assert lines[2]["flags"] == []
    assert len(lines[1]["embedding"]) == 384
    assert set(lines[0]["scores"]) >= {"hostile", "offensive", "rumour", "stance_deny"}
    assert lines[0]["stance"] in {"support", "deny", "query", "comment"}
    assert {x["model"] for x in lines} == {"keyword-v1"}  # what scored each line
