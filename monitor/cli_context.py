"""What every CLI command gets: the settings, loaded once from --config and MONITOR_*."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from monitor import audit
from monitor.config import ConfigError, Settings, load_settings


class Context:
    """What every sub-command gets: the settings, loaded once from --config and MONITOR_*."""

    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_path)
                audit.configure(self._settings)  # key this process's audit events
            except ConfigError as exc:
                raise click.ClickException(str(exc)) from None
            logging.basicConfig(
                level=self._settings.log_level.upper(),
                format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            )
            # Libraries' routine chatter (each migration step, each job added) is noise to a
            # user; their warnings still show.
            for name in ("alembic", "apscheduler"):
                logging.getLogger(name).setLevel(
                    max(logging.WARNING, logging.getLogger().getEffectiveLevel())
                )
        return self._settings


pass_context = click.make_pass_decorator(Context)
