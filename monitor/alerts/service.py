"""The alerts service as the composition root starts it: the routing file (validated at start),
the pipeline stage that writes the outbox in the processing transaction, the dispatcher and the
digest scheduler. Started after the pipeline, stopped before it."""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor.alerts import chart, outbox
from monitor.alerts.config import AlertConfig, AlertConfigError, Integration, load_config
from monitor.alerts.digests import DigestService
from monitor.alerts.dispatcher import Dispatcher
from monitor.alerts.notifiers import Notifier, timeout_seconds
from monitor.alerts.notifiers.email import EmailNotifier
from monitor.alerts.notifiers.local import LocalNotifier
from monitor.alerts.notifiers.slack import SlackNotifier
from monitor.alerts.notifiers.teams import TeamsNotifier
from monitor.alerts.notifiers.webhook import WebhookNotifier
from monitor.alerts.render import check_templates, make_environment
from monitor.classify.disk_cache import EncodingEraser
from monitor.classify.languages import DEFAULT_COVERED
from monitor.config import ConfigError, Settings, alerts_routing_file
from monitor.demo.clock import ReplayClock
from monitor.safeguards.recheck import Rechecker
from monitor.types import Processed, utcnow

log = logging.getLogger(__name__)

TABLES = ("alert_routing", "notifications", "deliveries", "silences", "digest_runs", "mailbox")


def load_alert_config(
    settings: Settings, home: Path, environ: Mapping[str, str] | None = None
) -> AlertConfig:
    """The routing file, validated; a bad file stops start-up with every reason listed."""
    try:
        return load_config(alerts_routing_file(settings, home), environ)
    except AlertConfigError as exc:
        raise ConfigError("alerts routing file is not usable:\n" + str(exc)) from None


def build_notifiers(
    config: AlertConfig,
    engine: AsyncEngine,
    session: aiohttp.ClientSession,
    environ: Mapping[str, str],
) -> dict[tuple[str, str], Notifier]:
    out: dict[tuple[str, str], Notifier] = {}
    for receiver in config.receivers.values():
        for integ in receiver.integrations:
            if integ.missing_env(environ):
                continue
            out[(receiver.name, integ.label)] = make_notifier(integ, engine, session, environ)
    return out


def make_notifier(
    integ: Integration,
    engine: AsyncEngine,
    session: aiohttp.ClientSession,
    environ: Mapping[str, str],
) -> Notifier:
    values = integ.resolve(environ)
    timeout = timeout_seconds(values)
    if integ.channel == "local":
        return LocalNotifier(engine)
    if integ.channel == "email":
        return EmailNotifier(
            host=str(values["host"]),
            sender=str(values["from"]),
            port=int(values["port"]) if "port" in values else None,
            tls=str(values.get("tls", "starttls")),
            username=values.get("username"),
            password=values.get("password"),
            timeout=timeout_seconds(values, 30.0),
        )
    if integ.channel == "teams":
        return TeamsNotifier(session, str(values["url"]), timeout)
    if integ.channel == "slack":
        return SlackNotifier(session, str(values["url"]), timeout)
    return WebhookNotifier(session, str(values["url"]), values.get("secret"), timeout)


