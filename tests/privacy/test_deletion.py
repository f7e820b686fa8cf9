"""A deletion reported by a platform is honoured everywhere the text was kept: the post, the
alert's excerpt, notifications not yet sent, messages already in the local mailbox, stored
digests, and the database file and its write-ahead log."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from monitor.alerts.config import DigestSpec
from monitor.alerts.digests import digest_view
from monitor.alerts.dispatcher import Dispatcher
from monitor.alerts.render import AlertMessage, make_environment, render_alert, render_digest
from monitor.alerts.schedule import Period, parse_cron
from monitor.alerts.service import load_alert_config
from monitor.config import Settings
from monitor.safeguards import retention
from monitor.store import posts as post_store
from monitor.store.tables import alert_posts, alerts, digest_runs, mailbox, posts
from tests.privacy.helpers import NOW, file_bytes, make_post, store_posts

ROOT = Path(__file__).resolve().parents[2]
# Characters the HTML templates escape, so that escaped copies are checked too.
DELETED = 'FICTIONDEL Don\'t let "them" <in> at Fern Street & the Greyfield Hotel tonight'
KEPT = "FICTIONKEEP everyone to Fern Street at 7pm, enough is enough"
MARKERS = (b"FICTIONDEL", b"them&#34;", b"&lt;in&gt;", b"&#39;t let")


async def _rendered_copies(engine: AsyncEngine, dispatcher: Dispatcher, alert_id: int) -> None:
    """A delivered alert in the local mailbox and a stored digest, both rendered for real."""
    envs = make_environment(ROOT / "alerts" / "templates")
    async with engine.begin() as conn:
        views = await dispatcher.alert_views(conn, [alert_id])
        msg = render_alert(
            AlertMessage(receiver="analysts", reason="alert", alerts=tuple(views)), envs
        )
        await conn.execute(
            insert(mailbox).values(
                idempotency_key="m1", mailbox="analysts", subject=msg.subject, text=msg.text,
                html=msg.html, kind="alert", sent_at=NOW,
            )
        )  # fmt: skip
        spec = DigestSpec(
            name="daily", title="Daily digest", cron=parse_cron("0 7 * * *"),
            receivers=("analysts",), sections=("alerts",), excerpts=True,
        )  # fmt: skip
        period = Period(NOW - timedelta(days=1), NOW + timedelta(hours=1), "2026-11-20T07:00")
        view = await digest_view(conn, spec, period, late=False, now=NOW)
        digest = render_digest(view, envs)
        await conn.execute(
            insert(digest_runs).values(
                digest="daily", period=period.key, period_start=period.start,
                period_end=period.end, late=False, claimed_by="test", claimed_at=NOW,
                subject=digest.subject, text=digest.text, html=digest.html, data=view,
            )
        )  # fmt: skip


async def test_platform_deletion_removes_text_from_alerts_outbox_mailbox_digests_and_disk(
    engine: AsyncEngine, db_path: Path
) -> None:
    gone, kept = make_post(1, DELETED), make_post(2, KEPT)
    await store_posts(engine, [gone, kept], alert=True, at=NOW)
    settings = Settings(home=str(ROOT))
    envs = make_environment(ROOT / "alerts" / "templates")
    dispatcher = Dispatcher(engine, load_alert_config(settings, ROOT, {}), {}, envs, environ={})
    async with engine.connect() as conn:
        alert_id = (await conn.execute(select(alerts.c.id))).scalar_one()
    await _rendered_copies(engine, dispatcher, alert_id)
    before = file_bytes(db_path)
    assert all(m in before for m in MARKERS), "the copies must exist for the test to mean much"

    async with engine.begin() as conn:
        assert await post_store.purge_text(conn, [gone.id], NOW) == 1
    await retention.checkpoint(engine)

    async with engine.connect() as conn:
        text = dict((await conn.execute(select(posts.c.id, posts.c.text))).all())
        excerpts = dict(
            (await conn.execute(select(alert_posts.c.post_id, alert_posts.c.excerpt))).all()
        )
        box = (await conn.execute(select(mailbox.c.text, mailbox.c.html))).one()
        run = (
            await conn.execute(select(digest_runs.c.text, digest_runs.c.html, digest_runs.c.data))
        ).one()
        pending = await dispatcher.alert_views(conn, [alert_id])
    assert text[gone.id] is None and excerpts[gone.id] is None
    assert text[kept.id] == KEPT and excerpts[kept.id] == KEPT
    # A notification still in the outbox is rendered at send time: the excerpt is not in it.
    assert [list(v.excerpts) for v in pending] == [[KEPT]]
    for stored in (*box, run.text, run.html, str(run.data)):
        assert "FICTIONDEL" not in stored and "Greyfield Hotel tonight" not in stored
    assert "FICTIONKEEP" in box.text  # other posts' excerpts in the same message stay
    raw = file_bytes(db_path)
    assert not any(m in raw for m in MARKERS)
    assert b"FICTIONKEEP" in raw


async def test_short_excerpts_do_not_damage_unrelated_text(engine: AsyncEngine) -> None:
    short = make_post(3, "Yes.")
    await store_posts(engine, [short], alert=True, at=NOW)
    async with engine.begin() as conn:
        await conn.execute(
            insert(mailbox).values(
                idempotency_key="m2", mailbox="analysts", subject="s", text="Yes. Acknowledge it.",
                html="<p>Yes.</p>", kind="alert", sent_at=NOW,
            )
        )  # fmt: skip
        await post_store.purge_text(conn, [short.id], NOW)
        box = (await conn.execute(select(mailbox.c.text))).scalar_one()
    assert box == "Yes. Acknowledge it."
