"""End-to-end in headless Chromium (Debian's `chromium`, driven by Playwright) on the demo data.

The app runs in-process on an ephemeral port with the bundled fictional scenario imported
(keyword classifier). Outside CI these tests skip, saying why, when chromium is not installed;
in CI (CI=true) they fail instead, so a CI machine without a browser cannot pass by skipping.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from sqlalchemy import select

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.store.tables import alerts, counter_plans, notifications
from monitor.web.accounts import Passwords
from monitor.web.demo_site import DemoSite, demo_site
from tests.conftest import IN_CI, ROOT
from tests.web.conftest import raw

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAYLOAD = (
    "(fictional) send them back, Toller scum <script>alert('x')</script>"
    "<img src=x onerror=alert(1)>"
)
T = TypeVar("T")
S = TypeVar("S")


def require_chromium() -> None:
    if Path(CHROMIUM).is_file():
        return
    message = f"{CHROMIUM} not found (Debian package `chromium`)"
    if IN_CI:
        pytest.fail(message + " — CI must install it (scripts/test does, as root)")
    pytest.skip(message + "; `apt-get install chromium` to run the browser tests")


class ServedInThread(Generic[S]):
    """A site (what `open` yields) on its own event loop in a thread, so tests can drive a real
    browser; start-up failures are reported to the test through `ready`, not lost in the thread.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready: Future[S] = Future()
        self.stop = asyncio.Event()
        self.thread = threading.Thread(target=self._main, daemon=True)

    def open(self) -> AbstractAsyncContextManager[S]:
        raise NotImplementedError

    def _main(self) -> None:
        self.loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        try:
            async with self.open() as site:
                self.ready.set_result(site)
                await self.stop.wait()
        except BaseException as exc:  # report start-up failures to the test, not the thread
            if not self.ready.done():
                self.ready.set_exception(exc)
            raise

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=60)


