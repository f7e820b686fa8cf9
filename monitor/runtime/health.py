"""Liveness and readiness: what `/healthz` and `/readyz` answer, told truthfully.

Alive (`/healthz`): the process answers and its pipeline has not failed for good; a supervisor
restarts it when not. Ready (`/readyz`): the store takes a write now (a probe row is written, so
a read-only SQLite file or a PostgreSQL server in recovery is caught, which a read would not
catch), every stage this process runs is alive, and the worker is keeping up: it is not backing
off from an unavailable store, and while posts wait a batch was processed within
`ready_max_batch_age_s`. Each failing check gives a reason.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.runtime.faults import describe
from monitor.runtime.metrics import measure_queue
from monitor.runtime.pipeline import Pipeline
from monitor.store.db import dialect_insert
from monitor.store.tables import health_probes

PROBE_TIMEOUT_S = 3.0
# Times in a row a part that contains its own failures (signals and incidents on a batch, the
# alert dispatcher on a round) may fail before readiness says so: the next batch or round
# retries after one failure, but a run of them is a part that no longer works while the rest
# goes on (each failure only logged).
STAGE_FAILING_AFTER = 3
PROBE_NAME = f"{socket.gethostname()}-{os.getpid()}"[:200]


@dataclass
class Readiness:
    ready: bool
    reasons: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "not ready",
            "reasons": self.reasons,
            **self.checks,
        }


async def probe_store(engine: AsyncEngine, now: datetime | None = None) -> str | None:
    """Write this process's probe row; None when the store took it, else why not."""
    now = now or datetime.now(UTC)
    stmt = dialect_insert(engine, health_probes).values(name=PROBE_NAME, written_at=now)
    stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={"written_at": now})
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_S):
            async with engine.begin() as conn:
                await conn.execute(stmt)
    except TimeoutError:
        return f"store write probe timed out after {PROBE_TIMEOUT_S:.0f}s"
    except Exception as exc:  # the probe must answer, not crash
        return f"store not writable: {describe(exc)}"
    return None


def alive(pipeline: Pipeline) -> tuple[bool, dict[str, Any]]:
    body: dict[str, Any] = {"worker": pipeline.health.state}
    if pipeline.failure is not None:
        body["error"] = describe(pipeline.failure)
        return False, body
    return True, body


def worker_checks(
    pipeline: Pipeline, max_batch_age_s: float, now: float | None = None, depth: int = -1
) -> Readiness:
    """The pipeline's part of readiness (pure: no I/O). `depth`: the queue's depth as read
    from the queue itself (-1: unknown, the depth this process last saw is used)."""
    now = time.monotonic() if now is None else now
    h = pipeline.health
    out = Readiness(True)
    depth = depth if depth >= 0 else pipeline.queue_depth
    age = None if h.last_batch_at is None else round(now - h.last_batch_at, 1)
    out.checks.update(
        worker=h.state,
        queue_depth=depth,
        last_batch_age_s=age,
        worker_restarts=pipeline.stats.worker_restarts,
        quarantined_since_start=pipeline.stats.quarantined,
    )
    if not h.consuming:
        return out
    if h.state in {"failed", "restarting"}:
        out.reasons.append(f"pipeline worker {h.state}: {h.last_error}")
    if h.store_error is not None:
        since = h.store_error_since or now
        out.reasons.append(
            f"store unavailable for {now - since:.0f}s, retrying (posts kept): {h.store_error}"
        )
    started = pipeline.stats.started
    idle_for = now - (h.last_batch_at if h.last_batch_at is not None else started)
    if depth > 0 and idle_for > max_batch_age_s:
        out.reasons.append(
            f"{depth} posts waiting and no batch processed for {idle_for:.0f}s "
            f"(over {max_batch_age_s:.0f}s)"
        )
    out.ready = not out.reasons
    return out


class ContainedStage(Protocol):
    """A part that contains its own failures: a stage (the batch commits without its work),
    the alert dispatcher (the round is retried)."""

    failing: int  # batches or rounds failed since the last that succeeded
    last_error: str | None


def stage_problems(stages: Mapping[str, ContainedStage]) -> list[str]:
    """Why the contained stages this process runs are not doing their work, if they are not:
    switched off (`disabled`, e.g. their tables missing) or failing batch after batch."""
    out: list[str] = []
    for name, stage in stages.items():
        disabled = getattr(stage, "disabled", None)
        if disabled:
            out.append(f"{name} off: {disabled}")
        elif stage.failing >= STAGE_FAILING_AFTER:
            out.append(f"{name} failed {stage.failing} times in a row: {stage.last_error}")
    return out


async def readiness(
    engine: AsyncEngine,
    pipeline: Pipeline,
    max_batch_age_s: float,
    collectors: Any = None,
    leadership: Any = None,
    stages: Mapping[str, ContainedStage] | None = None,
) -> Readiness:
    result = worker_checks(pipeline, max_batch_age_s, depth=await measure_queue(pipeline))
    problem = await probe_store(engine)
    result.checks["store"] = "writable" if problem is None else "not writable"
    if problem is not None:
        result.reasons.insert(0, problem)
    if collectors is not None:
        dead = collectors.dead()
        result.checks["collectors_dead"] = dead
        if dead:
            result.reasons.append(f"collectors stopped after a failure: {', '.join(dead)}")
    if leadership is not None and leadership.error is not None:
        result.reasons.append(f"scheduler not running: {leadership.error}")
    result.reasons.extend(stage_problems(stages or {}))
    result.ready = not result.reasons
    return result
