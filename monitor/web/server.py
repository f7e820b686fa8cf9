"""The aiohttp application: routes, static files, the guard and security headers over a runtime."""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path

from aiohttp import web

from monitor.collectors.config import config_path
from monitor.config import DEFAULT_CONFIG_FILE, Settings, push_secret
from monitor.runtime.app import open_runtime
from monitor.runtime.state import RUNTIME, Runtime
from monitor.types import utcnow
from monitor.web import sessions
from monitor.web.accounts import Passwords
from monitor.web.demo_accounts import banner, ensure_demo_accounts
from monitor.web.middleware import guard, security_headers, well_formed
from monitor.web.ratelimit import LoginLimiter
from monitor.web.render import make_environment
from monitor.web.state import WEB, WebState
from monitor.web.views import all_routes
from monitor.web.views.events import end_streams
from monitor.web.views.ingest import RECENT_IDS
from monitor.web.views.sources_admin import SOURCES_FILE

STATIC = Path(__file__).parent / "static"


def create_app(
    settings: Settings,
    runtime: Runtime | None = None,
    *,
    passwords: Passwords | None = None,
    clock: Callable[[], datetime] | None = None,
    sources_file: Path | None = None,
) -> web.Application:
    """The web app. Without a runtime, it opens one at start-up and closes it at clean-up.

    `sources_file` is the settings file whose `[[sources]]` the admin pages edit (default: the
    one `monitor` reads, $MONITOR_CONFIG or ./monitor.toml). `passwords` and `clock` are for tests
    (a cheap hasher, a clock they move). A push secret
    that is missing, malformed or weak stops the app here (ConfigError), at start-up, rather
    than answering every push with an error.
    """
    push_secret(settings)
    app = web.Application(
        middlewares=[security_headers, well_formed, guard], client_max_size=256 * 1024
    )
    app[WEB] = WebState(
        settings=settings,
        passwords=passwords or Passwords(),
        limiter=LoginLimiter(
            free_failures=settings.web_login_max_failures,
            window_seconds=settings.web_login_window_seconds,
        ),
        templates=make_environment(),
        clock=clock or utcnow,
    )
    app[RECENT_IDS] = OrderedDict()
    app[SOURCES_FILE] = sources_file or config_path(None) or Path(DEFAULT_CONFIG_FILE)
    if runtime is not None:
        app[RUNTIME] = runtime
    else:

        async def runtime_ctx(app: web.Application) -> AsyncIterator[None]:
            async with open_runtime(settings) as rt:
                app[RUNTIME] = rt
                yield

        app.cleanup_ctx.append(runtime_ctx)
    app.on_startup.append(_start)
    app.on_shutdown.append(end_streams)
    app.on_response_prepare.append(_plain_server_header)
    for table in all_routes():
        app.add_routes(table)
    app.router.add_static("/static/", STATIC, name="static")
    return app


async def _plain_server_header(request: web.Request, response: web.StreamResponse) -> None:
    """aiohttp announces "Python/3.x aiohttp/3.x" in every Server header, which tells an attacker
    which known bugs to try; it only sets the header when none is there."""
    response.headers["Server"] = "monitor"


async def _start(app: web.Application) -> None:
    state = app[WEB]
    now = state.clock()
    async with app[RUNTIME].engine.begin() as conn:
        await sessions.purge_expired(conn, now)
        made = (
            await ensure_demo_accounts(conn, state.passwords, now)
            if state.settings.demo_accounts
            else []
        )
    if made:
        url = f"http://{state.settings.web_host}:{state.settings.web_port}/"
        print(banner(made, url), file=sys.stdout, flush=True)