class Served(ServedInThread[DemoSite]):
    """The demo site, served in a thread."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def open(self) -> AbstractAsyncContextManager[DemoSite]:
        return demo_site(
            self.settings,
            classifier=KeywordClassifier(),
            hasher=Passwords(PasswordHasher.from_parameters(CHEAPEST)),
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, DemoSite]]:
    require_chromium()
    db = tmp_path_factory.mktemp("browser") / "demo.db"
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{db}",
        home=str(ROOT),
        classifier="keyword",
        web_events_poll_seconds=0.5,
    )
    server = Served(settings)
    server.thread.start()
    site = server.ready.result(timeout=600)

    async def add_payload() -> None:  # a flagged post whose text is a script payload
        await site.runtime.pipeline.deliver("test", [raw(4242, PAYLOAD)], None)
        await site.runtime.pipeline.drain()

    server.run(add_payload())
    yield server, site
    server.close()


@pytest.fixture(scope="module")
def browser(served: tuple[Served, DemoSite]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15000)
    yield pg
    context.close()


def sign_in(page: Any, site: DemoSite, role: str) -> None:
    page.goto(site.url + "/login")
    page.get_by_label("User name").fill(role)
    page.get_by_label("Password").fill(site.passwords[role])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site.url + "/")


def state_purpose(page: Any, choice: str) -> None:
    page.wait_for_url(re.compile(r"/purpose\?next="))
    page.get_by_label(choice).check()
    page.get_by_role("button", name="Continue").click()


def focused_row(page: Any) -> str | None:
    return page.evaluate("() => document.activeElement?.closest('tr')?.dataset.alert ?? null")


def test_analyst_takes_an_alert_and_dismisses_it_with_a_reason(
    served: tuple[Served, DemoSite], page: Any
) -> None:
    server, site = served
    sign_in(page, site, "analyst")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts").click()
    first = page.locator("#queue tbody tr").first
    alert_id = int(first.get_attribute("data-alert"))
    first.get_by_role("button", name=f"Take alert {alert_id}").click()
    page.wait_for_url(re.compile(r"/queue\?.*done=taken"))  # acted from the row: still here
    assert focused_row(page) == str(alert_id)
    assert "Locked: analyst" in page.locator(f"#alert-{alert_id}").inner_text()
    page.locator(f"#alert-{alert_id} [data-row-link]").click()
    state_purpose(page, "Triage of an alert in the review queue")
    page.goto(f"{site.url}/alerts/{alert_id}")
    assert page.get_by_text("You hold this alert").is_visible()
    assert page.locator("blockquote.excerpt").count() >= 1  # the evidence is shown
    page.get_by_label("Reason for dismissing").select_option("counter_speech")
    page.get_by_label("Note").fill("Residents rebutting the claim, not spreading it")
    page.get_by_role("button", name="Dismiss").click()
    page.wait_for_url(re.compile(r"/queue\?done=dismissed"))
    assert page.get_by_role("status").filter(has_text="Dismissed").is_visible()
    assert page.locator(f"#alert-{alert_id}").count() == 0

    async def status() -> tuple[str, str | None, str | None]:
        async with site.runtime.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(alerts.c.status, alerts.c.owner, alerts.c.dismiss_reason).where(
                        alerts.c.id == alert_id
                    )
                )
            ).one()
        return row.status, row.owner, row.dismiss_reason

    assert server.run(status()) == (
        "dismissed",
        "analyst",
        "counter_speech: Residents rebutting the claim, not spreading it",
    )


def test_comms_drafts_a_counter_message_for_the_demo_rumour(
    served: tuple[Served, DemoSite], page: Any
) -> None:
    server, site = served
    sign_in(page, site, "comms")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Rumours").click()
    state_purpose(page, "Preparing or checking a counter message")
    page.goto(site.url + "/rumours")
    top = page.locator("table tbody tr").first
    assert "old mill" in top.inner_text().lower(), "the demo rumour should lead the board"
    top.get_by_role("link").first.click()
    page.get_by_role("link", name="Plan a counter message").click()
    page.get_by_label("The claim, in your words").fill(
        "the old mill on Toller Lane is being given to asylum seekers ahead of local families"
    )
    page.get_by_label("Fact 1", exact=True).fill(
        "The old mill on Toller Lane is being converted into flats for sale, as planned since 2024"
    )
    page.get_by_label("Source of fact 1").fill("Planning decision 24/05678 (fictional)")
    page.get_by_label("Fact 2", exact=True).fill("Nobody has been moved down the housing list")
    page.get_by_label("Source of fact 2").fill("https://council.example/housing/allocations")
    page.get_by_label("Trusted messengers").fill("Toller ward councillors; the mill's neighbours")
    page.get_by_label("Council website").check()
    page.get_by_label("Community and faith leaders").check()
    page.get_by_role("button", name=re.compile("Fill the draft from the template")).click()
    draft = page.get_by_role("textbox", name="Draft")
    text = draft.input_value()
    assert "#MakeSureItAddsUp" in text and "Nobody has been moved down the housing list" in text
    assert "posts saying that the old mill on Toller Lane is being given" in text
    draft.fill(text + "\nQuestions? Ask at the Toller Community Centre.")
    page.get_by_role("button", name="Save draft", exact=True).click()
    assert page.get_by_role("status").filter(has_text="Draft saved").is_visible()
    assert page.get_by_text("Ready for approval by someone other than you").is_visible()

    async def plans() -> list[Any]:
        async with site.runtime.engine.connect() as conn:
            return list((await conn.execute(select(counter_plans))).all())

    saved = server.run(plans())
    assert len(saved) == 1 and saved[0].status == "draft" and saved[0].updated_by == "comms"
    assert saved[0].channels == ["Council website", "Community and faith leaders"]
    assert saved[0].draft.endswith("Toller Community Centre.")


def test_liaison_cannot_open_post_evidence(served: tuple[Served, DemoSite], page: Any) -> None:
    _, site = served
    sign_in(page, site, "liaison")
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Areas").is_visible()
    assert nav.get_by_role("link", name="Review queue").count() == 0
    assert nav.get_by_role("link", name="Rumours").count() == 0
    for path in ("/alerts/1", "/alerts/1/evidence.csv", "/rumours", "/queue", "/mailbox"):
        response = page.goto(site.url + path)
        assert response is not None and response.status == 403, path
        assert page.get_by_role("heading", name="Your role cannot open this page").is_visible()
    api = page.goto(site.url + "/api/v1/alerts/1")
    assert api is not None and api.status == 403
    response = page.goto(site.url + "/areas")
    assert response is not None and response.status == 200
    assert page.locator("blockquote").count() == 0


def test_pages_are_inert_labelled_and_keyboard_usable(
    served: tuple[Served, DemoSite], page: Any
) -> None:
    _, site = served
    dialogs: list[str] = []
    console: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    sign_in(page, site, "admin")
    page.goto(site.url + "/purpose?next=/")
    page.get_by_label("Reviewing the classifier's mistakes").check()
    page.get_by_role("button", name="Continue").click()
    ids = page.evaluate(
        "async () => (await (await fetch('/api/v1/alerts')).json()).alerts.map(a => a.id)"
    )
    pages = [
        "/",
        "/queue",
        "/areas",
        "/rumours",
        "/digests",
        "/rules",
        "/rules/try?query=scum",
        "/audit",
        "/sources",
        "/mailbox",
        "/admin/quarantine",
        *[f"/alerts/{i}" for i in ids[:6]],
    ]
    payload_seen = 0
    for path in pages:
        response = page.goto(site.url + path)
        assert response is not None and response.status == 200, path
        assert page.locator("img[src='x']").count() == 0, path
        assert page.locator("script:not([src])").count() == 0, path
        payload_seen += page.get_by_text("<script>alert('x')</script>", exact=False).count()
        unlabeled = page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea')]
                 .filter(e => e.type !== 'hidden' && !e.closest('[aria-hidden=true]'))
                 .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
                 .map(e => e.name || e.id)"""
        )
        assert unlabeled == [], f"{path}: form fields without a label: {unlabeled}"
        assert page.locator("h1").count() == 1, path
    assert payload_seen >= 1, "the payload should be visible as text on some evidence page"
    assert dialogs == [], f"a script ran: {dialogs}"
    assert not [c for c in console if "Content Security Policy" in c], console

    page.goto(site.url + "/queue")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    assert skip.evaluate("e => e === document.activeElement")
    page.keyboard.press("Enter")
    assert page.evaluate("() => location.hash") == "#main"


