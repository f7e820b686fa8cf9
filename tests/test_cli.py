"""The `monitor` command: areas register their own commands, loaded only when wanted, and one
rule for opening the store."""

from __future__ import annotations

import gc
import inspect
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from monitor.cli import COMMANDS, RESUME_GC_WHEN_STARTED, LazyGroup, cli, main

ROOT = Path(__file__).resolve().parent.parent


def test_each_summary_is_the_first_paragraph_of_its_commands_help() -> None:
    ctx = click.Context(cli)
    for name, lazy in COMMANDS.items():
        command = cli.get_command(ctx, name)
        assert command is not None, name
        first = inspect.cleandoc(command.help or "").split("\n\n")[0].replace("\n", " ")
        assert lazy.summary == first, f"{name}: the summary in monitor/cli/__init__.py differs"


def test_help_imports_no_area_and_no_heavy_library() -> None:
    probe = (
        "import sys\n"
        "from monitor.cli import cli\n"
        "try:\n    cli(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('monitor')))\n"
        "print([m for m in ('sqlalchemy', 'aiohttp', 'numpy', 'pydantic', 'yaml', 'asyncio')"
        " if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.splitlines()
    assert out[-2] == "['monitor', 'monitor.cli', 'monitor.cli.context']"
    assert out[-1] == "[]"
    assert "governance  Who owns each monitored topic" in "\n".join(out)


def test_a_command_runs_with_the_garbage_collector_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # main() pauses the collector while a command's modules load; the command itself (a
    # `monitor run` lasting weeks) must run with it on, or cyclic garbage would pile up.
    seen: list[tuple[bool, int]] = []

    @click.command("gc-probe")
    def probe() -> None:
        seen.append((gc.isenabled(), gc.get_freeze_count()))

    cli.add_command(probe)
    frozen_before = gc.get_freeze_count()
    try:
        assert CliRunner().invoke(cli, ["gc-probe"]).exit_code == 0
        monkeypatch.setattr(sys, "argv", ["monitor", "gc-probe"])
        with pytest.raises(SystemExit) as stopped:
            main()
        assert stopped.value.code == 0
    finally:
        del cli.commands["gc-probe"]
        gc.unfreeze()
        gc.enable()
    # In-process (CliRunner) the collector is left as it was; run by main(), what the start
    # built is frozen and the collector is back on before the command runs.
    assert seen[0] == (True, frozen_before)
    assert seen[1][0] is True and seen[1][1] > frozen_before


def test_a_command_that_starts_a_runtime_runs_it_with_the_collector_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # `run`, `import` and `demo` keep the collector paused until their runtime is up (what it
    # loads is long-lived too); what they then do must run with it on, and the runtime's
    # objects frozen. `import` is the short one: its import_file is where the work starts.
    import monitor.cli.service as service
    from monitor.ingest.importer import ImportReport

    assert {"run", "import", "demo"} == RESUME_GC_WHEN_STARTED
    seen: list[tuple[bool, int]] = []

    async def import_file(*_args: object, **_kwargs: object) -> ImportReport:
        seen.append((gc.isenabled(), gc.get_freeze_count()))
        return ImportReport()

    monkeypatch.setattr(service, "import_file", import_file)
    monkeypatch.setenv("MONITOR_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")
    monkeypatch.setenv("MONITOR_CLASSIFIER", "keyword")
    monkeypatch.setenv("MONITOR_HOME", str(ROOT))
    data = tmp_path / "none.jsonl"  # never read: import_file is replaced
    data.write_text("")
    monkeypatch.setattr(sys, "argv", ["monitor", "import", str(data)])
    frozen_before = gc.get_freeze_count()
    try:
        with pytest.raises(SystemExit) as stopped:
            main()
    finally:
        gc.unfreeze()
        gc.enable()
    assert stopped.value.code == 0
    assert len(seen) == 1
    enabled, frozen = seen[0]
    assert enabled is True and frozen > frozen_before


def test_eval_events_is_there_whichever_area_loaded_first() -> None:
    group = LazyGroup("monitor", lazy=COMMANDS)
    ctx = click.Context(group)
    assert group.get_command(ctx, "signals") is not None  # signals first: no eval yet
    scoring = group.get_command(ctx, "eval")
    assert isinstance(scoring, click.Group) and "events" in scoring.commands


@pytest.mark.parametrize(
    "args",
    [("audit", "verify"), ("governance", "list"), ("quarantine", "list"), ("users", "list")],
)
def test_a_reading_command_never_creates_a_store(tmp_path: Path, args: tuple[str, ...]) -> None:
    db = tmp_path / "typo.db"
    env = {"MONITOR_DATABASE_URL": f"sqlite+aiosqlite:///{db}", "MONITOR_HOME": str(ROOT)}
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 1
    assert f"no store at {db} yet: run `monitor db upgrade`" in result.output
    assert not db.exists()


def test_a_reading_command_names_the_tables_it_lacks(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "old.db"
    sqlite3.connect(db).close()  # a store file with none of this version's tables
    env = {"MONITOR_DATABASE_URL": f"sqlite+aiosqlite:///{db}", "MONITOR_HOME": str(ROOT)}
    result = CliRunner().invoke(cli, ["audit", "verify"], env=env)
    assert result.exit_code == 1
    assert "has no audit tables (audit_events): run `monitor db upgrade`" in result.output


def test_a_writing_command_brings_the_schema_up_first(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    env = {"MONITOR_DATABASE_URL": f"sqlite+aiosqlite:///{db}", "MONITOR_HOME": str(ROOT)}
    runner = CliRunner()
    assert runner.invoke(cli, ["purge"], env=env).exit_code == 0
    verified = runner.invoke(cli, ["audit", "verify"], env=env)
    assert verified.exit_code == 0 and "intact: 1 events" in verified.output


def test_a_port_in_use_stops_run_with_one_line_naming_the_setting(tmp_path: Path) -> None:
    """A second demo, or anything else on 8080, was a 40-line OSError traceback."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            "MONITOR_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'm.db'}",
            "MONITOR_HOME": str(ROOT),
            "MONITOR_CLASSIFIER": "keyword",
            "MONITOR_WEB_PORT": str(port),
            "MONITOR_RETENTION_PURGE_MINUTES": "0",
        }
        result = CliRunner().invoke(cli, ["run"], env=env)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert (
        f"Error: cannot listen on 127.0.0.1:{port} (web_port): address already in use; "
        "another process is using it: stop it, or set web_port (MONITOR_WEB_PORT)"
    ) in result.output


def test_an_address_not_of_this_host_names_the_host_setting() -> None:
    import errno

    from monitor.runtime.probes import cannot_listen

    exc = OSError(errno.EADDRNOTAVAIL, "error while attempting to bind on address ...")
    assert cannot_listen("10.9.9.9", 9102, "worker_port", exc, "health_host") == (
        "cannot listen on 10.9.9.9:9102 (worker_port): cannot assign requested address; "
        "check that health_host (MONITOR_HEALTH_HOST) is an address of this host"
    )


def test_every_option_of_every_command_says_what_it_does() -> None:
    """`monitor demo --help` listed `--scenario FILE` with nothing after it, and 20 more."""
    bare: list[str] = []

    def walk(command: click.Command, name: str, ctx: click.Context) -> None:
        bare.extend(
            f"{name} {p.opts[0]}"
            for p in command.params
            if isinstance(p, click.Option) and not p.help and p.name != "help"
        )
        if isinstance(command, click.Group):
            for sub in command.list_commands(ctx):
                child = command.get_command(ctx, sub)
                assert child is not None
                walk(child, f"{name} {sub}", click.Context(child, parent=ctx))

    walk(cli, "monitor", click.Context(cli))
    assert not bare, bare
