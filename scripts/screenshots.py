"""Photograph the main pages on the demo data for the README (see scripts/screenshots)."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
from pathlib import Path

from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from playwright.async_api import Page, async_playwright

from monitor.classify.keyword import KeywordClassifier
from monitor.config import Settings
from monitor.web.accounts import Passwords
from monitor.web.demo_site import DemoSite, demo_site

ROOT = Path(__file__).resolve().parent.parent
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


async def sign_in(page: Page, site: DemoSite, role: str, purpose: str | None) -> None:
    await page.goto(site.url + "/login")
    await page.get_by_label("User name").fill(role)
    await page.get_by_label("Password").fill(site.passwords[role])
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(site.url + "/")
    if purpose:
        await page.goto(site.url + "/purpose?next=/")
        await page.get_by_label(purpose).check()
        await page.get_by_role("button", name="Continue").click()


async def shoot(page: Page, site: DemoSite, path: str, out: Path, full: bool = False) -> None:
    await page.goto(site.url + path)
    await page.screenshot(path=str(out), full_page=full)
    print(f"{out.relative_to(ROOT)}  ({path})")


async def demo_rumour(page: Page, site: DemoSite) -> str:
    await page.goto(site.url + "/rumours")
    href = (
        await page.locator("table tbody tr").first.get_by_role("link").first.get_attribute("href")
    )
    return href or "/rumours"


async def main(out_dir: Path, chromium: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'demo.db'}",
            home=str(ROOT),
            classifier="keyword",
        )
        async with (
            demo_site(
                settings,
                classifier=KeywordClassifier(),
                hasher=Passwords(PasswordHasher.from_parameters(CHEAPEST)),
            ) as site,
            async_playwright() as p,
        ):
            browser = await p.chromium.launch(executable_path=chromium, args=ARGS)
            size = {"width": 1280, "height": 900}

            analyst = await (await browser.new_context(viewport=size)).new_page()
            await sign_in(analyst, site, "analyst", "Triage of an alert in the review queue")
            await shoot(analyst, site, "/", out_dir / "overview.png")
            await shoot(analyst, site, "/queue", out_dir / "review-queue.png")
            first = analyst.locator("#queue tbody tr").first
            alert_id = await first.get_attribute("data-alert")
            await first.get_by_role("button", name=f"Take alert {alert_id}").click()
            await shoot(analyst, site, f"/alerts/{alert_id}", out_dir / "alert-evidence.png")
            await shoot(analyst, site, "/areas?shade=flagged", out_dir / "areas-map.png")
            await shoot(
                analyst,
                site,
                "/trends?area=ward:Little+Horton&from=2026-11-04&to=2026-11-06",
                out_dir / "trends.png",
            )
            phone = await (
                await browser.new_context(viewport={"width": 390, "height": 844})
            ).new_page()
            await sign_in(phone, site, "analyst", "Triage of an alert in the review queue")
            await phone.goto(site.url + "/queue")  # the cards, below the filters
            await phone.evaluate("document.getElementById('queue').scrollIntoView()")
            await phone.screenshot(path=str(out_dir / "review-queue-phone.png"))
            print(f"{(out_dir / 'review-queue-phone.png').relative_to(ROOT)}  (/queue at 390 px)")

            comms = await (await browser.new_context(viewport=size)).new_page()
            await sign_in(comms, site, "comms", "Preparing or checking a counter message")
            await shoot(comms, site, "/rumours", out_dir / "rumour-board.png")
            rumour = await demo_rumour(comms, site)
            await shoot(comms, site, rumour, out_dir / "rumour.png")
            await comms.goto(site.url + rumour + "/counter")
            await comms.get_by_label("The claim, in your words").fill(
                "the old mill on Toller Lane is being given to asylum seekers first"
            )
            await comms.get_by_label("Fact 1", exact=True).fill(
                "The old mill on Toller Lane is being converted into flats for sale"
            )
            await comms.get_by_label("Source of fact 1").fill("Planning decision 24/05678")
            await comms.get_by_label("Trusted messengers").fill("Toller ward councillors")
            await comms.get_by_label("Council website").check()
            await comms.get_by_role("button", name="Fill the draft from the template").click()
            await comms.get_by_role(
                "button", name="Save draft", exact=True
            ).scroll_into_view_if_needed()
            await comms.screenshot(path=str(out_dir / "counter-planner.png"))
            print(f"{(out_dir / 'counter-planner.png').relative_to(ROOT)}  ({rumour}/counter)")

            liaison = await (await browser.new_context(viewport=size)).new_page()
            await sign_in(liaison, site, "liaison", None)
            await shoot(liaison, site, "/digests", out_dir / "digests.png")

            admin = await (await browser.new_context(viewport=size)).new_page()
            await sign_in(admin, site, "admin", None)
            await shoot(admin, site, "/audit?verify=1", out_dir / "audit-log.png")
            # the rule editor's backtest of a demo pack file over the stored week (no publish)
            await admin.goto(site.url + "/purpose?next=/rules")
            await admin.get_by_label("Reviewing the classifier's mistakes").check()
            await admin.get_by_role("button", name="Continue").click()
            await admin.goto(site.url + "/admin/rules/tension/incident.yaml")
            await admin.get_by_role("button", name="Backtest").click()
            await admin.evaluate("document.getElementById('bt-h').scrollIntoView()")
            await admin.screenshot(path=str(out_dir / "rule-backtest.png"))
            print(f"{(out_dir / 'rule-backtest.png').relative_to(ROOT)}  (tension/incident.yaml)")
            await browser.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    asyncio.run(main(args.out, args.chromium))
