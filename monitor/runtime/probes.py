"""`/healthz`, `/readyz` and `/metrics` for every role.

Processes that serve the web UI (roles `all` and `web`) answer them on `web_port` beside the
pages (`monitor/web/views/system.py` calls the handlers here). Scaled out, the collector,
worker and scheduler roles serve no pages, so each serves these three alone on its own port
setting (`collector_port`, `worker_port`, `scheduler_port`, on `health_host`): liveness and
readiness for its supervisor and load balancer, metrics for Prometheus, in every role.
"""

from __future__ import annotations

import errno
import os

from aiohttp import web

from monitor.config import ConfigError, Settings
from monitor.runtime import health
from monitor.runtime.metrics import exposition, refresh_store_gauges
from monitor.runtime.state import RUNTIME, Runtime

# The setting naming the port of each role that serves no web UI.
PORT_SETTINGS = {
    "collector": "collector_port",
    "worker": "worker_port",
    "scheduler": "scheduler_port",
}


async def healthz(rt: Runtime) -> web.Response:
    """Liveness: the process answers and its pipeline has not failed for good (503: restart
    it). Whether it can do its work now is `/readyz`."""
    ok, body = health.alive(rt.pipeline)
    body.update(status="ok" if ok else "failed", role=rt.role, classifier=rt.classifier.name)
    return web.json_response(body, status=200 if ok else 503)


async def readyz(rt: Runtime) -> web.Response:
    """Readiness: the store takes a write, every stage this role runs is alive, the worker
    keeps up; 503 with the reasons when not."""
    stages: dict[str, health.ContainedStage] = dict(rt.stages)
    dispatcher = rt.alerts.dispatcher if rt.alerts is not None else None
    if dispatcher is not None:  # while this process leads and delivers
        stages["alert dispatch"] = dispatcher
    result = await health.readiness(
        rt.engine,
        rt.pipeline,
        rt.settings.ready_max_batch_age_s,
        rt.collectors,
        rt.leadership,
        stages,
    )
    body = {**result.body(), "role": rt.role}
    return web.json_response(body, status=200 if result.ready else 503)


async def metrics(rt: Runtime) -> web.Response:
    """Prometheus exposition: this process's counters, the store-wide gauges and the queue's
    depth read from the queue itself."""
    await refresh_store_gauges(rt.engine, rt.pipeline)
    return web.Response(body=exposition(rt.metrics), content_type="text/plain", charset="utf-8")


def create_probe_app(rt: Runtime) -> web.Application:
    """The three endpoints alone: for a role that serves no web UI (nothing else answers)."""
    app = web.Application()
    app[RUNTIME] = rt

    async def on_healthz(request: web.Request) -> web.Response:
        return await healthz(request.app[RUNTIME])

    async def on_readyz(request: web.Request) -> web.Response:
        return await readyz(request.app[RUNTIME])

    async def on_metrics(request: web.Request) -> web.Response:
        return await metrics(request.app[RUNTIME])

    app.router.add_get("/healthz", on_healthz)
    app.router.add_get("/readyz", on_readyz)
    app.router.add_get("/metrics", on_metrics)
    return app


def probe_port(settings: Settings, role: str) -> int:
    """The port this role serves the probes alone on; 0: none (the web roles, or switched off)."""
    name = PORT_SETTINGS.get(role)
    return 0 if name is None else int(getattr(settings, name))


async def serve_probes(rt: Runtime) -> web.AppRunner | None:
    """Serve `/healthz`, `/readyz` and `/metrics` on this role's port; None where the role has
    none (its port setting is 0, or it serves them with the web UI)."""
    port = probe_port(rt.settings, rt.role)
    if not port:
        return None
    runner = web.AppRunner(create_probe_app(rt), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, rt.settings.health_host, port).start()
    except OSError as exc:  # the port is taken, or the address is not this host's
        await runner.cleanup()
        raise ConfigError(
            cannot_listen(rt.settings.health_host, port, PORT_SETTINGS[rt.role], exc, "health_host")
        ) from exc
    except BaseException:
        await runner.cleanup()
        raise
    return runner


def cannot_listen(host: str, port: int, setting: str, exc: OSError, host_setting: str) -> str:
    """One line for a port that cannot be listened on, naming the settings that chose it."""
    # asyncio's own strerror repeats the address: the system's words for the errno are enough.
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    if exc.errno == errno.EADDRINUSE:
        hint = f"another process is using it: stop it, or set {setting} (MONITOR_{setting.upper()})"
    else:
        hint = (
            f"check that {host_setting} (MONITOR_{host_setting.upper()}) is an address of this host"
        )
    return f"cannot listen on {host}:{port} ({setting}): {reason.lower()}; {hint}"
