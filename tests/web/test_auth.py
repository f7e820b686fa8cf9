"""Signing in and staying safe: argon2 accounts, sessions that end, CSRF on every POST,
sign-in rate limiting, security headers and no open redirects."""

from __future__ import annotations

from argon2 import PasswordHasher

from monitor.config import Settings
from monitor.runtime.state import Runtime
from monitor.web import accounts, sessions
from tests.web.conftest import PASSWORD, Client, Clock, Seeded, csrf_of, sign_in


async def test_sign_in_with_the_right_password_and_out_again(
    client: Client, users: dict[str, str]
) -> None:
    first = await client.get("/", allow_redirects=False)
    assert first.status == 303 and first.headers["Location"].startswith("/login")
    csrf = await sign_in(client, "analyst")
    home = await client.get("/")
    assert "Signed in as <strong>analyst</strong>" in await home.text()
    out = await client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert out.status == 303
    again = await client.get("/", allow_redirects=False)
    assert again.status == 303, "the session must end on sign-out"


async def test_a_wrong_password_or_unknown_name_gets_the_same_answer(
    client: Client, users: dict[str, str]
) -> None:
    answers = []
    for name, password in (("analyst", "wrong password!!"), ("nobody-here", PASSWORD)):
        form = await client.get("/login")
        token = csrf_of(await form.text())
        r = await client.post(
            "/login", data={"username": name, "password": password, "csrf_token": token}
        )
        assert r.status == 401
        answers.append("do not match an enabled account" in await r.text())
    assert answers == [True, True]
    assert (await client.get("/", allow_redirects=False)).status == 303


async def test_passwords_are_stored_as_argon2id_hashes(runtime: Runtime) -> None:
    real = accounts.Passwords(PasswordHasher())
    async with runtime.engine.begin() as conn:
        await accounts.add_user(conn, real, "clerk", "analyst", PASSWORD, Clock.now_utc())
        row = (await conn.exec_driver_sql("select password_hash from users")).scalar_one()
        assert row.startswith("$argon2id$") and PASSWORD not in row
        assert await accounts.authenticate(conn, real, "clerk", PASSWORD) is not None
        assert await accounts.authenticate(conn, real, "clerk", PASSWORD + "x") is None


async def test_repeated_failures_are_refused_for_a_while(
    client: Client, users: dict[str, str], settings: Settings, clock: Clock
) -> None:
    limit = settings.web_login_max_failures
    form = await client.get("/login")
    token = csrf_of(await form.text())
    for _ in range(limit):
        r = await client.post(
            "/login",
            data={"username": "comms", "password": "guess-guess-guess", "csrf_token": token},
        )
        assert r.status == 401
    blocked = await client.post(
        "/login", data={"username": "comms", "password": PASSWORD, "csrf_token": token}
    )
    assert blocked.status == 429 and int(blocked.headers["Retry-After"]) > 0
    clock.advance(seconds=settings.web_login_window_seconds + 1)
    assert (await sign_in(client, "comms")) != ""


async def test_every_post_needs_the_csrf_token(
    client: Client, users: dict[str, str], seeded: Seeded
) -> None:
    no_token = await client.post("/login", data={"username": "analyst", "password": PASSWORD})
    assert no_token.status == 403
    csrf = await sign_in(client, "analyst")
    alert = seeded.alert_ids[0]
    forged = await client.post(f"/alerts/{alert}/take", data={"csrf_token": "x" + csrf})
    assert forged.status == 403
    api = await client.post(f"/api/v1/alerts/{alert}/take", json={})
    assert api.status == 403
    ok = await client.post(f"/api/v1/alerts/{alert}/take", json={}, headers={"X-CSRF-Token": csrf})
    assert ok.status == 200 and (await ok.json())["code"] == "taken"


async def test_sessions_end_when_idle_and_when_the_account_is_disabled(
    client: Client, users: dict[str, str], settings: Settings, clock: Clock, runtime: Runtime
) -> None:
    await sign_in(client, "analyst")
    clock.advance(minutes=settings.web_session_idle_minutes + 1)
    assert (await client.get("/", allow_redirects=False)).status == 303
    await sign_in(client, "analyst")
    async with runtime.engine.begin() as conn:
        await accounts.set_disabled(conn, "analyst", True)
    assert (await client.get("/", allow_redirects=False)).status == 303


async def test_the_store_keeps_only_a_hash_of_the_session_token(
    client: Client, users: dict[str, str], runtime: Runtime
) -> None:
    await sign_in(client, "analyst")
    token = client.session.cookie_jar.filter_cookies(client.make_url("/"))["monitor_session"].value
    async with runtime.engine.connect() as conn:
        ids = (await conn.exec_driver_sql("select id from web_sessions")).scalars().all()
    assert ids == [sessions.token_id(token)] and token not in ids


async def test_cookies_and_security_headers(client: Client, users: dict[str, str]) -> None:
    form = await client.get("/login")
    csp = form.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "style-src 'self'" in csp
    assert form.headers["X-Frame-Options"] == "DENY"
    assert form.headers["X-Content-Type-Options"] == "nosniff"
    token = csrf_of(await form.text())
    done = await client.post(
        "/login",
        data={"username": "analyst", "password": PASSWORD, "csrf_token": token, "next": "/"},
        allow_redirects=False,
    )
    cookie = done.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert done.headers["Cache-Control"] == "no-store"


async def test_sign_in_never_redirects_off_site(client: Client, users: dict[str, str]) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        client.session.cookie_jar.clear()
        form = await client.get("/login")
        token = csrf_of(await form.text())
        r = await client.post(
            "/login",
            data={"username": "analyst", "password": PASSWORD, "csrf_token": token, "next": target},
            allow_redirects=False,
        )
        assert r.status == 303 and r.headers["Location"] == "/"
