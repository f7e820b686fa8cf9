"""Jinja2 environment for pages. Autoescape is on for every template: post text is untrusted."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"
LONDON = ZoneInfo("Europe/London")


def london_time(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(LONDON).strftime("%a %d %b %H:%M")


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["london"] = london_time
    return env


def render(env: Environment, name: str, status: int = 200, **context: Any) -> web.Response:
    html = env.get_template(name).render(**context)
    return web.Response(text=html, content_type="text/html", charset="utf-8", status=status)
