"""Composition root: builds the store, classifier, rules and pipeline in start order and tears
them down in reverse. The web app, the CLI and the tests all start from `open_runtime`."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from jinja2 import Environment
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.alerts.service import AlertService
from monitor.config import Settings, resolve_home
from monitor.pipeline import Pipeline, RuleEvaluator
from monitor.store import db
from monitor.types import Classifier

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a running service holds; handlers and jobs reach it through `RUNTIME`."""

    settings: Settings
    home: Path
    engine: AsyncEngine
    classifier: Classifier
    rules: RuleEvaluator
    pipeline: Pipeline
    metrics: CollectorRegistry
    templates: Environment
    alerts: AlertService | None = None


RUNTIME = web.AppKey("runtime", Runtime)


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    classifier: Classifier | None = None,
    rules: RuleEvaluator | None = None,
    migrate: bool = True,
) -> AsyncIterator[Runtime]:
    """Start everything in dependency order; on exit drain the pipeline and close in reverse.

    `classifier` and `rules` may be injected (tests use the keyword classifier); otherwise
    they are loaded as the settings say.
    """
    from monitor.ingest_service import KeyedIngestor
    from monitor.rules.service import load_rule_evaluator
    from monitor.web.metrics import make_registry
    from monitor.web.render import make_environment

    home = resolve_home(settings)
    engine = db.create_engine(settings.database_url)
    try:
        if migrate:
            await db.upgrade(engine)
        ingestor = KeyedIngestor.from_settings(settings, home, engine)
        if classifier is None:
            from monitor.classify import load_classifier

            clf = load_classifier(settings, home)
        else:
            clf = classifier
        try:
            evaluator = rules if rules is not None else load_rule_evaluator(settings, home)
            # Alerts: the routing file is validated here; its stage writes the outbox inside
            # the pipeline's transaction, so it starts before the pipeline and stops after it.
            alert_service = AlertService.from_settings(settings, home, engine)
            pipeline = Pipeline(
                engine,
                ingestor,
                clf,
                evaluator,
                stages=[alert_service],
                queue_size=settings.queue_size,
                batch_size=settings.classifier_batch_size,
                max_wait=settings.classifier_max_wait_ms / 1000,
            )
            pipeline.on_processed(alert_service.wake)
            await alert_service.start()
            try:
                await pipeline.start()
                try:
                    yield Runtime(
                        settings=settings,
                        home=home,
                        engine=engine,
                        classifier=clf,
                        rules=evaluator,
                        pipeline=pipeline,
                        metrics=make_registry(pipeline),
                        templates=make_environment(),
                        alerts=alert_service,
                    )
                finally:
                    await pipeline.stop()
            finally:
                await alert_service.stop()
        finally:
            if classifier is None:
                await clf.close()
    finally:
        await engine.dispose()
