"""Delivery against real peers: an aiohttp receiver scripted to answer 200, 202, 429, 500, 4xx
or to hang, and an aiosmtpd SMTP server answering 250, 451 and 550. Each alert reaches each
recipient exactly once per key; failures are retried with the same idempotency key; a dead
receiver loses nothing and recovers; post text arrives inert."""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import subprocess
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.alerts import outbox
from monitor.alerts.breaker import CircuitBreaker
from monitor.alerts.config import AlertConfig
from monitor.alerts.dispatcher import Dispatcher
from monitor.alerts.notifiers.email import EmailNotifier
from monitor.alerts.notifiers.webhook import verify
from monitor.alerts.render import Message
from monitor.alerts.service import build_notifiers
from monitor.store.tables import deliveries, notifications
from monitor.tasks import stop_task

from .conftest import (
    NOW,
    SCRIPT_PAYLOAD,
    Clock,
    ScriptedReceiver,
    SmtpHandler,
    config_from,
    envs,
    free_port,
    make_store,
    open_alert,
)

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def routing(smtp_port: int = 2525, hook_timeout: str = "5s") -> str:
    """A short `hook_timeout` only where a test makes a receiver hang: on a loaded CI machine a
    500 ms timeout turns an answered send into a rightful resend, and exact counts flake."""
    return f"""
route:
  receiver: hooks
  group_by: ['...']
  group_wait: 0s
  repeat_interval: 0s
  routes:
    - matchers: [kind=chat]
      receiver: chat
    - matchers: [kind=mail]
      receiver: mail
receivers:
  - name: hooks
    excerpts: true
    webhook:
      - url_env: T_WEBHOOK_URL
        secret_env: T_WEBHOOK_SECRET
        timeout: {hook_timeout}
        optional: true
  - name: chat
    excerpts: true
    teams: [{{url_env: T_TEAMS_URL, timeout: {hook_timeout}, optional: true}}]
    slack: [{{url_env: T_SLACK_URL, timeout: {hook_timeout}, optional: true}}]
  - name: mail
    excerpts: true
    email:
      - to: [a@council.example, b@council.example, gone@council.example]
        from: monitor@council.example
        host: 127.0.0.1
        port: {smtp_port}
        tls: none
        timeout: 5s
"""


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def make_dispatcher(
    engine: AsyncEngine,
    config: AlertConfig,
    environ: dict[str, str],
    session: aiohttp.ClientSession,
    clock: Clock,
) -> Dispatcher:
    return Dispatcher(
        engine,
        config,
        build_notifiers(config, engine, session, environ),
        envs(),
        environ=environ,
        clock=clock,
        rng=random.Random(3),
        breaker=CircuitBreaker(threshold=3, first_open=timedelta(seconds=20)),
        retry_base=timedelta(seconds=1),
        retry_cap=timedelta(seconds=8),
        send_timeout=5,
    )


async def enqueue(engine: AsyncEngine, config: AlertConfig, environ: dict[str, str]) -> None:
    async with engine.begin() as conn:
        await outbox.route_changed_alerts(conn, config, NOW, environ)


async def rounds(d: Dispatcher, clock: Clock, n: int, step: float = 1.0) -> None:
    for _ in range(n):
        await d.run_once(clock.now)
        clock.advance(seconds=step)


async def delivery_states(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(deliveries).order_by(deliveries.c.id))).mappings().all()
    return [dict(r) for r in rows]


