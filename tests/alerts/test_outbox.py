"""The outbox on a real store: written with the alert in one transaction, deduplicated by key,
grouped, silenced (with reason, expiry and audit), inhibited, held by time windows (held and
counted, never dropped), reminded and escalated until acknowledged — delivered to the local
mailbox the web UI shows."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from monitor.alerts import outbox
from monitor.alerts.config import AlertConfig
from monitor.alerts.dispatcher import Dispatcher
from monitor.alerts.service import build_notifiers
from monitor.alerts.silence_store import add_silence, expire_silence
from monitor.alerts.silences import SilenceError
from monitor.store.mailbox import list_messages
from monitor.store.tables import audit_events, notifications

from .conftest import NOW, Clock, config_from, mailbox_rows, open_alert, set_alert

ROUTING = """
route:
  receiver: team
  group_by: [kind, area]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
  escalation: unacknowledged
  routes:
    - name: liaison
      matchers: ['kind=~"threat|call_to_gather"']
      receiver: liaison
      group_by: ['...']
      group_wait: 0s
      escalation: null
      continue: true
    - name: comms
      matchers: ['kind=~"rumour.*"']
      receiver: comms
      group_by: [kind, cluster]
      active_time_intervals: [office-hours]
      escalation: null
      continue: true
    - name: team
      matchers: ['kind=~".*"']
      receiver: team
receivers:
  - {name: team, excerpts: true, local: [{mailbox: team}]}
  - {name: leads, local: [{mailbox: leads}]}
  - {name: liaison, local: [{mailbox: liaison}]}
  - {name: comms, excerpts: true, local: [{mailbox: comms}]}
time_intervals:
  - name: office-hours
    time_intervals:
      - weekdays: ['monday:friday']
        times: [{start_time: '08:00', end_time: '18:00'}]
  - name: working-hours
    time_intervals:
      - weekdays: ['monday:friday']
        times: [{start_time: '09:00', end_time: '17:00'}]
inhibit_rules:
  - source_matchers: [level=critical]
    target_matchers: ['level=~"elevated|high"']
    equal: [kind, area]
escalations:
  - name: unacknowledged
    during: [working-hours]
    steps:
      - {after: 2h, receiver: leads}
