"""Composition root: builds the store, HTTP session, classifier, rules, pipeline, alerts and
collectors in start order and tears them down in reverse. The web app, the CLI and the tests
all start from `open_runtime`.

Roles (`monitor run --role`): `all` runs everything in one process (the embedded default);
scaled out over PostgreSQL and a Redis stream, `collector` only collects, `worker` only
processes, `web` only serves, and `scheduler` runs digests, the outbox dispatcher and periodic
jobs (one leader at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.alerts.service import AlertService
from monitor.classify.disk_cache import EncodingEraser
from monitor.config import ConfigError, Settings, resolve_home
from monitor.demo.clock import ReplayClock
from monitor.runtime.leader import Leadership
from monitor.runtime.pipeline import Pipeline, RuleEvaluator
from monitor.runtime.queues import InProcessQueue, RedisSettings, RedisStreamQueue, WorkQueue
from monitor.runtime.state import Runtime
from monitor.safeguards import audit
from monitor.safeguards.recheck import Rechecker
from monitor.store import db
from monitor.store.sqlite_connections import stop_waiting_for_locks
from monitor.tasks import stop_task
from monitor.types import Classifier, utcnow

log = logging.getLogger(__name__)

ROLES = ("all", "collector", "worker", "web", "scheduler")
_PARTS = {
    "all": {"consume", "collect", "serve", "schedule"},
    "collector": {"collect"},
    "worker": {"consume"},
    "web": {"serve"},
    "scheduler": {"schedule"},
}


def role_parts(role: str) -> set[str]:
    if role not in _PARTS:
        raise ConfigError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    return set(_PARTS[role])


def make_queue(settings: Settings, engine: AsyncEngine, role: str) -> WorkQueue:
    """In-process unless `queue_url` names a Redis server; roles other than `all` need one."""
    if not settings.queue_url:
        if role != "all":
            raise ConfigError(
                f"role {role!r} needs a shared queue: set queue_url (e.g. redis://host:6379/0)"
            )
        return InProcessQueue(settings.queue_size)
    if not settings.queue_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"queue_url {settings.queue_url!r}: only redis:// URLs are supported")
    if engine.dialect.name == "sqlite" and role != "all":
        raise ConfigError("scaled-out roles share one database: use PostgreSQL, not SQLite")
    from monitor.store import posts as post_store

    async def save_cursor(source: str, kind: str, cursor: str) -> None:
        async with engine.begin() as conn:
            await post_store.save_cursor(conn, source, kind, cursor, utcnow())

    return RedisStreamQueue(
        RedisSettings(
            url=settings.queue_url,
            stream=settings.queue_stream,
            max_length=settings.queue_max_length,
            visibility_timeout=settings.queue_visibility_timeout_s,
        ),
        save_cursor=save_cursor,
    )


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    classifier: Classifier | None = None,
    rules: RuleEvaluator | None = None,
    migrate: bool = True,
    role: str = "all",
    sources: Sequence[Any] = (),
    replay: ReplayClock | None = None,
) -> AsyncIterator[Runtime]:
    """Start everything this role needs in dependency order; on exit drain and close in
    reverse. `classifier` and `rules` may be injected (tests use the keyword classifier);
    `sources` are the collectors' configs (`monitor.collectors.config.load_sources`);
    `replay` (the demo) is the simulated clock the pipeline, alerts and digests run on."""
    from monitor.incidents.stage import Chain, IncidentStage
    from monitor.ingest.service import KeyedIngestor
    from monitor.rules.service import load_rule_evaluator
    from monitor.runtime.metrics import make_registry
    from monitor.signals.follower import SignalsFollower, lead_together
    from monitor.signals.stage import SignalsStage

    unusable = db.sqlite_file_problem(settings.database_url)
    if unusable is not None:  # refused before opening: one line, as for any bad setting
        raise ConfigError(
            f"setting database_url: {db.cannot_open(settings.database_url, unusable)}"
        )
    parts = role_parts(role)
    home = resolve_home(settings)
    audit.configure(settings)  # before anything records an event
    async with contextlib.AsyncExitStack() as stack:
        engine = db.create_engine(settings.database_url)
        stack.push_async_callback(engine.dispose)
        if migrate:
            try:
                await db.upgrade(engine, post_key_secret=settings.secret("post_key"))
            except db.CONNECT_ERRORS as exc:
                # The first connection: a store that cannot be reached now (PostgreSQL not up
                # yet at boot) stops the start with one line, as `monitor db upgrade` says it,
                # for the supervisor to start it again; not with the driver's stack.
                raise ConfigError(db.cannot_open(settings.database_url, exc)) from None
        http = await stack.enter_async_context(
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        )
        if classifier is None:
            from monitor.classify import load_classifier

            clf = load_classifier(settings, home)
            stack.push_async_callback(clf.close)
        else:
            clf = classifier
        evaluator = rules if rules is not None else load_rule_evaluator(settings, home)
        # Alerts: the routing file is validated here; its stage writes the outbox inside the
        # pipeline's transaction. Its dispatcher and digests run only where this role
        # schedules, so they start before the pipeline and stop after it.
        alert_service = AlertService.from_settings(settings, home, engine)
        recheck = Rechecker.from_settings(settings, engine, http)
        alert_service.recheck = recheck  # digests with excerpts re-check their posts first
        # The classifier's on-disk encoding cache, when on: wherever the store drops a post's
        # text (a deletion, a re-check, a send-time check), the rows made from it go too.
        encodings = EncodingEraser.from_settings(settings)
        recheck.encodings = alert_service.encodings = encodings
        alert_service.covered_languages = getattr(clf, "covered_languages", None)
        queue = make_queue(settings, engine, role)
        stack.push_async_callback(queue.close)
        ingestor = KeyedIngestor.from_settings(settings, home, engine)
        # The post id key, made or checked now: a wrong post_key_env stops the start here
        # (PostKeyMismatch) rather than at the first post.
        await ingestor.ids()
        # Signals keep their state in memory, so one process runs them: inline in the one
        # process (`all`); scaled out, the scheduler leader follows the store instead.
        signals = SignalsStage.from_settings(settings, clf)
        # Incidents regroup the alerts after signals (and rules) opened them and before the
        # alert stage routes them, so notifications carry incident labels.
        incidents = IncidentStage.from_settings(settings, home)
        inline_signals = role == "all"
        alert_service.require_incident = not inline_signals
        if replay is not None:
            alert_service.replay = replay
        pipeline = Pipeline(
            engine,
            ingestor,
            clf,
            evaluator,
            queue=queue,
            # Signals first: the alerts they open are routed by the alert stage after them.
            stages=[signals, incidents, alert_service] if inline_signals else [alert_service],
            batch_size=settings.classifier_batch_size,
            max_wait=settings.classifier_max_wait_ms / 1000,
            max_backoff=settings.store_retry_max_s,
            max_restarts=settings.pipeline_max_restarts,
            clock=utcnow if replay is None else replay,
            encodings=encodings,
        )
        leadership = None
        if "schedule" in parts:
            pipeline.on_processed(alert_service.wake)
            follower = None
            if not inline_signals:
                follower = SignalsFollower.from_settings(
                    settings,
                    engine,
                    signals,
                    Chain(incidents, alert_service),
                    on_committed=alert_service.wake,
                )
            leadership = Leadership(engine, retry_max_s=settings.store_retry_max_s)
            leading = asyncio.create_task(
                leadership.run(*lead_together(alert_service, follower)), name="leadership"
            )
            stack.push_async_callback(stop_task, leading)
        # Safeguards: governance gates rules and places; retention purges where schedules run.
        # A replay's purge judges the posts' age on the replayed week's clock: on today's, a
        # purge firing mid-replay (a minute in, so only on a slow run) erased the text of
        # every replayed post older than retention_days before incidents read it, and the
        # demo's gathering lost its "Friday 19:00".
        from monitor.safeguards.service import start_safeguards

        governance = await start_safeguards(
            settings,
            home,
            engine,
            evaluator,
            ingestor,
            stack,
            schedule="schedule" in parts,
            clock=utcnow if replay is None else replay,
        )
        await pipeline.start(consume="consume" in parts)
        registry = make_registry(pipeline, recheck, leadership)
        runtime = Runtime(
            settings=settings,
            home=home,
            engine=engine,
            classifier=clf,
            rules=evaluator,
            pipeline=pipeline,
            metrics=registry,
            alerts=alert_service,
            role=role,
            http=http,
            places=ingestor.ingestor.places,
            governance=governance,
            leadership=leadership,
            replay=replay,
            # Where they run here: inline in one process, followed in the scheduler leader.
            stages={"signals": signals, "incidents": incidents}
            if inline_signals or "schedule" in parts
            else {},
        )

        async def stop_pipeline() -> None:
            # An embedded process finishes what it took before it stops, for a bounded time;
            # the report says what was left (the stop message prints it).
            runtime.stop_report = await pipeline.stop(
                drain=role == "all", timeout=settings.shutdown_drain_s
            )

        # Once the pipeline has stopped (its drain is the stop's one wait for work in hand),
        # nothing the stop still does waits for a lock another process holds, past a grace.
        stack.callback(stop_waiting_for_locks, engine)
        stack.push_async_callback(stop_pipeline)
        if "collect" in parts and sources:
            runtime.collectors = await _start_collectors(runtime, sources, stack)
        yield runtime


async def _start_collectors(
    rt: Runtime, sources: Sequence[Any], stack: contextlib.AsyncExitStack
) -> Any:
    from monitor.collectors.runner import CollectorSet
    from monitor.store.sources import record_health

    assert rt.http is not None
    matcher = rt.places
    assert matcher is not None
    collectors = CollectorSet.build(
        sources,
        rt.http,
        rt.pipeline,
        rt.metrics,
        place_filter=lambda text: bool(matcher.match(text)),
    )

    async def report(snapshots: list[dict[str, Any]]) -> None:
        async with rt.engine.begin() as conn:
            await record_health(conn, snapshots)

    collectors.start(report=report)
    stack.push_async_callback(collectors.stop)
    return collectors
