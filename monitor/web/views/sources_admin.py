"""Admin: add, edit, pause and test sources in the browser.

Sources stay `[[sources]]` tables of the settings file, which remains the record of what is
configured: a change is parsed and checked by the collectors' own loader
(`monitor.collectors.config.parse_sources`) together with every other source before it is
written, is written with tomlkit so the rest of the file (comments, settings, order) is kept
and the diff is the change alone, and is audited with who made it and why. Secrets are only
ever named: a key ending in `_env` holds the name of an environment variable. Collectors read
the file when the service starts, so a change takes effect at the next restart; a test fetch
runs the source's own check now and stores nothing.
"""

from __future__ import annotations

import typing
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import tomlkit
from aiohttp import web
from tomlkit.items import AoT, Table

from monitor.collectors.commands import check_sources
from monitor.collectors.config import SourcesError, describe, parse_sources
from monitor.collectors.platform import SourceConfig
from monitor.collectors.registry import PLATFORMS, platform_of
from monitor.runtime.state import RUNTIME
from monitor.safeguards import audit
from monitor.web.files import replace_text
from monitor.web.params import json_object
from monitor.web.render import page
from monitor.web.state import WEB, require_session
from monitor.web.views.admin import source_rows

routes = web.RouteTableDef()
SOURCES_FILE = web.AppKey("sources_file", Path)
CHECK_TIMEOUT = 20.0
MAX_FILE = 1_000_000


class SourceEditError(ValueError):
    """A change that cannot be written; the message lists every reason."""


# --- the file -----------------------------------------------------------------------------------


def read_document(path: Path) -> tomlkit.TOMLDocument:
    if not path.is_file():
        return tomlkit.document()
    text = path.read_text(encoding="utf-8")
    if len(text) > MAX_FILE:
        raise SourceEditError(f"{path}: larger than {MAX_FILE} bytes")
    try:
        return tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise SourceEditError(f"{path}: not valid TOML: {exc}") from None


def _entries(doc: tomlkit.TOMLDocument) -> AoT | None:
    holder: Any = doc
    if "sources" not in doc and isinstance(doc.get("monitor"), Table):
        holder = doc["monitor"]
    found = holder.get("sources")
    return found if isinstance(found, AoT) else None


def plain(doc: tomlkit.TOMLDocument) -> list[dict[str, Any]]:
    entries = _entries(doc)
    return [] if entries is None else [dict(t.unwrap()) for t in entries]


def configured(path: Path) -> list[SourceConfig]:
    """The sources the file holds now, through the collectors' loader."""
    return parse_sources(plain(read_document(path)), str(path))


def write_entry(path: Path, name: str | None, entry: dict[str, Any]) -> str:
    """Replace the source called `name` (or add one) and write the file, after the whole new
    list passed the loader; returns 'added' or 'changed'."""
    doc = read_document(path)
    entries = _entries(doc)
    table = tomlkit.table()
    try:
        for key, value in entry.items():
            table.add(key, value)
    except (TypeError, ValueError) as exc:
        raise SourceEditError(f"not a value a settings file can hold: {exc}") from None
    done = "added"
    if entries is None:
        entries = tomlkit.aot()
        entries.append(table)
        doc.append("sources", entries)
    else:
        index = next((i for i, t in enumerate(entries) if t.get("name") == name), None)
        if name is not None and index is None:
            raise SourceEditError(f"no source named {name!r} in {path}")
        if index is None:
            entries.append(table)
        else:
            _update(entries[index], entry)
            done = "changed"
    try:
        parse_sources(plain(doc), str(path))
    except SourcesError as exc:
        raise SourceEditError(str(exc)) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_text(path, tomlkit.dumps(doc))
    return done


def _update(table: Table, entry: dict[str, Any]) -> None:
    """Change a table in place, keeping its comments and the order of the keys it keeps."""
    for key in [k for k in table if k not in entry]:
        del table[key]
    current = table.unwrap()  # tomlkit hands back true/false as plain bool, without .unwrap()
    for key, value in entry.items():
        if key not in current or current[key] != value:
            table[key] = value


# --- forms: one field per key of the platform's config ------------------------------------------


def form_fields(kind: str, current: SourceConfig | None) -> list[dict[str, Any]]:
    """The keys a source of this kind has, with their type, default and current value."""
    cls = PLATFORMS[kind].config
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        hint = hints[f.name]
        if typing.get_origin(hint) is tuple:
            shape = "list"
        elif hint is bool:
            shape = "bool"
        elif hint in (int, float):
            shape = "number"
        else:
            shape = "text"
        default = f.default if f.default is not MISSING else None
        value = getattr(current, f.name) if current is not None else default
        out.append(
            {
                "name": f.name,
                "shape": shape,
                "required": f.default is MISSING,
                "secret": f.name.endswith("_env"),
                "default": default,
                "value": "\n".join(value) if shape == "list" and value else value,
            }
        )
    return out


