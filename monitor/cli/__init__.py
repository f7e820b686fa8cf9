"""The `monitor` command: one click group; each area registers its own sub-commands.

An area's commands live with the area (`monitor/rules/commands.py`, `monitor/alerts/commands.py`
...; the core, safeguard and quarantine commands in this package) and are added by that module's
`register(cli)`, as datasette's plugins do with `register_commands`. The group imports a module
only when one of its commands is run or asked for help: `monitor --help` lists every command from
the one-line summaries below (a test keeps them equal to the commands' own help) without
importing the store, the web, the classifier or the collectors.
"""

from __future__ import annotations

import gc
import importlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import click

from monitor import __version__
from monitor.cli.context import Context, pass_context

__all__ = ["COMMANDS", "Context", "LazyGroup", "cli", "main", "pass_context", "resume_gc"]


@dataclass(frozen=True, slots=True)
class Lazy:
    """Where a top-level command comes from, and the first paragraph of its help."""

    modules: tuple[str, ...]
    summary: str


_CORE = ("monitor.cli.service",)
_SAFEGUARDS = ("monitor.cli.safeguards",)
_CLASSIFY = ("monitor.classify.commands",)
_ALERTS = ("monitor.alerts.commands",)

# Each command's modules are imported in order and their `register(cli)` called; `eval` gets the
# classifier's scoring and, inside it, the signals' `eval events`.
COMMANDS: Mapping[str, Lazy] = {
    "alerts": Lazy(_ALERTS, "Alert routing, silences and the notification outbox."),
    "audit": Lazy(_SAFEGUARDS, "Check the append-only, hash-chained audit log."),
    "classify": Lazy(
        _CLASSIFY, "Score posts read one per line on stdin; write one JSON object per line."
    ),
    "config": Lazy(_CORE, "Inspect the settings."),
    "db": Lazy(_CORE, "Manage the store's schema."),
    "demo": Lazy(
        _CORE, "Replay the bundled fictional Bradford scenario through the real pipeline."
    ),
    "digest": Lazy(_ALERTS, "Scheduled digests: list, preview without sending, or send now."),
    "erase": Lazy(
        _SAFEGUARDS,
        "Delete the text of POSTS everywhere it is kept (as a platform deletion is), e.g. for an "
        "erasure request. POSTS are stored ids or the posts' links.",
    ),
    "eval": Lazy(
        (*_CLASSIFY, "monitor.signals.commands"),
        "Score the shipped heads: TweetEval, PHEME, RumourEval, the identity-group bias suite, "
        "and the fairness (per-group subgroup/BPSN/BNSP AUC and FPR against the rest), "
        "functional, obfuscation, emoji and language suites. `monitor eval events` scores the "
        "signals on labelled streams instead.",
    ),
    "governance": Lazy(
        _SAFEGUARDS, "Who owns each monitored topic and place, for what purpose, until when."
    ),
    "import": Lazy(_CORE, "Import posts from JSONL or CSV files (see docs/import-format.md)."),
    "purge": Lazy(
        _SAFEGUARDS, "Purge post text and alert excerpts past their retention periods now."
    ),
    "quarantine": Lazy(
        ("monitor.cli.quarantine",),
        "Records that failed a pipeline stage on their own: list them, retry them.",
    ),
    "rules": Lazy(
        ("monitor.rules.commands",),
        "Rule packs: check them, run their examples, explain what fires on a post.",
    ),
    "run": Lazy(
        _CORE, "Run the service until stopped: collectors, pipeline, alerts and the web UI."
    ),
    "signals": Lazy(("monitor.signals.commands",), "Tension levels per area and the rumour board."),
    "sources": Lazy(
        ("monitor.collectors.commands",),
        "The configured sources and how each one is doing (from the store).",
    ),
    "train": Lazy(
        _CLASSIFY,
        "Train the classifier heads on frozen encoder features (and with --lora the encoder's "
        "adapters and the offensive branch) and write the model folder.",
    ),
    "users": Lazy(
        ("monitor.web.commands",),
        "Local accounts for the web UI (argon2 hashes; no default passwords).",
    ),
}


class LazyGroup(click.Group):
    """A group whose commands are registered by their modules when first wanted."""

    def __init__(self, *args: object, lazy: Mapping[str, Lazy], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self.lazy))

    def get_command(self, ctx: click.Context | None, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            self.load(cmd_name)
        return self.commands.get(cmd_name)

    def load(self, name: str) -> None:
        """Import the modules behind `name` and let each register its commands (again: adding
        the same command twice is harmless, and `eval events` needs `eval` there first)."""
        for module in self.lazy[name].modules:
            register = importlib.import_module(module).register
            register(self)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click's, but a command not imported yet is described by its summary."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            command = self.commands.get(name)
            if command is None:
                # Shortened as click shortens a command's own help.
                summary = click.Command(name, help=self.lazy[name].summary)
                rows.append((name, summary.get_short_help_str(limit)))
            elif not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, lazy=COMMANDS)
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
    if ctx.invoked_subcommand not in RESUME_GC_WHEN_STARTED:
        resume_gc()
    ctx.obj = Context(config_path)


# Whether main() paused the cyclic garbage collector for the start (see main).
_gc_paused = False

# Commands that start a runtime and call resume_gc() themselves once it is up: the modules a
# runtime imports as it starts (the rules, signals, incidents, the web UI and its templates)
# and the packs and gazetteers it parses are as long-lived as the command's own modules, and
# the collector walked them some 230 times while they were made (about 40-80 ms of a
# `monitor run` start's CPU); frozen with the rest once the runtime is up, they are never
# walked again.
RESUME_GC_WHEN_STARTED = frozenset({"run", "import", "demo"})


def resume_gc() -> None:
    """Once the command's modules are loaded (click resolves the command, importing them,
    before it calls the group), or for the commands in RESUME_GC_WHEN_STARTED once their
    runtime has started: freeze what was built and turn the collector back on. Does nothing
    when main() did not pause it (a command invoked in-process) or it was resumed already."""
    global _gc_paused
    if _gc_paused:
        _gc_paused = False
        gc.freeze()
        gc.enable()


def main() -> None:
    # Loading a command imports up to 1,100 modules, whose ~300,000 objects live as long as the
    # process; the cyclic collector walked them over and over while they were made (about a
    # tenth of a `monitor run` start's CPU) and again at every full collection after. So it is
    # off while they load, and what they built is then frozen (gc.freeze): never scanned again
    # (reference counting still frees what is dropped; only a cycle among these objects that
    # becomes garbage later is kept). Only here, in a process of its own: a command invoked
    # in-process (tests, CliRunner) leaves the collector alone.
    for arg in (a for a in sys.argv[1:] if not a.isascii()):  # `--help` imports no more
        from monitor.types import is_utf8

        if not is_utf8(arg):
            # Bytes that are not UTF-8 reach Python as surrogates, which no store or hash can
            # take: refuse them here, naming the argument, not as a traceback from the store.
            shown = arg.encode("utf-8", "replace").decode("utf-8")[:80]
            click.echo(f"Error: argument {shown!r} is not UTF-8 text", err=True)
            sys.exit(2)
    global _gc_paused
    gc.disable()
    _gc_paused = True
    try:
        cli()
    finally:
        # A command that ends before its runtime is up (`monitor run --help`, a bad setting)
        # is frozen too: the collection at interpreter exit skips what is frozen, and would
        # otherwise walk everything loaded (about 0.2 s).
        resume_gc()