def test_the_queue_updates_live_when_someone_takes_an_alert(
    served: tuple[Served, DemoSite], page: Any, browser: Any
) -> None:
    _, site = served
    sign_in(page, site, "analyst")
    page.goto(site.url + "/queue")
    row = page.locator("#queue tbody tr").first
    alert_id = row.get_attribute("data-alert")
    other = browser.new_context().new_page()
    sign_in(other, site, "admin")
    csrf = other.evaluate("async () => (await (await fetch('/api/v1/me')).json()).csrf_token")
    code = other.evaluate(
        """async ([id, token]) => (await (await fetch(`/api/v1/alerts/${id}/take`, {
               method: 'POST', headers: {'X-CSRF-Token': token, 'Content-Type': 'application/json'},
               body: '{}'})).json()).code""",
        [alert_id, csrf],
    )
    assert code == "taken"
    owner = page.locator(f"#alert-{alert_id} [data-field=owner]")
    owner.filter(has_text="Locked: admin").wait_for(timeout=15000)
    assert page.locator(f"#alert-{alert_id} [data-field=status]").inner_text() == "acknowledged"
    assert page.locator(f"#alert-{alert_id} form").count() == 0  # no Take button any more
    other.context.close()


def test_analyst_works_the_queue_by_keyboard_and_escalates_to_the_police_liaison(
    served: tuple[Served, DemoSite], page: Any
) -> None:
    """j/k move, t takes with the focus kept on that row, d selects for dismissing, e opens the
    Escalate form; the escalation says who was told and when, and the queue's filter stays."""
    server, site = served
    sign_in(page, site, "analyst")
    page.goto(site.url + "/purpose?next=/queue")
    page.get_by_label("Triage of an alert in the review queue").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/queue$"))
    rows = page.locator("#queue tbody tr")
    assert rows.count() >= 3
    kind = page.locator("#queue tbody tr td[data-label=Kind]").first.inner_text()
    page.get_by_label("Kind").select_option(kind)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"kind="))
    page.keyboard.press("j")
    first = focused_row(page)
    assert first == rows.first.get_attribute("data-alert")
    page.keyboard.press("j")
    second = focused_row(page)
    assert second == rows.nth(1).get_attribute("data-alert") and second != first
    page.keyboard.press("k")
    assert focused_row(page) == first
    page.keyboard.press("t")  # take the focused alert
    page.wait_for_url(re.compile(r"done=taken"))
    assert f"kind={kind}" in page.url  # the filter is kept
    assert focused_row(page) == first  # and the keyboard is where it was
    page.keyboard.press("j")
    target = focused_row(page)
    if target == first:  # the taken alert sorts after the new ones: it may be the last row
        page.keyboard.press("k")
        target = focused_row(page)
    assert target and target != first
    page.keyboard.press("d")  # select it for dismissing: the focus goes to the reason
    assert page.locator(f"#select-{target}").is_checked()
    assert page.evaluate("() => document.activeElement.id") == "bulk-reason"
    page.locator(f"#select-{target}").uncheck()

    page.locator(f"#alert-{first} [data-row-link]").focus()
    page.keyboard.press("e")
    page.wait_for_url(re.compile(rf"/alerts/{first}\?.*#escalate-to"))
    assert page.evaluate("() => document.activeElement.id") == "escalate-to"
    page.get_by_label("Tell").select_option("police-liaison")
    page.get_by_label("Why you escalate").fill(
        "(fictional) call to gather in Centenary Square, Friday 7pm"
    )
    page.get_by_role("button", name="Escalate now").click()
    page.wait_for_url(re.compile(r"done=escalated"))
    assert page.get_by_role("status").filter(has_text="Escalated").is_visible()
    told = page.locator("table", has_text="Recipient")
    assert "police-liaison" in told.inner_text()
    page.locator(".crumbs a").click()
    page.wait_for_url(re.compile(r"/queue\?"))
    assert f"kind={kind}" in page.url and focused_row(page) == first

    async def record() -> list[Any]:
        async with site.runtime.engine.connect() as conn:
            return list(
                (
                    await conn.execute(
                        select(notifications.c.receiver, notifications.c.created_at).where(
                            notifications.c.alert_id == int(first),
                            notifications.c.kind == "escalated",
                        )
                    )
                ).all()
            )

    rows_told = server.run(record())
    assert rows_told and {r.receiver for r in rows_told} == {"police-liaison"}


