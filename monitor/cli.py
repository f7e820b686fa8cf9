"""The `monitor` command: one click group; each area registers its own sub-commands below."""

from __future__ import annotations

from pathlib import Path

import click

from monitor import __version__
from monitor.cli_context import Context, pass_context

__all__ = ["Context", "cli", "main", "pass_context"]


@click.group()
@click.version_option(__version__, prog_name="monitor")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Settings file (TOML). Default: $MONITOR_CONFIG, else ./monitor.toml if present.",
)
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """Community tension monitor: rumours and rising tension in named places, for councils."""
    ctx.obj = Context(config_path)


def main() -> None:
    cli()


# --- sub-commands: each area adds one import and one add_command line here -------------------
from monitor.service_commands import (  # noqa: E402
    config_group,
    db_group,
    demo_command,
    import_command,
    run_command,
)

for _command in (config_group, db_group, import_command, demo_command, run_command):
    cli.add_command(_command)
from monitor.rules.commands import rules_group  # noqa: E402

cli.add_command(rules_group)
from monitor.collectors.commands import sources as sources_group  # noqa: E402

cli.add_command(sources_group)
from monitor.alerts.commands import alerts_group, digest_group  # noqa: E402

cli.add_command(alerts_group)
cli.add_command(digest_group)
from monitor.signals.commands import signals_group  # noqa: E402

cli.add_command(signals_group)
from monitor.safeguard_commands import COMMANDS as _safeguards  # noqa: E402

for _command in _safeguards:
    cli.add_command(_command)
from monitor.web.commands import users_group  # noqa: E402

cli.add_command(users_group)
from monitor.classify.commands import COMMANDS as _classify_commands  # noqa: E402

for _command in _classify_commands:
    cli.add_command(_command)
from monitor.quarantine_commands import quarantine_group  # noqa: E402

cli.add_command(quarantine_group)
from monitor.signals.commands import events_command as _events  # noqa: E402

# `monitor eval` scores the classifier; `monitor eval events` scores the signals on streams.
_eval_group = cli.commands["eval"]
assert isinstance(_eval_group, click.Group)
_eval_group.add_command(_events)
