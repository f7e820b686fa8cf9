"""The aiohttp application: routes, static files and security headers over a runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from aiohttp import web

from monitor.app import RUNTIME, Runtime, open_runtime
from monitor.config import Settings
from monitor.web.views import routes

STATIC = Path(__file__).parent / "static"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Post text is untrusted: besides escaping, the policy stops any injected script from running.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


def create_app(settings: Settings, runtime: Runtime | None = None) -> web.Application:
    """The web app. Without a runtime, it opens one at start-up and closes it at clean-up."""
    app = web.Application(middlewares=[security_headers])
    if runtime is not None:
        app[RUNTIME] = runtime
    else:

        async def runtime_ctx(app: web.Application) -> AsyncIterator[None]:
            async with open_runtime(settings) as rt:
                app[RUNTIME] = rt
                yield

        app.cleanup_ctx.append(runtime_ctx)
    app.add_routes(routes)
    app.router.add_static("/static/", STATIC)
    return app
