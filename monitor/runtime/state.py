"""The typed runtime: what a running service holds, and the key the web app keeps it under.

Kept apart from the composition root (`monitor/runtime/app.py`, which builds it) so that the
web's handlers read their runtime from here without importing everything the root starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.alerts.service import AlertService
from monitor.config import Settings
from monitor.demo.clock import ReplayClock
from monitor.ingest.places import PlaceMatcher
from monitor.runtime.health import ContainedStage
from monitor.runtime.leader import Leadership
from monitor.runtime.pipeline import Pipeline, RuleEvaluator, StopReport
from monitor.safeguards.governance import GovernanceGate
from monitor.safeguards.recheck import Rechecker
from monitor.types import Classifier


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
    alerts: AlertService | None = None
    role: str = "all"
    collectors: Any = None  # monitor.collectors.runner.CollectorSet when this role collects
    http: aiohttp.ClientSession | None = None
    places: PlaceMatcher | None = None  # the gazetteers ingest matches against
    governance: GovernanceGate | None = None  # which rule packs and gazetteers may run
    stop_report: StopReport | None = None  # what the pipeline's stop left undone
    leadership: Leadership | None = None  # where this role schedules (readiness reads it)
    # The stages that contain their own failures (signals, incidents), inline or followed:
    # readiness reads whether they are doing their work.
    stages: dict[str, ContainedStage] = field(default_factory=dict)
    recheck: Rechecker | None = None  # re-checks old posts on their platform before display
    # The demo's simulated "now" (monitor/demo/clock.py): pages show a replay banner with it.
    replay: ReplayClock | None = None


RUNTIME = web.AppKey("runtime", Runtime)