async def test_webhook_retries_500_honours_429_survives_a_hang_and_delivers_once(
    engine: AsyncEngine,
    session: aiohttp.ClientSession,
    receiver_factory: Callable[..., Any],
) -> None:
    clock = Clock()
    hook: ScriptedReceiver = await receiver_factory(500, (429, {"Retry-After": "7"}), "hang", 200)
    hook.clock = clock
    env = {"T_WEBHOOK_URL": hook.url(), "T_WEBHOOK_SECRET": SECRET}
    config = config_from(routing(hook_timeout="500ms"), env)
    await open_alert(engine, {"kind": "threat", "area": "Toller"}, excerpts=[SCRIPT_PAYLOAD])
    await enqueue(engine, config, env)
    d = make_dispatcher(engine, config, env, session, clock)
    await rounds(d, clock, 40)
    assert len(hook.requests) == 4
    ids = {r.headers["webhook-id"] for r in hook.requests}
    assert len(ids) == 1  # the same idempotency key on every attempt
    for r in hook.requests:
        assert verify(SECRET, r.headers, r.body)
    after_429 = hook.requests[2].at
    assert after_429 is not None and hook.requests[1].at is not None
    assert after_429 - hook.requests[1].at >= timedelta(seconds=7)
    (delivery,) = await delivery_states(engine)
    assert (delivery["status"], delivery["attempts"]) == ("sent", 4)
    body = hook.requests[-1].json()
    assert body["alerts"][0]["labels"] == {"kind": "threat", "area": "Toller"}
    assert body["alerts"][0]["excerpts"] == [SCRIPT_PAYLOAD]  # JSON-escaped, not interpreted
    await rounds(d, clock, 10, step=3600)
    assert len(hook.requests) == 4  # exactly once: nothing more after it was sent


async def test_a_4xx_answer_fails_for_good_and_is_kept_with_its_reason(
    engine: AsyncEngine,
    session: aiohttp.ClientSession,
    receiver_factory: Callable[..., Any],
) -> None:
    clock = Clock()
    hook = await receiver_factory(410)
    env = {"T_WEBHOOK_URL": hook.url(), "T_WEBHOOK_SECRET": SECRET}
    config = config_from(routing(), env)
    await open_alert(engine, {"kind": "threat", "area": "Toller"})
    await enqueue(engine, config, env)
    d = make_dispatcher(engine, config, env, session, clock)
    await rounds(d, clock, 10, step=60)
    assert len(hook.requests) == 1
    (delivery,) = await delivery_states(engine)
    assert delivery["status"] == "failed" and "HTTP 410" in delivery["last_error"]
    async with engine.connect() as conn:
        (row,) = (await conn.execute(select(notifications))).mappings().all()
    assert row["status"] == "failed"


async def test_a_dead_receiver_loses_nothing_and_recovers(
    engine: AsyncEngine,
    session: aiohttp.ClientSession,
    receiver_factory: Callable[..., Any],
) -> None:
    clock = Clock()
    port = free_port()  # nothing listens here yet: connections are refused
    env = {"T_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook", "T_WEBHOOK_SECRET": SECRET}
    config = config_from(routing(), env)
    for i in range(12):
        await open_alert(engine, {"kind": "threat", "area": f"Ward {i}"})
    await enqueue(engine, config, env)
    d = make_dispatcher(engine, config, env, session, clock)
    await rounds(d, clock, 60)  # a minute of a dead receiver
    states = await delivery_states(engine)
    assert len(states) == 12 and all(s["status"] == "pending" for s in states)
    attempts_while_dead = sum(s["attempts"] for s in states)
    # The breaker opened after 3 failures in a row: far fewer tries than 12 messages × 60 s.
    assert attempts_while_dead < 40
    assert all("ClientConnectorError" in (s["last_error"] or "") for s in states if s["attempts"])
    hook = await receiver_factory(port=port)
    await rounds(d, clock, 120)
    assert sorted(s["status"] for s in await delivery_states(engine)) == ["sent"] * 12
    ids = [r.headers["webhook-id"] for r in hook.requests]
    assert len(ids) == len(set(ids)) == 12  # every alert once, none twice


