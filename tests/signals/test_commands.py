"""`monitor signals …` on a store the stage has filled from a generated week."""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from monitor.cli import cli
from monitor.config import Settings
from monitor.evaluation.simulate import ScenarioSpec, generate
from monitor.privacy.postref import post_ref
from monitor.signals.config import SignalsConfig
from monitor.signals.stage import SignalsStage
from monitor.store.tables import audit_events, counter_messages, rumour_claims
from tests.signals.conftest import T0, feed, item, make_store, minutes
from tests.signals.test_clustering import VARIANTS
from tests.signals.test_stage import _embed

SPEC = ScenarioSpec(
    seed=9,
    weeks=3 / 7,
    volume=0.5,
    rumour_at=timedelta(days=1, hours=9),
    tension_at=timedelta(days=2, hours=1),
    tension_hours=6,
)


@pytest.fixture(scope="module")
def filled_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store after a generated half-week, filled once for the module (2-3 s): `filled`
    hands each test a copy, since some of them write (counter messages, claims)."""
    path = tmp_path_factory.mktemp("signals-cli") / "cli.db"
    items, _ = generate(SPEC)
    # The `config` fixture's: shipped defaults, thresholds for the keyword embeddings.
    config = SignalsConfig.from_settings(Settings(), hashed_embeddings=True)

    async def fill() -> None:
        engine = await make_store(f"sqlite+aiosqlite:///{path}")
        try:
            await feed(engine, SignalsStage(config, embed=_embed, embedder="keyword-v1"), items)
        finally:
            await engine.dispose()

    asyncio.run(fill())
    assert not path.with_name(path.name + "-wal").exists(), "the store must be one file to copy"
    return path


@pytest.fixture
def filled(tmp_path: Path, filled_template: Path) -> dict[str, str]:
    """A copy of the filled store, and the environment pointing the CLI at it."""
    shutil.copyfile(filled_template, tmp_path / "cli.db")
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    return {"MONITOR_DATABASE_URL": url, "MONITOR_CONFIG": str(tmp_path / "none.toml")}


def _run(env: dict[str, str], *args: str) -> str:
    (Path(env["MONITOR_CONFIG"])).write_text("", encoding="utf-8")
    result = CliRunner().invoke(cli, ["signals", *args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _water(rows: list[dict[str, object]]) -> dict[str, object]:
    """The generated rumour's row (the board also lists the week's one-off claims)."""
    (row,) = [r for r in rows if "water" in str(r["representative"])]
    return row


def test_levels_and_their_reasons(filled: dict[str, str]) -> None:
    levels = json.loads(_run(filled, "levels", "--all", "--json"))
    by_area = {r["area"]: r for r in levels}
    assert "ward:Little Horton" in by_area
    changes = _run(filled, "changes", "--area", "Little Horton")
    assert (
        "Little Horton (ward): normal → " in changes
        or "Little Horton (ward): elevated →" in changes
    )
    assert "distinct authors" in changes and "baseline" in changes and "(alert " in changes


def test_the_board_lists_rumours_that_spread_and_candidates_only_when_asked(
    filled: dict[str, str],
) -> None:
    """The week's one-off claims (a post or four each) stay candidates: the board is the
    water rumour; `--status new` still lists the candidates for a person who looks."""
    rows = json.loads(_run(filled, "rumours", "--json"))
    assert rows and all(r["status"] in ("watching", "countering") for r in rows)
    assert _water(rows)["spreading_since"] is not None  # it spread, which put it there
    candidates = json.loads(_run(filled, "rumours", "--status", "new", "--json"))
    assert candidates and all(r["status"] == "new" for r in candidates)


def test_rumour_board_shows_counts_never_authors(filled: dict[str, str]) -> None:
    board = _run(filled, "rumours")
    assert "water" in board and "Authors are distinct counts" in board
    assert "fictional-" not in board  # the simulated author references
    rows = json.loads(_run(filled, "rumours", "--json"))
    top = _water(rows)
    assert top["status"] == "watching" and top["spreading_since"]
    shown = _run(filled, "show", f"r{top['id']}")  # as the board shows it
    assert f"{top['post_count']} posts from {top['author_count']} distinct authors" in shown
    assert "per hour (posts, distinct authors)" in shown
    assert "fictional-" not in shown


def test_counter_message_moves_the_rumour_and_shows_before_and_after(
    filled: dict[str, str],
) -> None:
    rid = _water(json.loads(_run(filled, "rumours", "--json")))["id"]
    at = (T0 + timedelta(days=1, hours=16)).isoformat()
    out = _run(filled, "counter", str(rid), "--at", at, "--url", "https://council.example/x")
    assert f"linked to r{rid}" in out
    shown = _run(filled, "show", str(rid))
    assert "countering" in shown
    assert "not proof" in shown and "/h in the 6 h before" in shown
    rows = json.loads(_run(filled, "rumours", "--status", "countering", "--json"))
    assert [r["id"] for r in rows] == [rid]


def test_bad_input_is_refused_clearly(filled: dict[str, str]) -> None:
    runner = CliRunner()
    env = filled
    Path(env["MONITOR_CONFIG"]).write_text("", encoding="utf-8")
    no_tz = runner.invoke(cli, ["signals", "counter", "1", "--at", "2026-11-03T10:00"], env=env)
    assert no_tz.exit_code != 0 and "UTC offset" in no_tz.output
    script = runner.invoke(
        cli,
        ["signals", "counter", "1", "--at", "2026-11-03T10:00+00:00", "--url", "javascript:x()"],
        env=env,
    )
    assert script.exit_code != 0 and "must be an http:// or https:// address" in script.output
    ancient = runner.invoke(
        cli, ["signals", "counter", "1", "--at", "0026-11-03T10:00+00:00"], env=env
    )
    assert ancient.exit_code != 0 and "between 1970 and 2199" in ancient.output
    missing = runner.invoke(cli, ["signals", "show", "9999"], env=env)
    assert missing.exit_code != 0 and "no rumour r9999" in missing.output
    # The board shows ids as r17; the commands take them as shown, not only bare.
    as_shown = runner.invoke(cli, ["signals", "show", "r9999"], env=env)
    assert as_shown.exit_code == 1 and "no rumour r9999" in as_shown.output, as_shown.output
    for args in (
        ["signals", "show", str(2**63)],
        ["signals", "show", "0"],
        ["signals", "show", "x17"],
        ["signals", "rumours", "--limit", str(2**63)],
        ["alerts", "silence", "expire", "--by", "b", str(2**63)],
        ["audit", "verify", "--expect-head", "99999999999999999999:abcd"],
    ):
        huge = runner.invoke(cli, args, env=env)
        assert huge.exit_code == 2, (args, huge.output)  # a usage error, not a traceback
        assert "Invalid value" in huge.output, (args, huge.output)
    row = _water(json.loads(_run(filled, "rumours", "--json")))
    rid, status = row["id"], row["status"]
    same = runner.invoke(cli, ["signals", "status", str(rid), status], env=env)
    assert same.exit_code != 0 and f"already {status}" in same.output
    short = runner.invoke(cli, ["signals", "register", "mill"], env=env)
    assert short.exit_code != 0 and "at least 10 characters" in short.output


def test_register_then_confirm_a_held_post(
    tmp_path: Path, config: SignalsConfig, filled: dict[str, str]
) -> None:
    claim = "The tap water in Wibsey is contaminated and the water company is covering it up."
    out = _run(filled, "register", claim, "--by", "comms-officer")
    assert "registered" in out
    url = filled["MONITOR_DATABASE_URL"]
    posts = [
        item(
            VARIANTS[4].replace("Toller", "Wibsey"),
            T0 + timedelta(days=4),
            ward="Wibsey",
            author="w1",
            scores={},
        ),
        item(
            "Anyone else think the Wibsey tap water tastes funny lately?",
            T0 + timedelta(days=4) + minutes(1),
            ward="Wibsey",
            author="w2",
            scores={},
        ),
    ]

    async def take_up() -> int:
        engine = await make_store(url)
        try:
            stage = SignalsStage(config, embed=_embed, embedder="keyword-v1")
            await feed(engine, stage, posts)
            async with engine.connect() as conn:
                rid = (await conn.execute(select(rumour_claims.c.rumour_id))).scalar_one()
            return int(rid)
        finally:
            await engine.dispose()

    rid = asyncio.run(take_up())
    held = _run(filled, "pending", str(rid), "--purpose", "checking the water claim")
    ref = post_ref(posts[1].post.id)  # never the platform id: it names the author
    assert ref in held and posts[1].post.id not in held and "tastes funny" in held
    done = _run(filled, "confirm", str(rid), ref)
    assert "1 of 1 posts confirmed" in done

    async def audited() -> list[str]:
        engine = await make_store(url)
        try:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(select(audit_events.c.action, audit_events.c.purpose))
                ).all()
                assert not (await conn.execute(select(counter_messages))).all()
            return [f"{a}:{p}" for a, p in rows]
        finally:
            await engine.dispose()

    assert "view_pending_posts:checking the water claim" in asyncio.run(audited())


def test_post_text_cannot_drive_the_terminal() -> None:
    from monitor.signals.commands import safe

    hostile = "Share this \x1b]8;;http://x.example\x07now\x1b[2J\u202e!"
    shown = safe(hostile)
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert shown.startswith("Share this ?]8;;http://x.example?now?[2J?")
    assert safe("two\nlines") == "two\nlines"
