"""The whole path in the running service: a call to gather in a post → the pipeline opens the
alert and writes its outbox rows in the same transaction → the dispatcher delivers it to the
police liaison mailbox at once, without the post's text; a bad routing file stops start-up.
The call to gather is corroborated (the classifier also flags its post hostile), as the
incidents' gate asks before a single post is sent at once (incidents_immediate_min_posts)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from monitor.classify.keyword import KeywordClassifier
from monitor.config import ConfigError, Settings
from monitor.runtime.app import open_runtime
from monitor.store.mailbox import list_messages
from monitor.store.tables import alerts, notifications
from monitor.types import RawPost

from .conftest import make_store

POST = (
    "(fictional) Everyone get down to the Greyfield Hotel in Manningham at 7pm tonight. "
    "Enough is enough, show them they're not welcome here <script>alert(1)</script>"
)


async def test_a_call_to_gather_reaches_liaison_at_once_without_post_text(
    settings: Settings,
) -> None:
    engine = await make_store(settings.database_url)  # until the migration for these lands
    await engine.dispose()
    settings = settings.with_overrides(
        alerts_public_url="https://monitor.council.example", alerts_poll_seconds=0.2
    )
    async with open_runtime(settings, classifier=KeywordClassifier()) as rt:
        assert rt.alerts is not None
        raw = RawPost(
            platform="mastodon",
            native_id="https://social.example/users/fictional/statuses/1",
            text=POST,
            created_at=datetime.now(UTC),
            author_id="https://social.example/users/fictional",
            source="test",
        )
        await rt.pipeline.deliver("test", [raw], None)
        await rt.pipeline.drain()
        liaison: list[dict[str, object]] = []
        for _ in range(100):
            async with rt.engine.connect() as conn:
                liaison = [
                    m
                    for m in await list_messages(conn, "admin", 50, box="police-liaison")
                    if m["kind"] == "alert"
                ]
            if liaison:
                break
            await asyncio.sleep(0.1)
        async with rt.engine.connect() as conn:
            (alert,) = (
                (
                    await conn.execute(
                        select(alerts).where(
                            alerts.c.labels["kind"].as_string() == "call_to_gather"
                        )
                    )
                )
                .mappings()
                .all()
            )
            outbox = (
                (
                    await conn.execute(
                        select(notifications.c.receiver).where(
                            notifications.c.alert_id == alert["id"]
                        )
                    )
                )
                .scalars()
                .all()
            )
    assert rt.alerts.enabled
    assert sorted(outbox) == ["communities-team", "police-liaison"]
    (message,) = liaison
    assert "call to gather" in str(message["subject"])
    assert "Manningham" in str(message["subject"])
    assert "Greyfield" not in str(message["text"]) + str(message["html"])  # aggregates only
    assert f"https://monitor.council.example/alerts/{alert['id']}" in str(message["text"])


async def test_a_bad_routing_file_stops_start_up(settings: Settings, tmp_path: object) -> None:
    from pathlib import Path

    bad = Path(str(tmp_path)) / "routing.yaml"
    bad.write_text("route:\n  receiver: nobody\nreceivers:\n  - name: x\n    local: [{}]\n")
    with pytest.raises(ConfigError, match="routing.yaml:2: route: no receiver named 'nobody'"):
        async with open_runtime(
            settings.with_overrides(alerts_routing=str(bad)), classifier=KeywordClassifier()
        ):
            pass
