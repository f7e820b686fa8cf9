"""Input no store can keep, or no codec can read, is refused with 400 before any handler:
forms that are not UTF-8, NUL characters (PostgreSQL refuses them in text), lone surrogates,
JSON numbers Python cannot hold, and a CSRF header that is not ASCII. Each was a 500, some
before sign-in."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import Client, Seeded, sign_in

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def test_a_form_that_is_not_utf8_or_holds_nul_is_refused_even_at_sign_in(
    client: Client, users: dict[str, str]
) -> None:
    form = await client.get("/login")
    assert form.status == 200
    token = client.session.cookie_jar.filter_cookies(client.make_url("/"))["monitor_login_csrf"]
    body = f"csrf_token={token.value}&username=admin&password=\xff\xfe".encode("latin-1")
    refused = await client.post("/login", data=body, headers=FORM)
    assert refused.status == 400 and "not UTF-8" in await refused.text()
    nul = await client.post(
        "/login",
        data={"csrf_token": token.value, "username": "ad\x00min", "password": "x"},
    )
    assert nul.status == 400 and "NUL" in await nul.text()

    csrf = await sign_in(client, "comms")
    raw = f"csrf_token={csrf}&claim=the+mill&reason=".encode() + b"\xff\xfe"
    refused = await client.post("/rumours/claims", data=raw, headers=FORM)
    assert refused.status == 400 and "not UTF-8" in await refused.text()
    nul = await client.post(
        "/purpose", data={"csrf_token": csrf, "purpose": "checking", "details": "a\x00b"}
    )
    assert nul.status == 400


async def test_a_query_string_with_nul_is_refused(
    client: Client, users: dict[str, str], seeded: Seeded
) -> None:
    await sign_in(client, "admin")
    for path in ("/audit?actor=a%00", "/api/v1/rumours?status=w%00", "/trends?area=%00"):
        reply = await client.get(path)
        assert reply.status == 400, path
        assert "NUL" in await reply.text()
    assert (await client.get("/audit?actor=admin")).status == 200


async def test_json_that_cannot_be_stored_or_read_is_a_400_with_its_reason(
    client: Client, users: dict[str, str], seeded: Seeded
) -> None:
    csrf = await sign_in(client, "analyst")
    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    alert = seeded.alert_ids[0]
    bodies: dict[str, Any] = {
        '{"note": ' + "1" * 5000 + "}": "cannot be read",
        '{"note": 1e400}': "cannot be read",
        '{"note": NaN}': "cannot be read",
        '{"note": "checked \\ud800 twice"}': "lone surrogate",
        '{"note": "a\\u0000b"}': "NUL",
        '{"n\\u0000ote": "x"}': "NUL",
        '{"notes": [["deep", "a\\u0000b"]]}': "NUL",
    }
    for body, reason in bodies.items():
        reply = await client.post(f"/api/v1/alerts/{alert}/take", data=body, headers=headers)
        assert reply.status == 400, body[:40]
        assert reason in (await reply.json())["error"], body[:40]
    fine = await client.post(
        f"/api/v1/alerts/{alert}/take", json={"note": "(fictional) looking now"}, headers=headers
    )
    assert fine.status == 200, await fine.text()


async def test_a_csrf_header_that_is_not_ascii_is_a_refusal_not_a_crash(
    client: Client, users: dict[str, str]
) -> None:
    import asyncio

    await sign_in(client, "analyst")
    # A raw 0xff byte in the header (aiohttp's client would send UTF-8): the server reads it as
    # a surrogate, which the token comparison could not encode (UnicodeEncodeError, a 500).
    session = client.session.cookie_jar.filter_cookies(client.make_url("/"))["monitor_session"]
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(
        b"POST /api/v1/purpose HTTP/1.1\r\nHost: localhost\r\n"
        + f"Cookie: monitor_session={session.value}\r\n".encode()
        + b"X-CSRF-Token: tok\xffen\r\nContent-Type: application/json\r\n"
        + b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
    )
    await writer.drain()
    status = await reader.readline()
    writer.close()
    assert status.split()[1] == b"403", status
