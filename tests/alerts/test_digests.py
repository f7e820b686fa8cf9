"""Digests: one `digest_runs` row per (digest, period) however many times or instances run it;
a period missed while down is sent once, late; the schedule holds across both clock changes
(clock injected); contents are aggregates, rumours ranked by spread, post text inert; and two
instances against one PostgreSQL database send one digest."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.cron import CronTrigger
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.alerts import chart
from monitor.alerts.config import AlertConfig, load_config
from monitor.alerts.digests import DigestService
from monitor.alerts.dispatcher import Dispatcher
from monitor.alerts.schedule import LONDON
from monitor.cli import cli
from monitor.store.keys import PostKeys
from monitor.store.tables import digest_runs, place_matches, post_labels, posts

from .conftest import ROOT, SCRIPT_PAYLOAD, Clock, envs, mailbox_rows, make_store, open_alert

SHIPPED = ROOT / "alerts" / "routing.yaml"
TUESDAY_10 = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)
BOUNDARIES = ROOT.parent / "shared" / "data" / "geo" / "bradford-wards-2013.geojson"


@pytest.fixture
def config() -> AlertConfig:
    return load_config(SHIPPED, {})


def service(engine: AsyncEngine, config: AlertConfig, clock: Clock, **kw: Any) -> DigestService:
    return DigestService(engine, config, envs(), environ={}, clock=clock, **kw)


def dispatcher(engine: AsyncEngine, config: AlertConfig) -> Dispatcher:
    from monitor.alerts.notifiers.local import LocalNotifier

    notifiers = {(name, "local#0"): LocalNotifier(engine) for name in config.receivers}
    return Dispatcher(engine, config, notifiers, envs(), environ={}, rng=random.Random(2))


async def add_post(
    engine: AsyncEngine, n: int, ward: str, at: datetime, author: str, flagged: bool = True
) -> str:
    post_id = f"mastodon:https://social.example/users/fictional/statuses/{n}"
    # Sealed as ingest seals it, for the re-check (the id stays platform-shaped to be named).
    origin = (await PostKeys(engine).get()).seal(post_id)
    async with engine.begin() as conn:
        await conn.execute(
            posts.insert().values(
                id=post_id,
                origin=origin,
                platform="mastodon",
                source="test",
                text=f"(fictional) post {n}",
                created_at=at,
                collected_at=at,
                author_ref=author,
                processed_at=at,
            )
        )
        await conn.execute(
            place_matches.insert().values(
                post_id=post_id,
                place_id=f"bradford/ward/{ward.lower()}",
                name=ward,
                kind="ward",
                ward=ward,
                locality=None,
                district="Bradford",
                matched=ward,
            )
        )
        if flagged:
            await conn.execute(
                post_labels.insert().values(
                    post_id=post_id, origin="rule", name="kind", value="tension"
                )
            )
    return post_id


async def link(
    engine: AsyncEngine, alert_id: int, post_id: str, at: datetime, excerpt: str
) -> None:
    from monitor.store.tables import alert_posts

    async with engine.begin() as conn:
        await conn.execute(
            alert_posts.insert().values(
                alert_id=alert_id, post_id=post_id, excerpt=excerpt, rules=["t"], added_at=at
            )
        )


async def runs(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(digest_runs).order_by(digest_runs.c.id))).mappings().all()
    return [dict(r) for r in rows]


async def test_a_digest_is_claimed_once_and_reaches_each_receiver(
    engine: AsyncEngine, config: AlertConfig
) -> None:
    clock = Clock(datetime(2026, 11, 2, 8, 0, tzinfo=UTC))  # Monday 08:00: the weekly summary
    digests = service(engine, config, clock)
    first = await digests.run("tension-weekly")
    again = await digests.run("tension-weekly", clock.now + timedelta(minutes=1))
    assert first is not None and again is None
    (run,) = await runs(engine)
    assert run["period"] == "2026-11-02T08:00"
    assert run["period_end"] - run["period_start"] == timedelta(days=7)
    d = dispatcher(engine, config)
    await d.run_once(clock.now)
    await d.run_once(clock.now + timedelta(minutes=5))
    boxes = sorted(str(m["mailbox"]) for m in await mailbox_rows(engine))
    assert boxes == ["communities-team", "police-liaison"]


async def test_a_period_missed_while_down_is_sent_once_marked_late(
    engine: AsyncEngine, config: AlertConfig
) -> None:
    clock = Clock(TUESDAY_10)  # started at 10:00: the 07:00 and 07:30 runs were missed
    digests = service(engine, config, clock)
    late = await digests.catch_up()
    assert sorted(late) == ["comms-morning-brief", "liaison-daily", "tension-weekly"]
    by_name = {r["digest"]: r for r in await runs(engine)}
    assert all(r["late"] for r in by_name.values())
    assert by_name["liaison-daily"]["period"] == "2026-11-03T07:00"
    assert "(late)" in by_name["liaison-daily"]["subject"]
    assert "sent late" in by_name["liaison-daily"]["text"]
    assert await digests.catch_up(TUESDAY_10 + timedelta(hours=1)) == []  # restarted again
    on_time = await digests.run("liaison-daily", datetime(2026, 11, 4, 7, 0, 5, tzinfo=UTC))
    assert on_time is not None
    assert not (await runs(engine))[-1]["late"]


@pytest.mark.parametrize(
    ("start", "lengths"),
    [
        (datetime(2026, 3, 26, 12, tzinfo=UTC), [24, 24, 23, 24, 24]),  # 29 March: 23 hours
        (datetime(2026, 10, 22, 12, tzinfo=UTC), [24, 24, 25, 24, 24]),  # 25 October: 25 hours
    ],
)
async def test_the_daily_digest_across_a_clock_change_sends_one_per_day(
    engine: AsyncEngine, config: AlertConfig, start: datetime, lengths: list[int]
) -> None:
    clock = Clock(start)
    digests = service(engine, config, clock)
    # Drive the clock by the scheduler's own trigger, firing every job twice (as two instances
    # would, or as APScheduler may around a change) and once more at a restart in between.
    trigger = CronTrigger.from_crontab("0 7 * * *", timezone=LONDON)
    fire = trigger.get_next_fire_time(None, start)
    for _ in range(5):
        for at in (fire, fire + timedelta(seconds=2), fire + timedelta(hours=5)):
            clock.now = at
            await digests.run("liaison-daily")
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    made = [r for r in await runs(engine) if r["digest"] == "liaison-daily"]
    assert [r["period"][-5:] for r in made] == ["07:00"] * 5
    assert len({r["period"] for r in made}) == 5
    assert [(r["period_end"] - r["period_start"]) / timedelta(hours=1) for r in made] == lengths
    assert not any(r["late"] for r in made)
    for r in made:
        assert r["period_end"].astimezone(LONDON).hour == 7


async def test_digest_contents_are_aggregates_ranked_and_inert(
    engine: AsyncEngine, config: AlertConfig
) -> None:
    day = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    crit = await open_alert(
        engine,
        {"kind": "rising_tension", "area": "Manningham", "level": "critical"},
        now=day,
        summary="tension critical in Manningham",
    )
    await open_alert(
        engine,
        {"kind": "rising_tension", "area": "Toller", "level": "elevated"},
        now=day,
        summary="tension elevated in Toller",
    )
    small = await open_alert(
        engine,
        {"kind": "rumour_spreading", "cluster": "c1", "area": "Heaton"},
        now=day,
        summary="rumour: c1",
    )
    big = await open_alert(
        engine,
        {"kind": "rumour_spreading", "cluster": "c2", "area": "Toller"},
        now=day,
        summary="rumour: c2",
    )
    n = 0
    for ward, alert, count, excerpt in (
        ("Manningham", crit, 4, "(fictional) tension post"),
        ("Heaton", small, 2, "(fictional) small rumour"),
        ("Toller", big, 5, SCRIPT_PAYLOAD),
        ("Girlington", big, 1, SCRIPT_PAYLOAD),
    ):
        for _ in range(count):
            n += 1
            post = await add_post(engine, n, ward, day + timedelta(minutes=n), f"ref{n % 3}")
            await link(engine, alert, post, day, excerpt)
    clock = Clock(TUESDAY_10)
    digests = service(engine, config, clock)

    liaison = await digests.preview("liaison-daily", datetime(2026, 11, 3, 7, 0, tzinfo=UTC))
    levels = liaison.data["levels"]
    assert [r["area"] for r in levels["rows"]][:2] == ["Manningham", "Toller"]
    assert levels["rows"][0]["peak"] == "critical" and levels["rows"][0]["total"] == 4
    assert "Manningham" in str(liaison.data["levels_text"])
    assert [a["summary"] for a in liaison.data["alerts"]][0] == "tension critical in Manningham"
    assert "(fictional) tension post" not in liaison.text + liaison.html  # liaison: no post text
    assert all(a["excerpts"] == [] for a in liaison.data["alerts"])
    assert 'bgcolor="#c92a2a"' in liaison.html  # the critical cell, coloured in the table chart

    brief = await digests.preview("comms-morning-brief", datetime(2026, 11, 3, 7, 30, tzinfo=UTC))
    ranked = brief.data["rumours"]
    assert [r["summary"] for r in ranked] == ["rumour: c2", "rumour: c1"]  # 6 posts before 2
    # 3 distinct authors: under privacy_min_count (10), so shown suppressed (monitor/privacy).
    assert ranked[0]["posts"] == 6 and ranked[0]["authors"] == "<10"
    assert ranked[0]["areas"] == ["Girlington", "Toller"]
    assert "<script>" not in brief.html and "&lt;script&gt;" in brief.html
    assert SCRIPT_PAYLOAD in brief.text
    assert await runs(engine) == []  # previews claim nothing


@pytest.mark.skipif(not BOUNDARIES.is_file(), reason=f"{BOUNDARIES} absent (shared data)")
async def test_a_ward_map_where_boundaries_are_configured(
    engine: AsyncEngine, config: AlertConfig
) -> None:
    day = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    await open_alert(
        engine, {"kind": "rising_tension", "area": "Manningham", "level": "critical"}, now=day
    )
    boundaries = chart.load_boundaries([BOUNDARIES])
    assert len(boundaries) == 30
    digests = service(engine, config, Clock(TUESDAY_10), boundaries=boundaries)
    message = await digests.preview("liaison-daily", TUESDAY_10)
    uri = message.data["map_uri"]
    assert uri and uri.startswith("data:image/svg+xml;base64,")
    import base64

    svg = base64.b64decode(uri.split(",", 1)[1]).decode()
    assert svg.count("<path") == 30
    assert '<path d="' in svg and "<title>Manningham: critical</title>" in svg
    assert f'src="{uri}"' in message.html
    assert "Open Government Licence" in message.html


async def test_preview_and_send_commands(tmp_path: Path, config: AlertConfig) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    store = await make_store(url)
    await store.dispose()
    env = {"MONITOR_HOME": str(ROOT), "MONITOR_DATABASE_URL": url}
    runner = CliRunner()
    shown = await asyncio.to_thread(
        runner.invoke,
        cli,
        ["digest", "preview", "liaison-daily", "--at", "2026-11-03T07:00"],
        env=env,
    )
    assert shown.exit_code == 0, shown.output
    assert shown.output.startswith("Subject: Daily community tension digest: Mon 02 Nov 2026 07:00")
    as_json = await asyncio.to_thread(
        runner.invoke, cli, ["digest", "preview", "tension-weekly", "--format", "json"], env=env
    )
    assert json.loads(as_json.output)["name"] == "tension-weekly"
    unknown = await asyncio.to_thread(runner.invoke, cli, ["digest", "preview", "nope"], env=env)
    assert unknown.exit_code == 1 and "no digest named 'nope'" in unknown.output
    for edge in ("0001-01-01T07:00", "9999-12-31T23:59"):  # past the calendar: a usage error
        far = await asyncio.to_thread(
            runner.invoke, cli, ["digest", "preview", "liaison-daily", "--at", edge], env=env
        )
        assert far.exit_code == 2 and "between 1970 and 2199" in far.output, far.output
    sent = await asyncio.to_thread(
        runner.invoke,
        cli,
        ["digest", "send", "comms-morning-brief", "--at", "2026-11-03T07:30"],
        env=env,
    )
    assert sent.exit_code == 0, sent.output
    assert "sent: 1 delivered" in sent.output
    twice = await asyncio.to_thread(
        runner.invoke,
        cli,
        ["digest", "send", "comms-morning-brief", "--at", "2026-11-03T07:30"],
        env=env,
    )
    assert "already sent" in twice.output


async def test_the_scheduler_runs_the_jobs_in_london_time(
    engine: AsyncEngine, config: AlertConfig
) -> None:
    digests = service(engine, config, Clock())
    digests.start()
    try:
        now = datetime.now(UTC)
        nxt = digests.next_runs()
        assert set(nxt) == set(config.digests)
        for name, at in nxt.items():
            assert at is not None
            assert at.astimezone(UTC) == config.digests[name].cron.next_fire(now)
            assert str(at.tzinfo) == "Europe/London"
    finally:
        digests.stop()


@pytest.mark.postgres
async def test_two_instances_on_one_postgresql_database_send_one_digest(
    migrated_pg_url: str, config: AlertConfig
) -> None:
    first, second = await make_store(migrated_pg_url), await make_store(migrated_pg_url)
    try:
        clock = Clock(datetime(2026, 11, 2, 8, 0, 1, tzinfo=UTC))
        a = service(first, config, clock, instance="instance-a")
        b = service(second, config, clock, instance="instance-b")
        results = await asyncio.gather(*(s.run(name) for s in (a, b) for name in config.digests))
        claimed = [r for r in results if r is not None]
        assert len(claimed) == len(config.digests) == 3  # each digest claimed by one of them
        made = await runs(first)
        assert len(made) == 3 and len({(r["digest"], r["period"]) for r in made}) == 3
        await asyncio.gather(
            dispatcher(first, config).run_once(clock.now),
            dispatcher(second, config).run_once(clock.now),
        )
        messages = await mailbox_rows(first)
        # liaison-daily → liaison; tension-weekly → liaison and team; brief → comms: 4, once each
        assert sorted(str(m["mailbox"]) for m in messages) == [
            "comms",
            "communities-team",
            "police-liaison",
            "police-liaison",
        ]
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_digest_with_excerpts_rechecks_old_posts_and_sends_none_deleted(
    engine: AsyncEngine, config: AlertConfig
) -> None:
    """Issue 13, finding 9: before the comms brief (with excerpts) is sent, its old posts are
    looked up on their platform; a post the platform says is gone is purged and not sent."""
    from monitor.safeguards.recheck import Rechecker, Verdict

    day = datetime(2026, 10, 30, 12, 0, tzinfo=UTC)
    alert = await open_alert(
        engine, {"kind": "rumour_spreading", "cluster": "c9", "area": "Toller"}, now=day
    )
    gone = await add_post(engine, 1, "Toller", day, "ref1")
    kept = await add_post(engine, 2, "Toller", day + timedelta(minutes=1), "ref2")
    await link(engine, alert, gone, day, "(fictional) withdrawn claim about the mill")

    class Platform:  # the transport, swapped: the platform answers per post
        asked: list[str] = []

        async def check(self, ids: Any, now: datetime) -> dict[str, Verdict]:
            self.asked += list(ids)
            return {i: Verdict.GONE if i == gone else Verdict.PRESENT for i in ids}

    platform = Platform()
    recheck = Rechecker(engine, {"mastodon": platform}, after=timedelta(hours=24), timeout=2)
    clock = Clock(datetime(2026, 11, 2, 7, 30, tzinfo=UTC))  # Monday 07:30: the comms brief
    digests = service(engine, config, clock, recheck=recheck)
    assert await digests.run("comms-morning-brief") is not None
    (run,) = await runs(engine)
    assert "withdrawn claim" not in run["text"] + run["html"]
    assert platform.asked == [gone]
    assert kept  # stored but not evidence of the alert: never asked about
