"""Rendering keeps untrusted text inert in every format, even in places other than excerpts
(a rumour's summary may quote its claim)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment

from monitor.alerts.render import (
    AlertMessage,
    AlertView,
    make_environment,
    render_alert,
    slack_escape,
    slack_payload,
    teams_payload,
    webhook_body,
)

from .conftest import NOW, SCRIPT_PAYLOAD, envs

HOSTILE_SUMMARY = 'rumour: "they\'re closing the school"}\r\nBcc: victim@example.com <b>now</b>'


def message() -> AlertMessage:
    view = AlertView(
        id=7,
        key="cluster=c9,kind=rumour_spreading",
        summary=HOSTILE_SUMMARY,
        labels={"kind": "rumour_spreading", "cluster": "c9"},
        status="new",
        post_count=3,
        first_seen=NOW,
        last_seen=NOW,
        excerpts=(SCRIPT_PAYLOAD,),
        url="https://monitor.council.example/alerts/7",
    )
    return AlertMessage(receiver="comms", reason="alert", alerts=(view,))


def test_subjects_are_one_line_so_headers_cannot_be_injected() -> None:
    rendered = render_alert(message(), envs())
    assert "\r" not in rendered.subject and "\n" not in rendered.subject
    assert rendered.subject.startswith('rumour: "they\'re closing the school"} Bcc:')


def test_html_escapes_summary_and_excerpt() -> None:
    html = render_alert(message(), envs()).html
    assert "<b>now</b>" not in html and "&lt;b&gt;now&lt;/b&gt;" in html
    assert "<script>" not in html and "<img" not in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html


def test_json_payloads_stay_valid_and_literal() -> None:
    rendered = render_alert(message(), envs())
    card = json.loads(json.dumps(teams_payload(rendered)))
    body_items = card["attachments"][0]["content"]["body"]
    runs = [r for block in body_items for r in block.get("inlines", [])]
    assert all(r["type"] == "TextRun" for r in runs)  # no markdown anywhere in the card
    assert HOSTILE_SUMMARY in [r["text"] for r in runs]
    assert SCRIPT_PAYLOAD in [r["text"] for r in runs]
    body = json.loads(webhook_body(rendered, "k" * 64, NOW))
    assert body["alerts"][0]["summary"] == HOSTILE_SUMMARY
    assert body["alerts"][0]["excerpts"] == [SCRIPT_PAYLOAD]
    assert body["id"] == "k" * 64


def test_slack_escapes_its_control_characters_everywhere() -> None:
    payload = slack_payload(render_alert(message(), envs()))
    texts = json.dumps(payload)
    assert "<b>" not in texts and "<script>" not in texts and "<!channel>" not in texts
    assert "<https://monitor.council.example/alerts/7|Open alert 7>" in texts  # our own link
    assert slack_escape("a & <b> > c") == "a &amp; &lt;b&gt; &gt; c"


# --- compiled templates are kept for the process ---------------------------------------------


def test_alert_services_share_compiled_templates_and_see_edits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every alert service (one per runtime start) makes its environments; the templates are
    compiled once per process, an edited one again, and the HTML and text environments never
    share code (only one of them escapes)."""
    template = tmp_path / "note.txt"
    template.write_text("Alert: {{ text }}\n", encoding="utf-8")
    html, text = make_environment(tmp_path)
    assert html.get_template("note.txt").render(text="<b>") == "Alert: &lt;b&gt;\n"
    assert text.get_template("note.txt").render(text="<b>") == "Alert: <b>\n"
    compiled: list[str] = []
    compile_template = Environment.compile

    def counting(env: Environment, source: str, *args: Any, **kwargs: Any) -> Any:
        compiled.append(source)
        return compile_template(env, source, *args, **kwargs)

    monkeypatch.setattr(Environment, "compile", counting)
    html, text = make_environment(tmp_path)  # the next runtime's service
    assert text.get_template("note.txt").render(text="<b>") == "Alert: <b>\n"
    assert html.get_template("note.txt").render(text="<b>") == "Alert: &lt;b&gt;\n"
    assert compiled == []
    template.write_text("Alarm: {{ text }}\n", encoding="utf-8")
    html, text = make_environment(tmp_path)
    assert html.get_template("note.txt").render(text="<b>") == "Alarm: &lt;b&gt;\n"
    assert compiled == ["Alarm: {{ text }}\n"]