async def dispatcher_hanging_mid_send(
    engine: AsyncEngine,
    session: aiohttp.ClientSession,
    receiver_factory: Callable[..., Any],
) -> Dispatcher:
    """A started dispatcher whose round is under way: the receiver holds its request and never
    answers, and neither a poll (an hour) nor the dispatcher's send timeout (an hour) would end
    it; the webhook's own timeout (500 ms) does."""
    hook: ScriptedReceiver = await receiver_factory("hang")
    env = {"T_WEBHOOK_URL": hook.url(), "T_WEBHOOK_SECRET": SECRET}
    config = config_from(routing(hook_timeout="500ms"), env)
    await open_alert(engine, {"kind": "threat", "area": "Toller"})
    await enqueue(engine, config, env)
    d = Dispatcher(
        engine,
        config,
        build_notifiers(config, engine, session, env),
        envs(),
        environ=env,
        clock=Clock(),
        poll_seconds=3600,
        send_timeout=3600,
    )
    await d.start()
    for _ in range(1000):
        if hook.requests:
            return d
        await asyncio.sleep(0.01)
    raise AssertionError("the dispatcher never sent")


async def test_stopping_mid_round_finishes_the_round_and_stops_without_waiting_a_poll(
    engine: AsyncEngine,
    session: aiohttp.ClientSession,
    receiver_factory: Callable[..., Any],
) -> None:
    """A shutdown (or a test's teardown) that comes while a round sends: the round ends (its
    send times out and is kept for a retry) and the dispatcher stops then, not after sleeping
    one poll interval that no wake-up ends — here an hour, far past the bound on stop."""
    d = await dispatcher_hanging_mid_send(engine, session, receiver_factory)
    await asyncio.wait_for(d.stop(), 60)  # the old loop slept the hour out here
    (delivery,) = await delivery_states(engine)
    assert delivery["attempts"] == 1 and delivery["status"] == "pending"
    assert "no answer within" in (delivery["last_error"] or "")


async def test_a_stop_in_a_hurry_still_ends_the_dispatcher_before_it_returns(
    engine: AsyncEngine,
    session: aiohttp.ClientSession,
    receiver_factory: Callable[..., Any],
) -> None:
    """A stop that is itself cancelled while the round sends (as `stop_task` cancels whatever
    stops, again and again): the round is cut short, but the dispatcher has ended when the
    stop returns, rather than running on, shielded, with a store connection after its owner
    closed the engine."""
    d = await dispatcher_hanging_mid_send(engine, session, receiver_factory)
    stopping = asyncio.create_task(d.stop())
    await asyncio.sleep(0.05)  # the stop waits for the round, which hangs on its send
    assert await stop_task(stopping, give_up_after=5)
    left = [t for t in asyncio.all_tasks() if t.get_name() == "alerts-dispatcher"]
    assert all(t.done() for t in left), "the dispatcher ran on after its stop returned"


