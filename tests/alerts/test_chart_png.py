"""The digest e-mail carries its chart as an inline PNG (multipart/related, by Content-ID):
mail clients show it where they would block SVG or data: URIs."""

from __future__ import annotations

from email.message import Message as MailMessage
from pathlib import Path

from monitor.alerts import briefing, chart_png
from monitor.alerts.notifiers.email import EmailNotifier
from monitor.alerts.render import make_environment, render_digest

from .conftest import NOW, SmtpHandler, free_port
from .test_briefing import incident, view

ROOT = Path(__file__).resolve().parents[2]
GRID = {
    "buckets": ["Mon 02", "Tue 03", "Wed 04"],
    "rows": [
        {
            "area": "Little Horton",
            "total": 9,
            "peak": "critical",
            "cells": [
                {"count": 2, "level": "elevated"},
                {"count": 0, "level": ""},
                {"count": 7, "level": "critical"},
            ],
        },
        {
            "area": "Toller",
            "total": 5,
            "peak": "high",
            "cells": [
                {"count": 1, "level": ""},
                {"count": 4, "level": "high"},
                {"count": 0, "level": ""},
            ],
        },
    ],
    "legend": ["normal", "elevated", "high", "critical"],
}


def test_the_chart_sums_places_per_slot_and_keeps_the_highest_level() -> None:
    assert chart_png.series(GRID) == [
        ("Mon 02", 3, "elevated"),
        ("Tue 03", 4, "high"),
        ("Wed 04", 7, "critical"),
    ]
    png = chart_png.levels_png(GRID)
    assert png is not None and png.startswith(b"\x89PNG\r\n\x1a\n")
    assert chart_png.levels_png(GRID) == png  # the same digest, the same bytes
    assert chart_png.levels_png({"buckets": ["Mon 02"], "rows": []}) is None
    assert chart_png.levels_png(None) is None


def _walk(mail: MailMessage) -> list[MailMessage]:
    return list(mail.walk())


async def test_the_digest_email_shows_its_chart_inline() -> None:
    from aiosmtpd.controller import Controller

    inc = incident()
    inc["sentences"] = briefing.incident_sentences(inc, "2026-11-05T07:00:00+00:00")
    message = render_digest(
        view(levels=GRID, incidents=[inc]), make_environment(ROOT / "alerts" / "templates")
    )
    assert 'src="cid:levels-chart@monitor"' in message.html
    handler = SmtpHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        notifier = EmailNotifier(
            host="127.0.0.1", sender="monitor@council.example", port=port, tls="none"
        )
        outcome = await notifier.send(message, "liaison@police.example", "k1", NOW)
        assert outcome.ok, outcome.error
    finally:
        controller.stop()
    (mail,) = handler.messages
    parts = _walk(mail)
    related = [p for p in parts if p.get_content_type() == "multipart/related"]
    images = [p for p in parts if p.get_content_type() == "image/png"]
    assert related and len(images) == 1
    assert images[0]["Content-ID"] == "<levels-chart@monitor>"
    assert images[0].get_payload(decode=True).startswith(b"\x89PNG")
    html = next(p for p in parts if p.get_content_type() == "text/html")
    assert "cid:levels-chart@monitor" in html.get_payload(decode=True).decode()


def test_no_chart_is_referenced_when_nothing_was_flagged() -> None:
    empty = {**GRID, "rows": [{**GRID["rows"][0], "total": 0, "cells": []}]}
    message = render_digest(view(levels=empty), make_environment(ROOT / "alerts" / "templates"))
    assert "cid:levels-chart" not in message.html
