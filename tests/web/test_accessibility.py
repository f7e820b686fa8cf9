"""axe-core on every page each role can reach in the demo (a crawl from the main menu): no
violation of impact moderate or worse. And at 390 px (a phone) the queue, rumours, areas and
digests fit the screen: no sideways scrolling.

axe-core is vendored in tests/fixtures/axe (MPL-2.0, see its README). It is injected into a
browser context that bypasses the Content-Security-Policy, since the policy rightly refuses any
script the app did not serve; tests/web/test_browser.py checks the policy itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from monitor.web.demo_site import DemoSite
from tests.web.test_browser import ARGS, CHROMIUM, Served, browser, served, sign_in

__all__ = ["browser", "served"]  # fixtures

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE = (Path(__file__).parents[1] / "fixtures" / "axe" / "axe.min.js").read_text("utf-8")
SERIOUS = ("moderate", "serious", "critical")
SKIP = ("/logout", "/events", "/static/", "/api/", "/login")
MOST_PAGES = 80
PURPOSE = {
    "admin": "Reviewing the classifier's mistakes",
    "comms": "Preparing or checking a counter message",
    "analyst": "Triage of an alert in the review queue",
}


def axe_context(browser: Any, **options: Any) -> Any:
    """A browser context whose every page has axe-core loaded, as an init script: handed to
    the browser once, not sent with each page (about a quarter of a crawl's time went on
    evaluating its 650 kB again on every page); the policy is bypassed for it."""
    context = browser.new_context(bypass_csp=True, **options)
    context.add_init_script(AXE)
    return context


@pytest.fixture
def axe_page(browser: Any) -> Iterator[Any]:
    context = axe_context(browser, viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(20000)
    yield pg
    context.close()


def _violations(page: Any) -> list[str]:
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
             .map(v => ({id: v.id, impact: v.impact, help: v.help,
                         nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"""
    )
    return [
        f"{v['impact']} {v['id']}: {v['help']} at {v['nodes']}"
        for v in found
        if v["impact"] in SERIOUS
    ]


def _links(page: Any, origin: str) -> list[str]:
    hrefs: list[str] = page.evaluate(
        "() => [...[...document.querySelectorAll('a[href]')]"
        "  .map(a => new URL(a.getAttribute('href'), location.href).href),"
        " ...[...document.querySelectorAll('form[method=get]')]"  # previews, filters
        "  .map(f => new URL(f.getAttribute('action') || '', location.href).href)]"
    )
    out = []
    for href in hrefs:
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" != origin:
            continue
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if path.startswith(SKIP) or path.endswith((".csv", ".docx", ".pdf")):
            continue
        out.append(path)
    return out


def _crawl(page: Any, site: DemoSite, role: str) -> dict[str, list[str]]:
    sign_in(page, site, role)
    if role in PURPOSE:
        page.goto(site.url + "/purpose?next=/")
        page.get_by_label(PURPOSE[role]).check()
        page.get_by_role("button", name="Continue").click()
    todo, seen, problems = ["/"], set(), {}
    kinds: set[str] = set()
    while todo and len(seen) < MOST_PAGES:
        path = todo.pop(0)
        # one page per kind of address (/alerts/12 and /alerts/13 are the same template)
        kind = "/".join("N" if p.isdigit() else p for p in path.split("?")[0].split("/"))
        if path in seen or (kind in kinds and kind != "/"):
            continue
        seen.add(path)
        kinds.add(kind)
        response = page.goto(site.url + path)
        if (
            response is None
            or response.status >= 400
            or "text/html" not in (response.headers.get("content-type") or "")
        ):
            continue
        bad = _violations(page)
        if bad:
            problems[path] = bad
        todo.extend(_links(page, site.url))
    assert len(seen) >= 5, f"{role}: the crawl reached only {sorted(seen)}"
    return problems


@pytest.mark.parametrize("role", ["admin", "analyst", "comms", "liaison"])
def test_every_page_has_no_moderate_or_worse_axe_violation(
    served: tuple[Served, DemoSite], axe_page: Any, role: str
) -> None:
    _, site = served
    problems = _crawl(axe_page, site, role)
    assert not problems, "\n".join(f"{p}: {v}" for p, vs in problems.items() for v in vs)


@pytest.mark.parametrize("path", ["/queue", "/rumours", "/areas", "/digests"])
def test_phone_width_pages_do_not_scroll_sideways(
    served: tuple[Served, DemoSite], browser: Any, path: str
) -> None:
    _, site = served
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, site, "admin")
    page.goto(site.url + "/purpose?next=/")
    page.get_by_label(PURPOSE["admin"]).check()
    page.get_by_role("button", name="Continue").click()
    page.goto(site.url + path)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    wide = page.evaluate(
        """() => [...document.querySelectorAll('main *, header *')]
             .filter(e => e.getBoundingClientRect().right > 391)
             .filter(e => !(e.parentElement && e.parentElement.getBoundingClientRect().right > 391))
             .slice(0, 8)
             .map(e => e.tagName + '.' + e.className + '#' + e.id + ' '
                       + Math.round(e.getBoundingClientRect().right))"""
    )
    context.close()
    assert width <= 390, f"{path} is {width} px wide at 390 px: {wide}"


def test_chromium_is_the_one_the_browser_tests_use() -> None:
    assert CHROMIUM and ARGS