async def test_teams_and_slack_get_one_message_each_with_post_text_inert(
    engine: AsyncEngine,
    session: aiohttp.ClientSession,
    receiver_factory: Callable[..., Any],
) -> None:
    clock = Clock()
    teams = await receiver_factory(202)
    slack = await receiver_factory(500, 200)
    env = {"T_TEAMS_URL": teams.url("/workflows"), "T_SLACK_URL": slack.url("/services/T/B/x")}
    config = config_from(routing(), env)
    await open_alert(engine, {"kind": "chat", "area": "Heaton"}, excerpts=[SCRIPT_PAYLOAD])
    await enqueue(engine, config, env)
    d = make_dispatcher(engine, config, env, session, clock)
    await rounds(d, clock, 20)
    assert len(teams.requests) == 1
    assert len(slack.requests) == 2  # one 500, then delivered
    card = teams.requests[0].json()
    assert card["type"] == "message"
    attachment = card["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["content"]["type"] == "AdaptiveCard"
    carriers = list(_text_carriers(attachment["content"]))
    holding = [kind for kind, text in carriers if SCRIPT_PAYLOAD in text]
    assert holding == ["TextRun"]  # shown literally: TextRuns do not render markdown
    assert not any(kind == "TextBlock" for kind, _ in carriers)
    posted = slack.requests[-1].body.decode()
    payload = json.loads(posted)
    texts = [b["text"]["text"] for b in payload["blocks"] if "text" in b] + [
        e["text"] for b in payload["blocks"] for e in b.get("elements", [])
    ]
    joined = "\n".join(texts)
    assert "&lt;script&gt;" in joined and "<script>" not in joined
    assert "<!channel>" not in joined and "<https://evil.example/|click here>" not in joined
    assert "&lt;!channel&gt;" in joined
    assert payload["unfurl_links"] is False
    await rounds(d, clock, 10, step=600)
    assert (len(teams.requests), len(slack.requests)) == (1, 2)


def _text_carriers(node: Any) -> Any:
    if isinstance(node, dict):
        if "text" in node and isinstance(node["text"], str):
            yield node.get("type", "?"), node["text"]
        for value in node.values():
            yield from _text_carriers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _text_carriers(item)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(name for name, _ in attrs)


async def test_email_once_per_recipient_with_451_retried_and_550_final(
    engine: AsyncEngine,
    session: aiohttp.ClientSession,
    smtp_server: tuple[SmtpHandler, int],
) -> None:
    handler, port = smtp_server
    handler.refuse["b@council.example"] = ["451 4.3.0 try again later"]
    handler.refuse["gone@council.example"] = ["550 5.1.1 no such mailbox"] * 10
    clock = Clock()
    config = config_from(routing(port))
    await open_alert(engine, {"kind": "mail", "area": "Toller"}, excerpts=[SCRIPT_PAYLOAD])
    await enqueue(engine, config, {})
    d = make_dispatcher(engine, config, {}, session, clock)
    await rounds(d, clock, 30)
    assert [len(handler.to(a)) for a in ("a@council.example", "b@council.example")] == [1, 1]
    assert handler.to("gone@council.example") == []
    assert handler.rcpt_attempts["b@council.example"] == 2
    assert handler.rcpt_attempts["gone@council.example"] == 1  # 550 is final: never retried
    by_recipient = {s["recipient"]: s for s in await delivery_states(engine)}
    assert by_recipient["gone@council.example"]["status"] == "failed"
    assert "550" in by_recipient["gone@council.example"]["last_error"]
    mail = handler.to("a@council.example")[0]
    key = by_recipient["a@council.example"]["idempotency_key"]
    assert mail["Message-ID"] == f"<{key}@council.example>"
    assert mail.get_content_type() == "multipart/alternative"
    text_part, html_part = mail.get_payload()  # type: ignore[misc]
    assert SCRIPT_PAYLOAD in text_part.get_payload(decode=True).decode()
    html = html_part.get_payload(decode=True).decode()
    parsed = _Tags()
    parsed.feed(html)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert "onerror" not in parsed.attrs
    assert "&lt;script&gt;" in html
    await rounds(d, clock, 10, step=600)
    assert len(handler.messages) == 2


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    try:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-keyout",
                str(key),
                "-out",
                str(cert),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"openssl could not make a test certificate: {exc}")
    return cert, key


def _message() -> Message:
    return Message(subject="test", text="plain", html="<p>html</p>", data={"type": "alert"})


@pytest.mark.parametrize("mode", ["starttls", "tls"])
async def test_email_over_starttls_and_implicit_tls(
    certificate: tuple[Path, Path], mode: str
) -> None:
    from aiosmtpd.controller import Controller

    cert, key = certificate
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    handler = SmtpHandler()
    port = free_port()
    if mode == "starttls":
        controller = Controller(
            handler, hostname="127.0.0.1", port=port, tls_context=server_ctx, require_starttls=True
        )
    else:
        controller = Controller(handler, hostname="127.0.0.1", port=port, ssl_context=server_ctx)
    controller.start()
    try:
        notifier = EmailNotifier(
            host="127.0.0.1",
            sender="monitor@council.example",
            port=port,
            tls=mode,
            timeout=10,
            tls_context=client_ctx,
        )
        outcome = await notifier.send(_message(), "a@council.example", "k1", NOW)
        assert outcome.ok, outcome.error
        assert len(handler.to("a@council.example")) == 1
        if mode == "starttls":
            plain = EmailNotifier(
                host="127.0.0.1", sender="monitor@council.example", port=port, tls="none"
            )
            refused = await plain.send(_message(), "a@council.example", "k2", NOW)
            assert not refused.ok and refused.retryable  # the server insists on STARTTLS
    finally:
        controller.stop()


