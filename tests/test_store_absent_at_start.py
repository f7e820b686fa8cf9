"""A service started while its store cannot be reached (PostgreSQL not up yet at boot, a wrong
host) exits 1 with one line saying so, as `monitor db upgrade` does, for its supervisor to
start it again: not with a traceback of sixty lines ending in the driver's error.

Found by starting `monitor run` with its PostgreSQL stopped (brought up 20 s later): it exited
1 in 1.4 s, but what it said was asyncpg's and asyncio's stack, not which store it could not
open. Port 1 has no server behind it, so nothing here needs one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from tests.conftest import ROOT

UNREACHABLE = "postgresql+asyncpg://nobody:secret@127.0.0.1:1/none"


@pytest.mark.parametrize("command", ["run", "import"])
def test_a_runtime_command_whose_store_is_unreachable_says_so_in_one_line(
    tmp_path: Path, command: str
) -> None:
    posts = tmp_path / "posts.jsonl"
    posts.write_text("", encoding="utf-8")
    args = ["run"] if command == "run" else ["import", str(posts)]
    env = {
        "MONITOR_DATABASE_URL": UNREACHABLE,
        "MONITOR_HOME": str(ROOT),
        "MONITOR_CLASSIFIER": "keyword",
        "MONITOR_WEB_PORT": "1",  # never reached: the store is opened first
    }
    done = CliRunner().invoke(cli, args, env=env)
    assert done.exit_code == 1, done.output
    assert isinstance(done.exception, SystemExit), done.exception  # a message, not a traceback
    lines = [line for line in done.output.splitlines() if line.strip()]
    assert len(lines) == 1, done.output
    assert "cannot open the store (postgresql+asyncpg://nobody:****@127.0.0.1:1/none)" in lines[0]
    assert "secret" not in done.output  # the password is masked