def test_comms_merges_two_rumours_and_records_a_verdict(
    served: tuple[Served, DemoSite], page: Any
) -> None:
    """Two rumours that are one claim: comms merges them from the rumour's page, and the
    board then shows one, with the verdict and who is on it."""
    from datetime import UTC, datetime

    from sqlalchemy import func, insert

    from monitor.store import signals as signal_store
    from monitor.store.tables import rumour_posts, rumours

    server, site = served

    async def second_cluster() -> tuple[int, int]:
        """A second, smaller cluster of the demo claim (as the stage makes one when the
        wording drifts), holding one of the leading rumour's later posts."""
        async with site.runtime.engine.begin() as conn:
            lead = (await signal_store.list_rumours(conn, limit=1))[0]["id"]
            post = (
                await conn.execute(
                    select(rumour_posts.c.post_id, rumour_posts.c.created_at)
                    .where(rumour_posts.c.rumour_id == lead)
                    .order_by(rumour_posts.c.created_at.desc())
                    .limit(1)
                )
            ).one()
            new_id = int((await conn.execute(select(func.max(rumours.c.id)))).scalar_one()) + 1
            now = datetime.now(UTC)
            await conn.execute(
                insert(rumours).values(
                    id=new_id, status="watching", registered=False,
                    representative="(fictional) is it true they're giving the mill away?",
                    first_seen=post.created_at, last_seen=post.created_at, post_count=1,
                    author_count=1, places={}, stance={"query": 1}, spreading=False,
                    centroid_count=0, revision=0, created_at=now, updated_at=now,
                )
            )  # fmt: skip
            await conn.execute(
                rumour_posts.update()
                .where(rumour_posts.c.post_id == post.post_id, rumour_posts.c.rumour_id == lead)
                .values(rumour_id=new_id)
            )
        return lead, new_id

    lead, other = server.run(second_cluster())
    sign_in(page, site, "comms")
    page.goto(f"{site.url}/rumours/{other}")
    state_purpose(page, "Preparing or checking a counter message")
    page.get_by_label("Same claim as").select_option(str(lead))
    page.get_by_label("Why they are one claim").fill("the same claim about the old mill")
    page.get_by_role("button", name="Merge into it").click()
    page.wait_for_url(re.compile(rf"/rumours/{lead}\?done=merged"))
    assert page.get_by_role("status").filter(has_text="Merged").is_visible()
    page.get_by_label("Verdict").select_option("false")
    page.get_by_label("On what facts").fill("Planning decision 24/05678 (fictional): flats")
    page.get_by_label("Who is on it").select_option("comms")
    page.get_by_role("button", name="Save verdict and assignee").click()
    page.wait_for_url(re.compile(r"done=triaged"))
    assert "nobody yet" not in page.locator("#r-facts + dl, .facts").first.inner_text()
    timeline = page.locator("section[aria-labelledby=r-time] svg")
    assert timeline.locator("text.tick").count() >= 2  # a time axis with labels
    page.goto(site.url + "/rumours")
    board = page.locator("table tbody").inner_text()
    assert f"r{other}" not in board and f"r{lead}" in board and "false" in board