async def test_two_dispatchers_on_one_store_deliver_each_alert_once(
    sqlite_url: str,
    session: aiohttp.ClientSession,
    receiver_factory: Callable[..., Any],
) -> None:
    import asyncio

    hook = await receiver_factory()
    env = {"T_WEBHOOK_URL": hook.url(), "T_WEBHOOK_SECRET": SECRET}
    config = config_from(routing(), env)
    first = await make_store(sqlite_url)
    second = await make_store(sqlite_url)
    try:
        for i in range(20):
            await open_alert(first, {"kind": "threat", "area": f"Ward {i}"})
        await enqueue(first, config, env)
        clock = Clock()
        a = make_dispatcher(first, config, env, session, clock)
        b = make_dispatcher(second, config, env, session, clock)
        for _ in range(5):
            await asyncio.gather(a.run_once(clock.now), b.run_once(clock.now))
            clock.advance(seconds=1)
        ids = [r.headers["webhook-id"] for r in hook.requests]
        assert len(ids) == len(set(ids)) == 20
        assert a.sent + b.sent == 20
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_dead_receiver_does_not_hold_up_the_others(
    engine: AsyncEngine,
    session: aiohttp.ClientSession,
    receiver_factory: Callable[..., Any],
) -> None:
    clock = Clock()
    teams = await receiver_factory(202)
    env = {
        "T_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/hook",  # dead
        "T_WEBHOOK_SECRET": SECRET,
        "T_TEAMS_URL": teams.url(),
    }
    config = config_from(routing(), env)
    for i in range(12):
        await open_alert(engine, {"kind": "threat", "area": f"Ward {i}"})
    await open_alert(engine, {"kind": "chat", "area": "Heaton"})  # queued behind all of them
    await enqueue(engine, config, env)
    d = make_dispatcher(engine, config, env, session, clock)
    d.batch = 5
    await rounds(d, clock, 5)
    assert len(teams.requests) == 1


async def test_a_digest_reaches_teams_and_slack_as_text(
    engine: AsyncEngine,
    session: aiohttp.ClientSession,
    receiver_factory: Callable[..., Any],
) -> None:
    from monitor.alerts.digests import DigestService

    teams, slack = await receiver_factory(202), await receiver_factory(200)
    env = {"T_TEAMS_URL": teams.url(), "T_SLACK_URL": slack.url()}
    text = (
        routing()
        + """
digests:
  - name: brief
    title: Morning rumour brief
    schedule: "30 7 * * mon-fri"
    receivers: [chat]
    sections: [levels, rumours]
    excerpts: true
"""
    )
    config = config_from(text, env)
    await open_alert(
        engine,
        {"kind": "rumour_spreading", "cluster": "c1", "area": "Toller"},
        excerpts=[SCRIPT_PAYLOAD],
    )
    clock = Clock(NOW)  # Tuesday 10:00: the 07:30 brief is due (late)
    digests = DigestService(engine, config, envs(), environ=env, clock=clock)
    assert await digests.run("brief") is not None
    d = make_dispatcher(engine, config, env, session, clock)
    await rounds(d, clock, 3)
    assert (len(teams.requests), len(slack.requests)) == (1, 1)
    card = teams.requests[0].json()["attachments"][0]["content"]
    runs = [r for block in card["body"] for r in block["inlines"]]
    assert runs[0]["text"].startswith("Morning rumour brief (late)")
    assert runs[1]["fontType"] == "Monospace" and "RUMOURS BY SPREAD" in runs[1]["text"]
    posted = slack.requests[0].json()
    assert posted["blocks"][1]["text"]["text"].startswith("```Morning rumour brief")
    assert "<script>" not in json.dumps(posted)