"""


@pytest.fixture
def config() -> AlertConfig:
    return config_from(ROUTING)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dispatcher(
    engine: AsyncEngine, config: AlertConfig, clock: Clock, session: aiohttp.ClientSession
) -> Dispatcher:
    from .conftest import envs

    return Dispatcher(
        engine,
        config,
        build_notifiers(config, engine, session, {}),
        envs(),
        environ={},
        clock=clock,
        rng=random.Random(7),
    )


async def route(engine: AsyncEngine, config: AlertConfig, now: datetime) -> outbox.Enqueued:
    async with engine.begin() as conn:
        return await outbox.route_changed_alerts(conn, config, now, {})


async def rows(engine: AsyncEngine, **where: object) -> list[dict[str, object]]:
    stmt = select(notifications).order_by(notifications.c.id)
    for name, value in where.items():
        stmt = stmt.where(notifications.c[name] == value)
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(stmt)).mappings().all()]


async def run_until(d: Dispatcher, clock: Clock, until: datetime, step: timedelta) -> None:
    while clock.now < until:
        await d.run_once(clock.now)
        clock.now = min(until, clock.now + step)
    await d.run_once(clock.now)


def boxes(messages: Sequence[dict[str, object]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in messages:
        out[str(m["mailbox"])] = out.get(str(m["mailbox"]), 0) + 1
    return out


async def test_rows_commit_or_roll_back_with_the_alert(
    engine: AsyncEngine, config: AlertConfig
) -> None:
    from monitor.store.tables import alerts

    class Boom(Exception):
        pass

    async def open_and_route(conn: AsyncConnection) -> None:
        await conn.execute(
            alerts.insert().values(
                key="area=Toller,kind=threat",
                labels={"kind": "threat", "area": "Toller"},
                summary="threat in Toller",
                status="new",
                post_count=1,
                first_seen=NOW,
                last_seen=NOW,
                created_at=NOW,
                updated_at=NOW,
            )
        )
        await outbox.route_changed_alerts(conn, config, NOW, {})

    with pytest.raises(Boom):
        async with engine.begin() as conn:
            await open_and_route(conn)
            raise Boom  # the process dies before the commit
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(alerts))).scalar_one() == 0
    assert await rows(engine) == []
    async with engine.begin() as conn:
        await open_and_route(conn)
    assert sorted(str(r["receiver"]) for r in await rows(engine)) == ["liaison", "team"]


async def test_one_notification_per_receiver_and_key_until_the_labels_change(
    engine: AsyncEngine, config: AlertConfig
) -> None:
    alert = await open_alert(engine, {"kind": "rising_tension", "area": "Heaton", "level": "high"})
    assert (await route(engine, config, NOW)).rows == 1
    assert (await route(engine, config, NOW)).rows == 0
    # More evidence, same labels: nothing new to say.
    await set_alert(engine, alert, NOW + timedelta(minutes=1), post_count=5)
    assert (await route(engine, config, NOW + timedelta(minutes=1))).rows == 0
    # The level rises: a new notification, marked as an update.
    await set_alert(
        engine,
        alert,
        NOW + timedelta(minutes=2),
        labels={"kind": "rising_tension", "area": "Heaton", "level": "critical"},
    )
    assert (await route(engine, config, NOW + timedelta(minutes=2))).rows == 1
    found = await rows(engine)
    assert [(r["kind"], r["seq"]) for r in found] == [("alert", 1), ("updated", 2)]
    assert len({r["idempotency_key"] for r in found}) == 2


@pytest.mark.parametrize(
    "written_at",
    [NOW, NOW - timedelta(minutes=3)],
    ids=["under the same clock reading", "by a host whose clock lags"],
)
async def test_a_label_change_is_routed_whatever_time_it_was_written_at(
    engine: AsyncEngine, config: AlertConfig, written_at: datetime
) -> None:
    # A signals follower catching up routes one batch's alert and writes the next batch's
    # change under one clock reading; scaled out, a worker's clock may lag the leader's that
    # routed it. Either way the change comes after the routing and is told.
    labels = {"kind": "rising_tension", "area": "Heaton", "level": "high"}
    alert = await open_alert(engine, labels)
    assert (await route(engine, config, NOW)).rows == 1
    await set_alert(engine, alert, written_at, labels=labels | {"level": "critical"})
    assert (await route(engine, config, NOW)).rows == 1
    assert [(r["kind"], r["seq"]) for r in await rows(engine)] == [("alert", 1), ("updated", 2)]
    assert (await route(engine, config, NOW)).rows == 0  # told once


async def test_an_alert_opened_again_after_closing_is_notified_again(
    engine: AsyncEngine, config: AlertConfig, dispatcher: Dispatcher, clock: Clock
) -> None:
    first = await open_alert(engine, {"kind": "hostility", "area": "Toller"})
    await route(engine, config, NOW)
    await set_alert(engine, first, NOW + timedelta(minutes=1), status="closed")
    later = NOW + timedelta(hours=1)
    await open_alert(engine, {"kind": "hostility", "area": "Toller"}, now=later)
    assert (await route(engine, config, later)).rows == 1
    seqs = [r["seq"] for r in await rows(engine)]
    assert seqs == [1, 2]  # the sequence continues per key, so the idempotency key is new


async def test_alerts_of_one_group_travel_in_one_message(
    engine: AsyncEngine, config: AlertConfig, dispatcher: Dispatcher, clock: Clock
) -> None:
    await open_alert(engine, {"kind": "hostility", "area": "Toller"}, summary="first")
    await route(engine, config, NOW)
    clock.advance(seconds=10)
    await open_alert(
        engine,
        {"kind": "hostility", "area": "Toller", "topic": "x"},
        summary="second",
        now=clock.now,
    )
    await route(engine, config, clock.now)
    await dispatcher.run_once(clock.advance(seconds=5))
    assert await mailbox_rows(engine) == []  # group_wait (30s) not over
    await dispatcher.run_once(clock.advance(seconds=20))
    (message,) = await mailbox_rows(engine)
    assert message["mailbox"] == "team"
    assert "2 alerts" in str(message["subject"])
    assert "first" in str(message["text"]) and "second" in str(message["text"])
    # A third alert of the group waits for group_interval after the last message.
    sent_at = clock.now
    await open_alert(
        engine,
        {"kind": "hostility", "area": "Toller", "topic": "y"},
        summary="third",
        now=clock.now,
    )
    await route(engine, config, clock.advance(seconds=1))
    (third,) = [r for r in await rows(engine) if r["status"] == "pending"]
    assert third["not_before"] == sent_at + timedelta(minutes=5)


async def test_silences_mute_say_why_expire_and_are_audited(
    engine: AsyncEngine, config: AlertConfig, dispatcher: Dispatcher, clock: Clock
) -> None:
    async with engine.begin() as conn:
        with pytest.raises(SilenceError, match="reason"):
            await add_silence(
                conn,
                matchers=["area=Toller"],
                reason="",
                created_by="analyst-1",
                starts_at=NOW,
                ends_at=NOW + timedelta(hours=1),
                now=NOW,
            )
        with pytest.raises(SilenceError, match="at most 30 days"):
            await add_silence(
                conn,
                matchers=["area=Toller"],
                reason="planned event, already known",
                created_by="analyst-1",
                starts_at=NOW,
                ends_at=NOW + timedelta(days=31),
                now=NOW,
            )
        silence = await add_silence(
            conn,
            matchers=["area=Toller"],
            reason="council-run event, police aware",
            created_by="analyst-1",
            starts_at=NOW,
            ends_at=NOW + timedelta(hours=2),
            now=NOW,
        )
    await open_alert(engine, {"kind": "hostility", "area": "Toller"})
    await open_alert(engine, {"kind": "hostility", "area": "Heaton"})
    await route(engine, config, NOW)
    await run_until(dispatcher, clock, NOW + timedelta(minutes=1), timedelta(seconds=15))
    found = {r["labels"]["area"]: r for r in await rows(engine)}  # type: ignore[index]
    assert found["Toller"]["status"] == "silenced"
    assert f"silence {silence}: council-run event" in str(found["Toller"]["reason"])
    assert [m["subject"] for m in await mailbox_rows(engine)] == ["hostility in Heaton"]
    async with engine.begin() as conn:
        await expire_silence(conn, silence, by="analyst-2", reason="event over", now=clock.now)
    later = clock.advance(minutes=1)
    await open_alert(engine, {"kind": "threat", "area": "Toller"}, now=later)
    await route(engine, config, later)
    await run_until(dispatcher, clock, later + timedelta(minutes=1), timedelta(seconds=15))
    assert "threat in Toller" in [m["subject"] for m in await mailbox_rows(engine)]
    async with engine.connect() as conn:
        audit = (
            (await conn.execute(select(audit_events).order_by(audit_events.c.id))).mappings().all()
        )
    assert [(a["action"], a["actor"]) for a in audit] == [
        ("silence.add", "analyst-1"),
        ("silence.expire", "analyst-2"),
    ]
    assert audit[0]["purpose"] == "council-run event, police aware"


async def test_a_critical_alert_for_a_place_inhibits_the_elevated_one(
    engine: AsyncEngine, config: AlertConfig, dispatcher: Dispatcher, clock: Clock
) -> None:
    await open_alert(engine, {"kind": "rising_tension", "area": "Heaton", "level": "critical"})
    # Only one alert per key is open at a time, and keys leave levels out: the elevated one
    # for the same place and kind comes from another source (here, a rule's topic).
    await open_alert(
        engine,
        {"kind": "rising_tension", "area": "Heaton", "level": "elevated", "topic": "rule"},
        summary="elevated Heaton",
    )
    await open_alert(
        engine,
        {"kind": "rising_tension", "area": "Toller", "level": "elevated"},
        summary="elevated Toller",
    )
    await route(engine, config, NOW)
    await run_until(dispatcher, clock, NOW + timedelta(minutes=1), timedelta(seconds=15))
    statuses = {
        (r["labels"]["area"], r["labels"]["level"]): r["status"] for r in await rows(engine)
    }  # type: ignore[index]
    assert statuses == {
        ("Heaton", "critical"): "sent",
        ("Heaton", "elevated"): "inhibited",
        ("Toller", "elevated"): "sent",
    }


async def test_a_time_window_holds_notifications_and_counts_them(
    engine: AsyncEngine, config: AlertConfig, dispatcher: Dispatcher, clock: Clock
) -> None:
    saturday = datetime(2026, 11, 7, 11, 0, tzinfo=UTC)
    clock.now = saturday
    await open_alert(
        engine, {"kind": "rumour_spreading", "area": "Toller", "cluster": "c7"}, now=saturday
    )
    await route(engine, config, saturday)
    (comms,) = await rows(engine, receiver="comms")
    monday_8am = datetime(2026, 11, 9, 8, 0, tzinfo=UTC)
    assert comms["held_until"] == monday_8am
    await run_until(dispatcher, clock, saturday + timedelta(hours=2), timedelta(minutes=10))
    assert boxes(await mailbox_rows(engine)) == {"team": 1}  # the team has no window
    async with engine.connect() as conn:
        counts = {c["receiver"]: c for c in await outbox.outbox_counts(conn, clock.now)}
    assert counts["comms"]["held"] == 1 and counts["comms"]["pending"] == 1
    clock.now = monday_8am
    await dispatcher.run_once(clock.now)
    assert boxes(await mailbox_rows(engine)) == {"team": 1, "comms": 1}


async def test_reminders_until_acknowledged(
    engine: AsyncEngine, config: AlertConfig, dispatcher: Dispatcher, clock: Clock
) -> None:
    alert = await open_alert(engine, {"kind": "threat", "area": "Toller"})
    await route(engine, config, NOW)
    await dispatcher.run_once(clock.advance(minutes=1))
    assert boxes(await mailbox_rows(engine)) == {"liaison": 1, "team": 1}
    # 4 hours on (repeat_interval), nobody has acknowledged: both are reminded.
    await dispatcher.run_once(clock.advance(hours=4))
    await dispatcher.run_once(clock.advance(minutes=1))
    messages = await mailbox_rows(engine)
    reminders = [m for m in messages if str(m["subject"]).startswith("Reminder")]
    assert boxes(reminders) == {"liaison": 1, "team": 1}
    assert "Acknowledge the alert" in str(reminders[0]["text"])
    # Acknowledged: no more reminders, however long it stays open.
    await set_alert(engine, alert, clock.now, status="acknowledged", owner="analyst-1")
    await dispatcher.run_once(clock.advance(hours=5))
    await dispatcher.run_once(clock.advance(minutes=1))
    assert len(await mailbox_rows(engine)) == len(messages)


async def test_a_reminder_already_queued_is_cancelled_by_acknowledging(
    engine: AsyncEngine, config: AlertConfig, dispatcher: Dispatcher, clock: Clock
) -> None:
    alert = await open_alert(engine, {"kind": "hostility", "area": "Toller"})
    await route(engine, config, NOW)
    await dispatcher.run_once(clock.advance(minutes=1))
    await dispatcher.run_once(clock.advance(hours=4))  # reminder written, waiting group_wait
    await set_alert(engine, alert, clock.now, status="acknowledged")
    await dispatcher.run_once(clock.advance(minutes=1))
    (reminder,) = await rows(engine, kind="reminder")
    assert (reminder["status"], reminder["reason"]) == ("cancelled", "acknowledged")


async def test_unacknowledged_alerts_escalate_only_in_working_hours(
    engine: AsyncEngine, config: AlertConfig, dispatcher: Dispatcher, clock: Clock
) -> None:
    await open_alert(engine, {"kind": "hostility", "area": "Toller"}, now=NOW)  # Tue 10:00
    late = NOW.replace(hour=16, minute=30)
    await open_alert(engine, {"kind": "hostility", "area": "Heaton"}, now=late)
    await route(engine, config, NOW)
    await route(engine, config, late)
    clock.now = NOW.replace(hour=12, minute=1)
    await dispatcher.run_once(clock.now)
    assert [m["subject"] for m in await mailbox_rows(engine) if m["mailbox"] == "leads"] == [
        "Escalated (not acknowledged): hostility in Toller"
    ]
    clock.now = late + timedelta(hours=2, minutes=1)  # 18:31: two hours, but after hours
    await dispatcher.run_once(clock.now)
    assert len([m for m in await mailbox_rows(engine) if m["mailbox"] == "leads"]) == 1
    clock.now = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)  # next morning, 09:00
    await dispatcher.run_once(clock.now)
    leads = [m["subject"] for m in await mailbox_rows(engine) if m["mailbox"] == "leads"]
    assert leads[-1] == "Escalated (not acknowledged): hostility in Heaton"
    assert len(leads) == 2


async def test_list_messages_gives_the_web_ui_what_it_shows(
    engine: AsyncEngine, config: AlertConfig, dispatcher: Dispatcher, clock: Clock
) -> None:
    from .conftest import SCRIPT_PAYLOAD

    await open_alert(engine, {"kind": "hostility", "area": "Toller"}, excerpts=[SCRIPT_PAYLOAD])
    await route(engine, config, NOW)
    await dispatcher.run_once(clock.advance(minutes=1))
    async with engine.connect() as conn:
        (msg,) = await list_messages(conn, "admin", limit=10)
    assert msg["recipient"] == "team"
    assert msg["subject"] == "hostility in Toller"
    assert msg["sent_at"] == clock.now
    assert "<script>" not in str(msg["html"]) and "&lt;script&gt;" in str(msg["html"])
    assert SCRIPT_PAYLOAD in str(msg["text"])