def test_the_incident_queue_updates_live_when_an_incident_is_split(
    served: tuple[Served, DemoSite], page: Any, browser: Any
) -> None:
    _, site = served
    sign_in(page, site, "analyst")
    page.goto(site.url + "/incidents")
    state_purpose(page, "Triage of an alert in the review queue")
    page.wait_for_url(site.url + "/incidents")
    other = browser.new_context().new_page()
    sign_in(other, site, "admin")
    other.goto(site.url + "/incidents")
    state_purpose(other, "Triage of an alert in the review queue")
    csrf = other.evaluate("async () => (await (await fetch('/api/v1/me')).json()).csrf_token")
    incidents = other.evaluate("async () => (await (await fetch('/api/v1/incidents')).json())")
    target = max(incidents["incidents"], key=lambda i: i["alert_count"])
    one = other.evaluate(
        f"async () => (await (await fetch('/api/v1/incidents/{target['id']}')).json())"
    )
    moving = one["alerts"][-1]["id"]
    split = other.evaluate(
        """async ([id, alert, token]) => (await (await fetch(`/api/v1/incidents/${id}/split`, {
               method: 'POST', headers: {'X-CSRF-Token': token, 'Content-Type': 'application/json'},
               body: JSON.stringify({alerts: [alert], reason: 'a separate matter'})})).json())""",
        [target["id"], moving, csrf],
    )
    count = page.locator(f"#incident-{target['id']} [data-field=alert_count]")
    count.filter(has_text=str(target["alert_count"] - 1)).wait_for(timeout=15000)
    new = other.evaluate(
        f"async () => (await (await fetch('/api/v1/incidents/{split['incident']}')).json())"
    )
    if new["status"] == "open":  # else held below the gate: nobody's business yet
        page.locator("#live-status").filter(has_text="1 new incident has opened").wait_for(
            timeout=15000
        )
    else:
        assert page.locator("#live-status").inner_text() == ""
    other.context.close()


def test_liaison_reads_a_digest_with_the_gatherings_place_and_time(
    served: tuple[Served, DemoSite], page: Any
) -> None:
    """The police liaison officer opens Digests, previews the daily digest of the demo week's
    Friday, and reads where and when the gathering is, in sentences, with no post text."""
    _, site = served
    sign_in(page, site, "liaison")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Digests").click()
    row = page.locator("table tbody tr", has_text="liaison-daily")
    row.get_by_label("Period due on").fill("2026-11-06")
    row.get_by_role("button", name=re.compile("Preview")).click()
    page.wait_for_url(re.compile(r"/digests/preview/liaison-daily\?at=2026-11-06"))
    main = page.locator("main").inner_text()
    assert "Centenary Square, Friday 19:00" in main
    assert "Little Horton" in main and "kind=" not in main
    assert page.locator("blockquote").count() == 0  # aggregates and sentences only