async def test_an_email_leaves_out_a_post_deleted_since_and_says_so(
    engine: AsyncEngine,
    session: aiohttp.ClientSession,
    smtp_server: tuple[SmtpHandler, int],
) -> None:
    """A deletion's tombstone was recorded but its purge never ran (the process died between
    the two): the notification checks at send time, leaves the post out and says so."""
    from monitor.store import tombstones
    from monitor.store.tables import alert_posts

    handler, port = smtp_server
    clock = Clock()
    config = config_from(routing(port))
    kept, deleted = "(fictional) road closed by the station", "(fictional) claim its author deleted"
    alert_id = await open_alert(
        engine, {"kind": "mail", "area": "Toller"}, excerpts=[kept, deleted]
    )
    async with engine.begin() as conn:
        gone = (
            await conn.execute(
                select(alert_posts.c.post_id).where(alert_posts.c.excerpt == deleted)
            )
        ).scalar_one()
        await tombstones.record_posts(conn, [gone], NOW)  # ...and no purge: the crash
    await enqueue(engine, config, {})
    d = make_dispatcher(engine, config, {}, session, clock)
    await rounds(d, clock, 30)
    mail = handler.to("a@council.example")[0]
    text_part, html_part = mail.get_payload()  # type: ignore[misc]
    text = text_part.get_payload(decode=True).decode()
    html = html_part.get_payload(decode=True).decode()
    assert kept in text and kept in html
    assert deleted not in text and deleted not in html
    assert "1 post not quoted: deleted by its author since" in text
    assert "1 post not quoted: deleted by its author since" in html
    async with engine.connect() as conn:
        left = (
            (
                await conn.execute(
                    select(alert_posts.c.excerpt).where(alert_posts.c.alert_id == alert_id)
                )
            )
            .scalars()
            .all()
        )
    assert sorted(left, key=str) == sorted([kept, None], key=str)  # purged at rest too


async def test_the_send_time_purge_deletes_the_posts_rows_in_the_encoding_cache(
    engine: AsyncEngine,
    session: aiohttp.ClientSession,
    smtp_server: tuple[SmtpHandler, int],
    tmp_path: Path,
) -> None:
    """The same crash, with `classifier_encoding_cache` on: the send-time purge also deletes
    the rows the classifier wrote for the post's text (monitor/classify/disk_cache.py)."""
    from dataclasses import replace

    from monitor.classify.disk_cache import DiskCacheConfig, EncodingEraser
    from monitor.store import posts as post_store
    from monitor.store import tombstones
    from monitor.store.tables import alert_posts
    from tests.classify.cache_rows import found, served, store
    from tests.privacy.helpers import make_post

    _handler, port = smtp_server
    clock = Clock()
    config = config_from(routing(port))
    kept, deleted = "(fictional) road closed by the station", "(fictional) claim its author deleted"
    await open_alert(engine, {"kind": "mail", "area": "Toller"}, excerpts=[kept, deleted])
    async with engine.begin() as conn:
        ids = dict((await conn.execute(select(alert_posts.c.excerpt, alert_posts.c.post_id))).all())
        stored = [replace(make_post(i, t), id=ids[t]) for i, t in enumerate([kept, deleted])]
        await post_store.insert_posts(conn, stored)
        await tombstones.record_posts(conn, [ids[deleted]], NOW)  # ...and no purge: the crash
    store(tmp_path, [served(kept), served(deleted)])
    await enqueue(engine, config, {})
    d = make_dispatcher(engine, config, {}, session, clock)
    d.encodings = EncodingEraser(DiskCacheConfig(tmp_path, 1000, 30))
    await rounds(d, clock, 30)
    assert found(tmp_path, [served(kept), served(deleted)]) == {served(kept)}