class AlertService:
    """Owns the stage, the dispatcher, the digest scheduler and the HTTP session they share.

    The stage works in every process that processes posts; `start`/`stop` run the dispatcher
    and the digest schedule, only where this process schedules (and may be called again each
    time it regains the lead)."""

    def __init__(
        self,
        engine: AsyncEngine,
        config: AlertConfig,
        home: Path,
        *,
        deliver: bool = True,
        public_url: str = "",
        boundaries: Sequence[str] = (),
        poll_seconds: float = 2.0,
        environ: Mapping[str, str] | None = None,
        min_count: int = 10,
    ) -> None:
        self.min_count = min_count  # small-count suppression in digests (privacy_min_count)
        # Scaled out, workers open alerts before the scheduler leader groups them into
        # incidents: alerts then wait for their incident before anyone is told.
        self.require_incident = False
        self.engine = engine
        self.config = config
        self.environ = dict(os.environ if environ is None else environ)
        templates = home / "alerts" / "templates"
        self.envs = make_environment(templates)
        for problem in check_templates(self.envs, templates):
            # Messages needing it fail and wait in the outbox, retried, until it is fixed.
            log.error("alert message template: %s", problem)
        self.deliver = deliver
        self.public_url = public_url
        self.poll_seconds = poll_seconds
        self.boundaries = chart.load_boundaries(boundaries) if boundaries else None
        self._tables: bool | None = None  # whether the store has the alert tables
        self.session: aiohttp.ClientSession | None = None
        self.dispatcher: Dispatcher | None = None
        self.digests: DigestService | None = None
        self.recheck: Rechecker | None = None  # set by the composition root
        # The classifier's on-disk encoding cache, when on (set by the composition root): the
        # dispatcher's send-time purge of deleted posts deletes their rows there too.
        self.encodings: EncodingEraser | None = None
        # The serving classifier's languages, for digests' "not scored" lines (set by the
        # composition root; None: it reads every language).
        self.covered_languages: Collection[str] | None = DEFAULT_COVERED
        # The demo's simulated clock: the dispatcher and digests run on it, and the replay
        # (not APScheduler on real time) sends each digest as its schedule is crossed.
        self.replay: ReplayClock | None = None

    @classmethod
    def from_settings(cls, settings: Settings, home: Path, engine: AsyncEngine) -> AlertService:
        config = load_alert_config(settings, home)
        for warning in config.warnings():
            log.warning("%s", warning)
        boundaries = [p.strip() for p in settings.alerts_boundaries.split(",") if p.strip()]
        for path in boundaries:
            if not Path(path).is_file():
                raise ConfigError(f"alerts_boundaries: {path} is not a file")
        return cls(
            engine,
            config,
            home,
            deliver=settings.alerts_deliver,
            public_url=settings.alerts_public_url,
            boundaries=boundaries,
            poll_seconds=settings.alerts_poll_seconds,
            min_count=settings.privacy_min_count,
        )

    # --- the pipeline stage -----------------------------------------------------------------

    async def __call__(
        self, conn: AsyncConnection, items: Sequence[Processed], now: datetime
    ) -> None:
        """Pipeline stage: route new and changed alerts into the outbox, in the caller's
        transaction (so the alert and its notifications commit together)."""
        if self._tables is None:
            self._tables = await conn.run_sync(_has_tables)
            if not self._tables:
                _log_missing()
        if self._tables:
            await outbox.route_changed_alerts(
                conn, self.config, now, self.environ, require_incident=self.require_incident
            )

    @property
    def enabled(self) -> bool:
        """Whether notifications are being written (the store has the alert tables)."""
        return bool(self._tables)

    @property
    def running(self) -> bool:
        """Whether this process is delivering notifications and running digests."""
        return self.dispatcher is not None

    def wake(self, _items: object = None) -> None:
        """After a batch commits (a pipeline listener): deliver now, not at the next poll."""
        if self.dispatcher is not None:
            self.dispatcher.wake()

    # --- start and stop ---------------------------------------------------------------------

    async def start(self) -> None:
        async with self.engine.connect() as conn:
            self._tables = await conn.run_sync(_has_tables)
        if not self._tables:
            _log_missing()
            return
        if not self.deliver or self.dispatcher is not None:
            return
        self.session = aiohttp.ClientSession()
        notifiers = build_notifiers(self.config, self.engine, self.session, self.environ)
        self.dispatcher = Dispatcher(
            self.engine,
            self.config,
            notifiers,
            self.envs,
            environ=self.environ,
            public_url=self.public_url,
            poll_seconds=self.poll_seconds,
            clock=self.replay or utcnow,
        )
        self.dispatcher.require_incident = self.require_incident
        self.dispatcher.recheck = self.recheck  # notifications re-check old posts, as digests do
        self.dispatcher.encodings = self.encodings
        self.digests = DigestService(
            self.engine,
            self.config,
            self.envs,
            environ=self.environ,
            public_url=self.public_url,
            boundaries=self.boundaries,
            on_enqueued=self.dispatcher.wake,
            min_count=self.min_count,
            recheck=self.recheck,
            clock=self.replay or utcnow,
        )
        self.digests.covered_languages = self.covered_languages
        await self.dispatcher.start()
        if self.replay is not None:
            self.digests.replay_from = self.replay.start
            return
        late = await self.digests.catch_up()
        if late:
            log.info("sent late digests missed while stopped: %s", ", ".join(late))
        self.digests.start()

    async def stop(self) -> None:
        if self.digests is not None:
            self.digests.stop()
        try:
            if self.dispatcher is not None:
                await self.dispatcher.stop()
        finally:  # the notifiers' session is closed even when the stop was cut short
            if self.session is not None:
                await self.session.close()
            self.session = self.dispatcher = self.digests = None


def _has_tables(sync_conn: Any) -> bool:
    return set(TABLES) <= set(inspect(sync_conn).get_table_names())


def _log_missing() -> None:
    log.error(
        "alert tables are missing (%s): run `monitor db upgrade`; alert notifications and "
        "digests are off until then",
        ", ".join(TABLES),
    )
