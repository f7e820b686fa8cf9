"""Finding 12: `next=` must never send a browser off the site, on any of the pages that take it."""

from __future__ import annotations

import pytest

from monitor.web.render import safe_next
from tests.web.conftest import PASSWORD, Client, csrf_of, sign_in

# Each of these is read by some browser as another host: tabs and newlines are dropped inside
# URLs, a backslash is read as a slash, and a scheme or authority is another site.
OFF_SITE = (
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/\\evil.example",
    "//evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "/\x00/evil.example",
    "/\u3000/evil.example",
    "",
    "evil.example",
)


@pytest.mark.parametrize("target", OFF_SITE)
def test_safe_next_refuses_anything_a_browser_could_read_as_another_site(target: str) -> None:
    assert safe_next(target) == "/"


@pytest.mark.parametrize("target", ["/queue?status=new", "/alerts/3", "/rumours/2#plan"])
def test_safe_next_keeps_paths_on_this_site(target: str) -> None:
    assert safe_next(target) == target


async def test_sign_in_with_a_tab_encoded_next_stays_on_site(
    client: Client, users: dict[str, str]
) -> None:
    # The probe from the finding, sent as a browser sends it (percent-encoded in the query).
    form = await client.get("/login?next=/%09/evil.example")
    assert 'name="next" value="/"' in await form.text()
    token = csrf_of(await form.text())
    r = await client.post(
        "/login",
        data={
            "username": "analyst",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "/\t/evil.example",
        },
        allow_redirects=False,
    )
    assert r.status == 303 and r.headers["Location"] == "/"


async def test_a_signed_in_visit_to_login_purpose_and_justify_stays_on_site(
    client: Client, users: dict[str, str]
) -> None:
    csrf = await sign_in(client, "analyst")
    r = await client.get("/login?next=/%09/evil.example", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/"
    r = await client.post(
        "/purpose",
        data={"choice": "triage", "details": "x", "csrf_token": csrf, "next": "/\t/evil.example"},
        allow_redirects=False,
    )
    assert r.status == 303 and r.headers["Location"] == "/"
    page = await client.get("/purpose?next=/%09/evil.example")
    assert '<input type="hidden" name="next" value="/">' in await page.text()
    # No author was viewed before, so the guard lets the user straight on to `next`.
    r = await client.get("/justify?context=alert:1&next=/%09/evil.example", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/"
