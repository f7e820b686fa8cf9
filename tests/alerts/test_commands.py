"""`monitor alerts silence add/list/expire` and `monitor alerts status` as a person uses them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import select

from monitor.cli import cli
from monitor.store.tables import audit_events

from .conftest import ROOT, make_store


async def invoke(env: dict[str, str], *args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)


async def test_silences_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    engine = await make_store(url)
    env = {"MONITOR_HOME": str(ROOT), "MONITOR_DATABASE_URL": url}
    try:
        endless = await invoke(
            env,
            "alerts",
            "silence",
            "add",
            "--match",
            "area=Toller",
            "--by",
            "analyst-1",
            "--reason",
            "known council event",
        )
        assert endless.exit_code == 2 and "a silence must end" in endless.output
        vague = await invoke(
            env,
            "alerts",
            "silence",
            "add",
            "--match",
            "area=Toller",
            "--by",
            "analyst-1",
            "--reason",
            "x",
            "--duration",
            "2h",
        )
        assert vague.exit_code == 1 and "state the reason" in vague.output
        personal = await invoke(
            env,
            "alerts",
            "silence",
            "add",
            "--match",
            "author=someone",
            "--by",
            "analyst-1",
            "--reason",
            "should never be possible",
            "--duration",
            "2h",
        )
        assert personal.exit_code == 1 and "never on an author" in personal.output
        added = await invoke(
            env,
            "alerts",
            "silence",
            "add",
            "--match",
            "area=Toller",
            "--match",
            'kind=~"rumour.*"',
            "--by",
            "analyst-1",
            "--reason",
            "known council event, comms aware",
            "--duration",
            "2h",
        )
        assert added.exit_code == 0, added.output
        assert added.output.startswith("silence 1 until ")
        listed = await invoke(env, "alerts", "silence", "list")
        assert 'area="Toller" kind=~"rumour.*"' in listed.output
        assert "active" in listed.output and "known council event" in listed.output
        expired = await invoke(env, "alerts", "silence", "expire", "1", "--by", "analyst-2")
        assert expired.exit_code == 0, expired.output
        assert (await invoke(env, "alerts", "silence", "list")).output.strip() == "no silences"
        assert "expired" in (await invoke(env, "alerts", "silence", "list", "--all")).output
        again = await invoke(env, "alerts", "silence", "expire", "1", "--by", "analyst-2")
        assert again.exit_code == 1 and "no active silence 1" in again.output
        async with engine.connect() as conn:
            actions = (await conn.execute(select(audit_events.c.action))).scalars().all()
        assert actions == ["silence.add", "silence.expire"]
        status = await invoke(env, "alerts", "status")
        assert status.exit_code == 0 and "the outbox is empty" in status.output
    finally:
        await engine.dispose()


async def test_commands_needing_the_store_say_how_to_make_it(tmp_path: Path) -> None:
    env = {
        "MONITOR_HOME": str(ROOT),
        "MONITOR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/new.db",
    }
    result = await invoke(env, "alerts", "status")
    assert result.exit_code == 1 and "run `monitor db upgrade`" in result.output
