"""Start the safeguards inside a running service: the governance gate on rules and places, its
refresh, the audit of edits to rule and routing files, and the scheduled retention purge.
Called once by the composition root."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.classify.disk_cache import EncodingEraser
from monitor.config import Settings
from monitor.safeguards import audit, config_audit, retention
from monitor.safeguards.governance import GovernanceGate, rules_packs, subjects_for
from monitor.safeguards.retention import Clock
from monitor.types import utcnow

log = logging.getLogger(__name__)

GOVERNANCE_REFRESH_SECONDS = 60.0
# The first purge waits a minute after start-up, so a short command (an import, a test) does
# not purge and a restart loop does not purge in a loop; `monitor purge` runs one at once.
FIRST_PURGE_AFTER_SECONDS = 60.0


async def start_safeguards(
    settings: Settings,
    home: Path,
    engine: AsyncEngine,
    rules: Any,
    ingestor: Any,
    stack: contextlib.AsyncExitStack,
    *,
    schedule: bool,
    clock: Clock = utcnow,
) -> GovernanceGate:
    """Load the governance register (registering new subjects), gate the rule service and
    ingest with it, refresh it every minute, and — where this role runs schedules — purge
    every `retention_purge_minutes`. Everything stops when `stack` closes."""
    gate = GovernanceGate()

    def subjects() -> list[Any]:
        return subjects_for(settings, rules_packs(rules))

    async def refresh(now: datetime) -> None:
        await gate.refresh(engine, subjects(), now, settings.governance_review_days)
        async with engine.begin() as conn:  # rule, place and routing edits, in the audit log
            await config_audit.record_changes(conn, config_audit.watched_files(settings, home), now)

    await refresh(clock())
    if hasattr(rules, "gate"):
        rules.gate = gate.ruleset_for
    if hasattr(ingestor, "place_gate"):
        ingestor.place_gate = gate.places
    await stack.enter_async_context(
        retention.periodic(
            "governance-refresh",
            GOVERNANCE_REFRESH_SECONDS,
            refresh,
            clock,
            first_after=GOVERNANCE_REFRESH_SECONDS,
        )
    )
    if schedule and settings.audit_head_file:
        head_file = Path(settings.audit_head_file).expanduser()

        async def export(now: datetime) -> None:
            async with engine.connect() as conn:
                await audit.export_job_head(conn, head_file, now)

        await stack.enter_async_context(
            retention.periodic(
                "audit-head-export", settings.audit_head_minutes * 60.0, export, clock
            )
        )
    elif schedule:
        log.warning(
            "audit_head_file is not set: deleting the newest audit events would not be detected"
        )
    if schedule and settings.retention_purge_minutes > 0:
        every = settings.retention_purge_minutes * 60.0
        await stack.enter_async_context(
            retention.periodic(
                "retention-purge",
                every,
                retention.purge_job(
                    engine,
                    retention.Policy.from_settings(settings),
                    EncodingEraser.from_settings(settings),
                ),
                clock,
                first_after=min(FIRST_PURGE_AFTER_SECONDS, every),
            )
        )
    elif schedule:
        # Not an error (cron may run `monitor purge`), but a deployment that set 0 and forgot
        # the cron job keeps every post's text for ever: say so at every start.
        log.warning(
            "retention_purge_minutes is 0: this service never purges expired post text; "
            "run `monitor purge` from cron (the last purge's age is in /metrics)"
        )
    return gate