def entry_from(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """A `[[sources]]` table from submitted values: only keys that differ from their default,
    so the file says what was chosen and diffs cleanly. Types are the loader's to check."""
    if kind not in PLATFORMS:
        raise SourceEditError(f"kind: must be one of {', '.join(PLATFORMS)}")
    cls = PLATFORMS[kind].config
    hints = typing.get_type_hints(cls)
    entry: dict[str, Any] = {"kind": kind}
    for f in fields(cls):
        raw = values.get(f.name)
        hint = hints[f.name]
        value: Any
        if typing.get_origin(hint) is tuple:
            items = list(raw) if isinstance(raw, list | tuple) else str(raw or "").splitlines()
            value = [str(v).strip() for v in items if str(v).strip()]
        elif raw is None or raw == "":
            continue
        elif hint is bool:
            value = raw in (True, "1", "on", "true", "yes")
        elif hint in (int, float) and isinstance(raw, str):
            try:
                value = int(raw) if hint is int else float(raw)
            except ValueError:
                raise SourceEditError(f"{f.name}: {raw!r} is not a number") from None
        else:
            value = raw.strip() if isinstance(raw, str) else raw
        default = f.default if f.default is not MISSING else MISSING
        if default is not MISSING and _same(value, default):
            continue
        entry[f.name] = value
    known = {f.name for f in fields(cls)} | {"kind"}
    for key in values:  # the loader refuses other keys (an account list above all) and says why
        if key not in known:
            entry[str(key)] = values[key]
    return entry


def _same(value: Any, default: Any) -> bool:
    if isinstance(default, tuple):
        return list(default) == list(value) if isinstance(value, list | tuple) else False
    return bool(value == default)


def kind_of(config: SourceConfig) -> str:
    return platform_of(config).kind


def find(path: Path, name: str) -> SourceConfig:
    try:
        sources = configured(path)
    except (SourcesError, SourceEditError) as exc:
        raise web.HTTPConflict(text=f"the settings file's sources are not usable: {exc}") from None
    for config in sources:
        if config.name == name:
            return config
    raise web.HTTPNotFound(text=f"no source named {name!r}")


async def audited(request: web.Request, action: str, reason: str, detail: dict[str, Any]) -> None:
    session = require_session(request)
    async with request.app[RUNTIME].engine.begin() as conn:
        await audit.record(
            conn,
            session.user.username,
            action,
            reason or None,
            detail,
            request.app[WEB].clock(),
        )


async def save(request: web.Request, name: str | None, entry: dict[str, Any], reason: str) -> str:
    if len(reason.strip()) < 5:
        raise SourceEditError("say why (at least 5 characters): it is kept in the audit log")
    path = request.app[SOURCES_FILE]
    done = write_entry(path, name, entry)
    await audited(
        request,
        f"source.{done}",
        reason.strip()[:500],
        {"source": entry.get("name"), "file": str(path), "table": entry},
    )
    return done


async def test_fetch(config: SourceConfig) -> dict[str, Any]:
    ((_, result),) = await check_sources([config], CHECK_TIMEOUT)
    state = "ok" if result.ok else ("needs access" if result.needs_token else "failed")
    return {"ok": result.ok, "state": state, "detail": result.detail}


# --- pages --------------------------------------------------------------------------------------


def sources_file(request: web.Request) -> Path:
    return request.app[SOURCES_FILE]


def _edit_page(
    request: web.Request,
    kind: str,
    name: str | None,
    values: list[dict[str, Any]],
    problem: str | None = None,
    reason: str = "",
    status: int = 200,
) -> web.Response:
    return page(
        request,
        "admin_source.html",
        status=status,
        title=f"Source {name}" if name else f"New {kind} source",
        kind=kind,
        source_name=name,
        fields=values,
        problem=problem,
        reason=reason,
        file=str(sources_file(request)),
    )


@routes.get("/admin/sources/new", name="source_new")
async def source_new(request: web.Request) -> web.Response:
    kind = request.query.get("kind", "rss")
    if kind not in PLATFORMS:
        kind = "rss"
    return _edit_page(request, kind, None, form_fields(kind, None))


@routes.get("/admin/sources/{name}", name="source_edit")
async def source_edit(request: web.Request) -> web.Response:
    config = find(sources_file(request), request.match_info["name"])
    kind = kind_of(config)
    return _edit_page(request, kind, config.name, form_fields(kind, config))


def _submitted(kind: str, form: Any) -> dict[str, Any]:
    """A form's values; an unticked box is sent as nothing, and means false."""
    return {
        f["name"]: form.get(f["name"], "0" if f["shape"] == "bool" else None)
        for f in form_fields(kind, None)
    }


@routes.post("/admin/sources", name="source_save")
async def source_save(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    kind = str(form.get("kind", ""))
    original = str(form.get("original", "")) or None
    reason = str(form.get("reason", ""))
    if kind not in PLATFORMS:
        raise web.HTTPBadRequest(text=f"kind: must be one of {', '.join(PLATFORMS)}")
    values = _submitted(kind, form)
    try:
        entry = entry_from(kind, values)
        done = await save(request, original, entry, reason)
    except SourceEditError as exc:
        shown = form_fields(kind, None)
        for f in shown:
            f["value"] = values.get(f["name"])
            if f["shape"] == "bool":
                f["value"] = values.get(f["name"]) in ("1", "on")
        return _edit_page(request, kind, original, shown, str(exc), reason, status=400)
    raise web.HTTPSeeOther(f"/sources?done={done}&source={entry['name']}")


@routes.post("/admin/sources/{name}/pause", name="source_pause")
async def source_pause(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    name = request.match_info["name"]
    pause = form.get("enabled") != "1"
    try:
        await set_enabled(request, name, not pause, str(form.get("reason", "")))
    except SourceEditError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    raise web.HTTPSeeOther(f"/sources?done={'paused' if pause else 'resumed'}&source={name}")


async def set_enabled(request: web.Request, name: str, enabled: bool, reason: str) -> None:
    config = find(sources_file(request), name)
    kind = kind_of(config)
    values = {f["name"]: f["value"] for f in form_fields(kind, config)}
    values["enabled"] = enabled
    reason = reason.strip() or ("resumed" if enabled else "paused") + " from the Sources page"
    await save(request, name, entry_from(kind, values), reason)


@routes.get("/sources", name="sources")
async def sources_page(request: web.Request) -> web.Response:
    return await sources_listing(request)


@routes.post("/admin/sources/{name}/test", name="source_test")
async def source_test(request: web.Request) -> web.Response:
    config = find(sources_file(request), request.match_info["name"])
    result = await test_fetch(config)
    await audited(request, "source.test", "", {"source": config.name, **result})
    return await sources_listing(request, tested={"name": config.name, **result})


async def sources_listing(
    request: web.Request, tested: dict[str, Any] | None = None
) -> web.Response:
    path = sources_file(request)
    problem = None
    try:
        configs = configured(path)
    except (SourcesError, SourceEditError) as exc:
        configs, problem = [], str(exc)
    health = {r["name"]: r for r in await source_rows(request)}
    rows = []
    for c in configs:
        row: dict[str, Any] = {"snap": {}, "last_success_at": None, "error_count": 0}
        row.update(health.get(c.name, {}))
        row.update({"name": c.name, "kind": kind_of(c), "enabled": c.enabled, "reads": describe(c)})
        row["in_file"] = True
        rows.append(row)
    for name, other in health.items():  # stored state of sources not in the file
        if name not in {c.name for c in configs}:
            rows.append({**other, "enabled": True, "reads": "", "in_file": False})
    done = request.query.get("done", "")
    return page(
        request,
        "sources.html",
        title="Sources",
        sources=rows,
        file=str(path),
        file_problem=problem,
        kinds=list(PLATFORMS),
        tested=tested,
        done=done if done in ("added", "changed", "paused", "resumed") else "",
        done_source=request.query.get("source", "")[:100],
        collecting=request.app[RUNTIME].collectors is not None,
    )


# --- API ----------------------------------------------------------------------------------------


def _config_json(config: SourceConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": kind_of(config)}
    for f in fields(config):  # type: ignore[arg-type]
        value = getattr(config, f.name)
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


@routes.get("/api/v1/admin/sources", name="api_sources_config")
async def api_sources_config(request: web.Request) -> web.Response:
    path = sources_file(request)
    try:
        configs = configured(path)
    except (SourcesError, SourceEditError) as exc:
        return web.json_response({"file": str(path), "error": str(exc)}, status=409)
    return web.json_response({"file": str(path), "sources": [_config_json(c) for c in configs]})


@routes.post("/api/v1/admin/sources", name="api_source_save")
async def api_source_save(request: web.Request) -> web.Response:
    body = await json_object(request)
    source = body.get("source")
    if not isinstance(source, dict):
        return web.json_response({"error": "send {source: {kind, name, ...}, reason}"}, status=400)
    original = body.get("replace")
    try:
        entry = entry_from(str(source.get("kind", "")), source)
        done = await save(
            request, str(original) if original else None, entry, str(body.get("reason", ""))
        )
    except SourceEditError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(
        {"done": done, "source": entry}, status=201 if done == "added" else 200
    )


@routes.post("/api/v1/admin/sources/{name}/pause", name="api_source_pause")
async def api_source_pause(request: web.Request) -> web.Response:
    body = await json_object(request)
    enabled = body.get("enabled") is True
    try:
        await set_enabled(request, request.match_info["name"], enabled, str(body.get("reason", "")))
    except SourceEditError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response({"name": request.match_info["name"], "enabled": enabled})


@routes.post("/api/v1/admin/sources/{name}/test", name="api_source_test")
async def api_source_test(request: web.Request) -> web.Response:
    config = find(sources_file(request), request.match_info["name"])
    result = await test_fetch(config)
    await audited(request, "source.test", "", {"source": config.name, **result})
    return web.json_response({"name": config.name, **result})
