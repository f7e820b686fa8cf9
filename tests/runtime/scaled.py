"""Settings for a scaled-out role in tests: PostgreSQL store, Redis queue, the keyword
classifier, and nothing running on a timer that a test did not ask for."""

from __future__ import annotations

from typing import Any

from monitor.config import Settings
from tests.conftest import ROOT


def scaled_out(pg_url: str, redis_url: str, stream: str, **extra: Any) -> Settings:
    return Settings(
        database_url=pg_url,
        home=str(ROOT),
        classifier="keyword",
        queue_url=redis_url,
        queue_stream=stream,
        alerts_deliver=False,
        retention_purge_minutes=0,
        rules_reload_seconds=0,
        **extra,
    )
