"""`monitor purge`, `monitor audit verify|head` and `monitor governance` as an operator uses
them; in particular, `audit verify` fails once any audit row has been edited or removed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from monitor.cli import cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    db = tmp_path / "m.db"
    monkeypatch.setenv("MONITOR_DATABASE_URL", f"sqlite+aiosqlite:///{db}")
    monkeypatch.setenv("MONITOR_HOME", str(ROOT))
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)

    invoke.db = db  # type: ignore[attr-defined]
    return invoke


def test_audit_verify_fails_after_a_row_is_edited_and_says_which(run) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        assert run("purge").exit_code == 0  # each purge writes a receipt
    ok = run("audit", "verify")
    assert ok.exit_code == 0 and "intact: 3 events" in ok.output
    with sqlite3.connect(run.db) as conn:
        conn.execute("UPDATE audit_events SET purpose = 'nothing to see' WHERE id = 2")
    bad = run("audit", "verify")
    assert bad.exit_code == 1
    assert "event 2: its hash does not match its contents (edited)" in bad.output


def test_audit_verify_with_a_noted_head_catches_deleted_newest_events(run) -> None:  # type: ignore[no-untyped-def]
    run("purge")
    run("purge")
    head = run("audit", "head").output.strip().splitlines()[-1]
    assert head.startswith("2:")
    run("purge")
    assert run("audit", "verify", "--expect-head", head).exit_code == 0
    with sqlite3.connect(run.db) as conn:
        conn.execute("DELETE FROM audit_events WHERE id >= 2")
    assert run("audit", "verify").exit_code == 0  # the chain alone cannot see a cut-off tail
    cut = run("audit", "verify", "--expect-head", head)
    assert cut.exit_code == 1 and "no longer in the log" in cut.output


def test_purge_dry_run_writes_no_receipt(run) -> None:  # type: ignore[no-untyped-def]
    out = run("purge", "--dry-run")
    assert out.exit_code == 0 and out.output.startswith("would purge: text of 0 posts")
    assert "intact: 0 events" in run("audit", "verify").output


def test_governance_approve_takes_only_listed_purposes_and_list_shows_it(run) -> None:  # type: ignore[no-untyped-def]
    refused = CliRunner().invoke(
        cli,
        ["governance", "approve", "pack:tension", "--owner", "Comms", "--by", "Head",
         "--purpose", "watch_protest"],
    )  # fmt: skip
    assert refused.exit_code == 2 and "watch_protest" in refused.output
    done = run(
        "governance", "approve", "pack:tension", "--owner", "Communities team",
        "--purpose", "community_tension", "--by", "Head of Communities", "--days", "30",
    )  # fmt: skip
    assert done.exit_code == 0 and "recorded in the audit log" in done.output
    listing = run("governance", "list").output
    nowhere = CliRunner().invoke(cli, ["governance", "list"], env={"MONITOR_HOME": "/nowhere"})
    assert nowhere.exit_code == 1 and "/nowhere" in nowhere.output  # one line, no traceback
    assert not isinstance(nowhere.exception, ValueError)
    assert "pack:tension             running" in listing
    assert "purpose community_tension" in listing and "approved by Head of Communities" in listing
    assert "pack:rumour              not yet registered" in listing
    purposes = run("governance", "purposes").output
    assert "lawful, peaceful protest" in purposes and "criticism of the council" in purposes


def test_erase_by_public_link_removes_the_text_and_is_audited(run) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from monitor.store import db as store_db
    from tests.privacy.helpers import NOW, make_post, store_posts

    post = make_post(7, "FICTIONERASE please take my post down")

    async def seed() -> None:
        engine = store_db.create_engine(f"sqlite+aiosqlite:///{run.db}")
        await store_db.upgrade(engine)
        await store_posts(engine, [post], alert=True, at=NOW)
        await engine.dispose()

    asyncio.run(seed())
    did, rkey = "did:plc:fictional0007", "7"
    done = run("erase", f"https://bsky.app/profile/{did}/post/{rkey}", "--reason", "request 42")
    assert done.exit_code == 0 and "1 found, text erased from 1" in done.output
    assert "purged" not in done.output
    again = run("erase", f"https://bsky.app/profile/{did}/post/{rkey}", "--reason", "request 42")
    assert "1 found, text erased from 0 (1 already purged)" in again.output
    with sqlite3.connect(run.db) as conn:
        assert conn.execute("SELECT text FROM posts").fetchone() == (None,)
        assert conn.execute("SELECT excerpt FROM alert_posts").fetchone() == (None,)
        assert conn.execute(
            "SELECT action, purpose FROM audit_events ORDER BY id DESC LIMIT 1"
        ).fetchone() == ("erase", "request 42")
    assert b"FICTIONERASE" not in run.db.read_bytes()
    missing = run("erase", "bluesky:at://nothing", "--reason", "request 43")
    assert "0 found, text erased from 0" in missing.output
    assert "purged" not in missing.output  # was "(the rest were already purged)" of none
