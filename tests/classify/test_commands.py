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


def test_classify_says_each_posts_language_and_leaves_uncovered_ones_unscored(
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("MONITOR_CLASSIFIER", "keyword")  # covers English only
    stdin = (
        "Fictional: they are vermin, kick them out of Batley, every last one of them\n"
        "Fikcja: to robactwo, wyrzucić ich wszystkich z miasta, co do jednego\n"
    )
    result = CliRunner().invoke(cli, ["classify"], input=stdin)
    assert result.exit_code == 0, result.output
    english, polish = (json.loads(x) for x in result.output.splitlines())
    assert english["language"] == "en" and english["covered"] is True
    assert "hostile" in english["flags"]
    # As in the service: a language the model does not cover is not scored, and says so,
    # rather than reading as "checked, nothing found".
    assert polish["language"] == "pl" and polish["covered"] is False
    assert polish["scores"] == {} and polish["flags"] == [] and polish["stance"] is None
    # Asked to, it scores every post with the English heads.
    result = CliRunner().invoke(cli, ["classify", "--language", "en"], input=stdin)
    forced = [json.loads(x) for x in result.output.splitlines()]
    assert all(x["covered"] and x["scores"] for x in forced)


def test_classify_scores_the_other_lines_when_one_is_not_utf8() -> None:
    # Bytes that are not UTF-8 reach Python as surrogates (surrogateescape), which the
    # transformer's tokenizer refuses with a TypeError that ended the whole run.
    import asyncio
    import io

    from monitor.classify.commands import _classify_stream

    seen: list[str] = []

    class Recording:
        name = "recording"
        thresholds = {"hostile": 0.5}
        stance_thresholds = None
        covered_languages = None

        async def analyse(self, texts: list[str]) -> list[object]:
            seen.extend(texts)
            for t in texts:
                t.encode("utf-8")  # what the tokenizer needs: raises on a surrogate
            return [type("A", (), {"scores": {"hostile": 0.1}, "embedding": []})() for _ in texts]

        async def close(self) -> None:
            pass

    raw = b"Fictional: fine line\n\xff\xfe not utf-8\nFictional: third\n"
    stdin = io.StringIO(raw.decode("utf-8", "surrogateescape"))
    out = io.StringIO()
    asyncio.run(_classify_stream(Recording(), stdin, out, embedding=False))
    assert len(out.getvalue().splitlines()) == 3
    assert seen[1] == "?? not utf-8"
